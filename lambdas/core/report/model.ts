/**
 * What a run report shows (core/report/run-report.ts renders it): plain data, so a report can be rendered
 * from a fixture file in a test and from the lake and the warehouse in a run (adapters/run-report.ts).
 */
import type { CheckResult } from '../contracts';
import type { DatasetLoad } from '../run-record';

export type RunStatus = 'SUCCEEDED' | 'FAILED' | 'RUNNING';

/**
 * How a step's attempt ended, as the execution history tells it (local/step-functions.ts,
 * GetExecutionHistory); `replayed`: a redrive returned the result an earlier attempt recorded.
 */
export type StepStatus = 'succeeded' | 'failed' | 'retried' | 'caught' | 'replayed';

export interface TimelineStep {
  /** The state's name in the state machine (ExtractOrders, LoadTable, …). */
  state: string;
  status: StepStatus;
  /** ISO instant the attempt started; absent when only the run's state is known (see Timeline.source). */
  startedAt?: string;
  /** Wall time of the attempt; absent with startedAt. */
  ms?: number;
  /** The error of a failed, retried or caught attempt. */
  error?: string;
}

export interface Timeline {
  /**
   * `execution`: every attempt with its start and duration, from the execution's event log.
   * `state`: only the steps the run's state holds a result of, without times (what a step inside the run
   * can see); `cartflow report <run>` fills in the times from the execution history.
   */
  source: 'execution' | 'state';
  steps: TimelineStep[];
}

/** One box of the lineage graph: a source table or file, a lake key or prefix, or a warehouse table. */
export interface LineageNode {
  id: string;
  /** Index into Lineage.layers. */
  layer: number;
  label: string;
  /** Rows, or a note such as "quarantined 3". */
  detail?: string;
  /** False for a node the run did not get to (drawn dashed). */
  reached: boolean;
}

export interface Lineage {
  /** Column titles, left to right (source, raw/, staged/, curated/, warehouse). */
  layers: string[];
  nodes: LineageNode[];
  edges: { from: string; to: string }[];
}

/** Rows of the quarantine as the lake keeps them: every reason a row earned, and the row itself (JSON). */
export interface QuarantineSample {
  dataset: string;
  key: string;
  /** Rows in the object (all of them, not only the sampled ones), when the object was read. */
  total?: number;
  rows: { reasons: string[]; row: string }[];
  /** Why no rows are shown (object too large to sample, absent, …). */
  note?: string;
}

export interface EventMinute {
  /** YYYY-MM-DDTHH:MM, UTC. */
  minute: string;
  eventType: string;
  events: number;
}

export interface ErrorMinute {
  minute: string;
  service: string;
  errorCode: string;
  errors: number;
}

/** One table of a shadow run against the published one (`cartflow compare`). */
export interface TableDifference {
  table: string;
  /** Rows of the published table for the date, and of the shadow run. */
  published: number;
  shadow: number;
  /** Keys (as `k1|k2`) only the shadow has, only the published table has, and both with other values. */
  added: string[];
  removed: string[];
  changed: string[];
  /** Per numeric column: its sum over the date's rows, published and shadow (decimal text). */
  sums: { column: string; published: string; shadow: string }[];
}

/** Rows one check failed in the published run and in the shadow run. */
export interface CheckDifference {
  dataset: string;
  check: string;
  column: string;
  published: number;
  shadow: number;
}

/** A shadow run's difference from what is published: the report of a shadow run shows it. */
export interface ShadowComparison {
  publishedRun: string;
  differ: boolean;
  tables: TableDifference[];
  /** Every check either run counted failed rows for. */
  checks: CheckDifference[];
}

export interface RunReportModel {
  run: {
    runId: string;
    businessDate: string;
    status: RunStatus;
    startedAt: string;
    finishedAt?: string;
    /** The config environment (dev, prod, local). */
    environment?: string;
  };
  /** When this report was rendered (ISO). */
  generatedAt: string;
  /** Why the run failed: the caught error or the quality gate's reason. */
  failure?: string;
  /** The quality JSON this report sits next to. */
  qualityReportKey?: string;
  timeline: Timeline;
  datasets: DatasetLoad[];
  /** Rows staged and published per warehouse table. */
  loads: { table: string; rows: number }[];
  checks: CheckResult[];
  quarantine: QuarantineSample[];
  lineage: Lineage;
  /** The business date's clickstream minutes from the warehouse (agg_event_minute, agg_error_minute). */
  clickstream: { eventMinutes: EventMinute[]; errorMinutes: ErrorMinute[] };
  /** A shadow run's report: how it differs from the published run of its date. */
  comparison?: ShadowComparison;
}
