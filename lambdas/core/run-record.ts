/** What a finished run records in ops.* and tells the alert topic. */
import { executionConsoleUrl, parseArn, s3ConsoleUrl, type ConsoleLocation } from './console-links';
import type { DatasetQuality, PipelineState } from './contracts';
import { layout } from './layout';
import { isDataset, type BatchTable, type Dataset } from './model';
import { formatRunSummary } from './summary';
import { QUALITY_GATE_ERROR } from '../steps';

/** The table whose rows count as "loaded" for a dataset. */
export const TABLE_OF_DATASET: Record<Dataset, BatchTable> = {
  products: 'dim_product',
  orders: 'fact_order',
  order_items: 'fact_order_item',
};

export interface DatasetLoad extends DatasetQuality {
  rowsLoaded: number;
}

export function datasetLoads(state: PipelineState): DatasetLoad[] {
  const loaded = new Map((state.loads ?? []).map((l) => [l.table, l.rowsLoaded]));
  // A dataset a declaration adds counts the curated table validate wrote from it.
  const tableOf = (dataset: string) =>
    isDataset(dataset)
      ? TABLE_OF_DATASET[dataset]
      : state.validation?.tables.find((t) => t.from === dataset)?.table;
  return (state.validation?.datasets ?? []).map((quality) => ({
    ...quality,
    rowsLoaded: loaded.get(tableOf(quality.dataset) ?? '') ?? 0,
  }));
}

/** The Step Functions context of the execution (`$$.Execution`): Id is its ARN, absent on a laptop. */
export interface ExecutionContext {
  Id?: string;
  Name?: string;
  StartTime?: string;
}

/** Where the run happened: what a notification needs to name and link it. */
export interface RunWhere {
  /** The lake bucket (quality report, quarantine). */
  bucket: string;
  /** The config environment (dev, staging, prod), or `local`. */
  environment: string;
  execution?: ExecutionContext;
  /** When the notification is written: the run's duration ends here. */
  now: Date;
}

/** The runbooks (docs/runbooks/ of the repository) a failure notification points to. */
export const RUNBOOKS = {
  failedRun: 'docs/runbooks/failed-run.md',
  qualityFailure: 'docs/runbooks/quality-failure.md',
} as const;

/** SNS: a subject of at most 100 printable ASCII characters, no line breaks. */
export const SUBJECT_MAX_CHARS = 100;
/** SNS: a message of at most 256 KB (UTF-8); a little is kept for the cut note. */
export const MESSAGE_MAX_BYTES = 256 * 1024;

/** Results by ResultPath, for the states PipelineState does not type (publish, record). */
export type StateResults = PipelineState & {
  publish?: unknown;
  record?: { finishedAt?: string; reportKey?: string };
};

/**
 * How a batch run failed, from its execution's history (lambdas/handlers/run-failed.ts): the state it
 * stopped at and the execution's error and cause. A failed quality gate is the QualityGateFailed state
 * with QUALITY_GATE_ERROR and the gate's reason as its cause.
 */
export interface RunFailure {
  state: string;
  error: string;
  cause?: string;
}

/** Lambda failures arrive as a JSON Cause with errorMessage; other causes are plain text. */
export function causeMessage(cause: string): string {
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string };
    return parsed.errorMessage ?? cause;
  } catch {
    return cause;
  }
}

/** SNS subject rules: printable ASCII only, one line, at most 100 characters. */
export function snsSubject(text: string): string {
  const ascii = text
    .replace(/\s+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();
  return ascii.length <= SUBJECT_MAX_CHARS ? ascii : `${ascii.slice(0, SUBJECT_MAX_CHARS - 3)}...`;
}

/** A message cut to SNS's size limit, saying so. */
export function snsMessage(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= MESSAGE_MAX_BYTES) return text;
  const note = `\n… cut at ${MESSAGE_MAX_BYTES} bytes (SNS limit); the quality report has everything.`;
  // toString drops a multi-byte character cut in half as U+FFFD, which stays within the byte budget.
  const kept = bytes.subarray(0, MESSAGE_MAX_BYTES - Buffer.byteLength(note) - 3).toString('utf8');
  return `${kept}${note}`;
}

const count = (n: number): string => n.toLocaleString('en-US');

/** "s3://bucket/key" and, on AWS, its console link on the next line. */
function s3Lines(label: string, bucket: string, key: string, at: ConsoleLocation | undefined): string[] {
  const url = at && s3ConsoleUrl(at, bucket, key);
  const pad = ' '.repeat(label.length);
  return [`${label}s3://${bucket}/${key}`, ...(url ? [`${pad}${url}`] : [])];
}

/**
 * The run's notification: subject and plain-text message (e-mail readers, SNS limits) with what happened
 * (rows per table; rows in, loaded, quarantined per dataset; failed checks with an example row), the ids
 * and links to find the run (run id, business date, execution name, ARN and console link, quality report
 * and quarantine locations, region) and, given the failure, the failed state, the error and what to do next.
 */
export function describeRun(
  state: StateResults,
  where: RunWhere,
  failure?: RunFailure,
): { status: 'SUCCEEDED' | 'FAILED'; subject: string; summary: string } {
  const { run, validation } = state;
  const failed = failure !== undefined;
  const gate = failure?.error === QUALITY_GATE_ERROR;
  const status = failed ? 'FAILED' : 'SUCCEEDED';
  const runId = run?.runId ?? '(not resolved)';
  const date = run?.businessDate ?? '(not resolved)';
  const arn = where.execution?.Id ? parseArn(where.execution.Id) : undefined;
  const at = arn && { partition: arn.partition, region: arn.region };
  const datasets = datasetLoads(state);
  const loaded = (state.loads ?? []).reduce((sum, l) => sum + l.rowsLoaded, 0);
  const quarantined = datasets.reduce((sum, d) => sum + d.rowsQuarantined, 0);

  const subject = snsSubject(
    failed
      ? `cartflow ${where.environment} FAILED ${date} at ${failure.state}${gate ? '' : `: ${failure.error}`}`
      : `cartflow ${where.environment} SUCCEEDED ${date}: ${count(loaded)} rows loaded, ${count(quarantined)} quarantined`,
  );

  const lines: string[] = [];
  if (failed) {
    lines.push('WHAT FAILED', `  state:    ${failure.state}`);
    if (gate) {
      lines.push(`  quality gate: ${validation?.failureReason ?? failure.cause ?? 'failed'}`);
    } else {
      lines.push(`  error:    ${failure.error}`);
      if (failure.cause) lines.push(`  message:  ${causeMessage(failure.cause).replace(/\s*\n\s*/g, ' ')}`);
    }
    lines.push('', 'WHAT TO DO NEXT', ...nextSteps(gate, state, where, date), '');
  }
  const started = run?.startedAt ? Date.parse(run.startedAt) : Number.NaN;
  const finished = state.record?.finishedAt ? Date.parse(state.record.finishedAt) : where.now.getTime();
  lines.push(
    formatRunSummary({
      runId,
      businessDate: date,
      status,
      tables: (state.loads ?? []).map((l) => ({ table: l.table, rows: l.rowsLoaded })),
      datasets,
      checks: validation?.checks ?? [],
      wallMs: Number.isNaN(started) ? 0 : Math.max(0, finished - started),
    }),
  );

  lines.push('', 'FIND THE RUN', `  run id:         ${runId}`, `  business date:  ${date}`);
  lines.push(`  environment:    ${where.environment}`);
  if (arn) lines.push(`  region:         ${arn.region}`);
  if (where.execution?.Name) lines.push(`  execution:      ${where.execution.Name}`);
  if (where.execution?.Id) lines.push(`  execution ARN:  ${where.execution.Id}`);
  const consoleUrl = where.execution?.Id && executionConsoleUrl(where.execution.Id);
  if (consoleUrl) lines.push(`  console:        ${consoleUrl}`);
  if (run?.startedAt) lines.push(`  started:        ${run.startedAt}`);
  if (validation?.reportKey) {
    lines.push(...s3Lines('  quality report: ', where.bucket, validation.reportKey, at));
  }
  if (state.record?.reportKey) {
    lines.push(...s3Lines('  run report:     ', where.bucket, state.record.reportKey, at));
  }
  for (const d of datasets.filter((d) => d.rowsQuarantined > 0)) {
    lines.push(...s3Lines('  quarantine:     ', where.bucket, quarantinePrefix(d.dataset, date), at));
  }
  return { status, subject, summary: snsMessage(lines.join('\n')) };
}

/** A dataset's quarantine folder for the date (rejected rows and unparseable records). */
function quarantinePrefix(dataset: string, date: string): string {
  const key = layout.quarantine(dataset, date);
  return key.slice(0, key.lastIndexOf('/') + 1);
}

function nextSteps(gate: boolean, state: StateResults, where: RunWhere, date: string): string[] {
  const cli = where.environment === 'local' ? 'cartflow' : `cartflow --env ${where.environment}`;
  if (gate) {
    return [
      '  1. Look at the failed checks below and the quarantined rows: bad source data, or a rule to change?',
      '  2. Fix the source data (or the rule), then run the date again; a rerun replaces the date:',
      `     ${cli} run --date ${date}`,
      `  Runbook: ${RUNBOOKS.qualityFailure} (in the cartflow repository)`,
    ];
  }
  // The execution's name is the run id (ResolveRun), and it is known even when the run failed before
  // ResolveRun: a redrive of it works however the run was started (schedule, run, backfill).
  const execution = where.execution?.Name ?? state.run?.runId;
  return [
    "  1. Read the error above and the failed step's logs (the console link below shows both).",
    '  2. Once the cause is fixed, resume the run from the failed step (finished steps are not repeated):',
    execution ? `     ${cli} retry ${execution}` : `     ${cli} run --date <the business date>`,
    `  Runbook: ${RUNBOOKS.failedRun} (in the cartflow repository)`,
  ];
}
