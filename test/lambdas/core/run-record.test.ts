import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import type { PipelineState } from '../../../lambdas/core/contracts';
import {
  datasetLoads,
  describeRun,
  MESSAGE_MAX_BYTES,
  RUNBOOKS,
  snsSubject,
  type ExecutionContext,
  type RunFailure,
  type RunWhere,
} from '../../../lambdas/core/run-record';

const fixture = async <T = PipelineState>(name: string): Promise<T> =>
  JSON.parse(await readFile(new URL(`../../fixtures/pipeline-state/${name}.json`, import.meta.url), 'utf8'));

/** How the fixture run failed, as the run-failed step reads it from the execution's history. */
const failureOf = async (name: string): Promise<RunFailure> =>
  (await fixture<Record<string, RunFailure>>('failures'))[name];

/** The failure notice of a failed fixture run. */
const describeFailed = async (name: string, where: RunWhere) =>
  describeRun(await fixture(name), where, await failureOf(name));

/** Where a prod run happened, as the notify step sees it on AWS: `$$.Execution` from the fixture. */
const onAws = async (): Promise<RunWhere> => ({
  bucket: 'cartflow-prod-lake',
  environment: 'prod',
  execution: await fixture<ExecutionContext>('execution'),
  now: new Date('2026-03-08T02:05:00.000Z'),
});
const LOCAL: RunWhere = {
  bucket: 'cartflow-lake',
  environment: 'local',
  execution: { Name: 'local-1', StartTime: '2026-03-08T02:00:00.000Z' },
  now: new Date('2026-03-08T02:01:00.000Z'),
};
const SUBJECT_RULES = /^[\x20-\x7e]{1,100}$/;

describe('datasetLoads', () => {
  it('takes rows_loaded from the table each dataset loads into, so rows_in = loaded + quarantined', async () => {
    // Prepare
    const state = await fixture('succeeded');

    // Act
    const loads = datasetLoads(state);

    // Assess
    assert.deepEqual(
      loads.map((l) => [l.dataset, l.rowsLoaded]),
      [
        ['products', 200],
        ['orders', 298],
        ['order_items', 897],
      ],
    );
    for (const load of loads) assert.equal(load.rowsIn, load.rowsLoaded + load.rowsQuarantined);
  });

  it('reports zero rows loaded when the run stopped before the loads', async () => {
    // Prepare
    const state = await fixture('failed-gate');

    // Act
    const loads = datasetLoads(state);

    // Assess
    assert.deepEqual(
      loads.map((l) => l.rowsLoaded),
      [0, 0, 0],
    );
  });
});

describe('describeRun', () => {
  it('a success: rows per table, rows in/loaded/quarantined per dataset, failed checks with examples', async () => {
    // Act
    const { status, subject, summary } = describeRun(await fixture('succeeded-with-checks'), await onAws());

    // Assess
    assert.equal(status, 'SUCCEEDED');
    assert.equal(subject, 'cartflow prod SUCCEEDED 2026-03-01: 1,405 rows loaded, 6 quarantined');
    assert.match(summary, /^fact_order_item\s+897$/m);
    assert.match(summary, /^dataset\s+rows in\s+valid\s+loaded\s+quarantined/m);
    assert.match(summary, /^orders\s+300\s+298\s+298\s+2\s/m);
    assert.match(
      summary,
      /orders: currency accepted \(currency\): 2 rows \[quarantine\]\n\s+e\.g\. \{"order_id":"O-1017"/,
    );
    // A passing check is not listed; a success has no failure section.
    assert.doesNotMatch(summary, /order total matches lines/);
    assert.doesNotMatch(summary, /WHAT FAILED|WHAT TO DO/);
  });

  it('trims a long example row to one bounded line', async () => {
    // Act
    const { summary } = describeRun(await fixture('succeeded-with-checks'), await onAws());

    // Assess
    const example = summary.split('\n').find((line) => line.includes('"product_id":"P-0042"'));
    assert.ok(example, summary);
    assert.ok(example.length < 400, `${example.length} characters`);
    assert.match(example, /… \(\d+ more characters\)$/);
  });

  it('names and links the run: ids, execution, console, region, quality report, run report, quarantine', async () => {
    // Prepare
    const where = await onAws();

    // Act
    const { summary } = describeRun(await fixture('succeeded-with-checks'), where);

    // Assess
    const arn = where.execution!.Id!;
    assert.match(summary, /run id:\s+2026-03-01-0000beef$/m);
    assert.match(summary, /business date:\s+2026-03-01$/m);
    assert.match(summary, /region:\s+eu-west-1$/m);
    assert.match(summary, /execution:\s+nightly-2026-03-08$/m);
    assert.ok(summary.includes(`execution ARN:  ${arn}`));
    assert.ok(
      summary.includes(
        `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${arn}`,
      ),
    );
    assert.ok(summary.includes('s3://cartflow-prod-lake/quality/dt=2026-03-01/2026-03-01-0000beef.json'));
    assert.ok(
      summary.includes(
        'https://eu-west-1.console.aws.amazon.com/s3/object/cartflow-prod-lake?region=eu-west-1&prefix=quality%2Fdt%3D2026-03-01%2F2026-03-01-0000beef.json',
      ),
    );
    assert.ok(summary.includes('s3://cartflow-prod-lake/quality/dt=2026-03-01/2026-03-01-0000beef.html'));
    for (const dataset of ['products', 'orders', 'order_items']) {
      assert.ok(summary.includes(`s3://cartflow-prod-lake/quarantine/${dataset}/dt=2026-03-01/`), dataset);
    }
  });

  it('a failed step: the state, error name and message, and the retry command and runbook', async () => {
    // Act
    const { status, subject, summary } = await describeFailed('failed-transform', await onAws());

    // Assess
    assert.equal(status, 'FAILED');
    assert.equal(subject, 'cartflow prod FAILED 2026-03-07 at Transform: PermanentError');
    assert.match(summary, /^ {2}state: {4}Transform$/m);
    assert.match(summary, /^ {2}error: {4}PermanentError$/m);
    // The Lambda errorMessage, on one line; not the JSON Cause or its trace.
    assert.match(summary, /message: {2}raw\/orders\/.*expected DECIMAL\(12,2\) re-extract the date$/m);
    assert.doesNotMatch(summary, /errorType|trace/);
    assert.ok(summary.includes('cartflow --env prod retry nightly-2026-03-08'));
    assert.ok(summary.includes(RUNBOOKS.failedRun));
    assert.ok(summary.indexOf('WHAT FAILED') < summary.indexOf('FIND THE RUN'));
  });

  it('a failed quality gate: the reason, the rerun command and the quality runbook', async () => {
    // Act
    const { subject, summary } = await describeFailed('failed-gate', await onAws());

    // Assess
    assert.equal(subject, 'cartflow prod FAILED 2026-03-03 at QualityGateFailed');
    assert.match(summary, /quality gate: orders: 16\.67% quarantined/);
    assert.ok(summary.includes('cartflow --env prod run --date 2026-03-03'));
    assert.ok(summary.includes(RUNBOOKS.qualityFailure));
  });

  it("unwraps the Lambda error message from the execution's cause", async () => {
    // Act
    const { status, summary } = await describeFailed('lambda-error', LOCAL);

    // Assess
    assert.equal(status, 'FAILED');
    assert.match(summary, /message: {2}Cannot connect to the source database: timeout$/m);
  });

  it('locally: the s3:// locations and the local command, no console links or region', async () => {
    // Act
    const { subject, summary } = await describeFailed('failed-transform', LOCAL);

    // Assess
    assert.match(subject, /^cartflow local FAILED 2026-03-07/);
    assert.ok(summary.includes('     cartflow retry local-1'));
    assert.match(summary, /execution:\s+local-1$/m);
    assert.doesNotMatch(summary, /https:|region:|execution ARN/);
  });

  it('keeps every subject within the SNS rules and every message within 256 KB', async () => {
    // Prepare: a run with thousands of failing checks, each with a long example row.
    const state = await fixture('succeeded-with-checks');
    const [check] = state.validation!.checks;
    state.validation!.checks = Array.from({ length: 5000 }, (_, i) => ({
      ...check,
      check: `rule ${i}`,
      example: 'é'.repeat(2000),
    }));
    state.run.businessDate = '2026-03-01';

    // Act
    const notices = [
      describeRun(state, await onAws()),
      ...(await Promise.all(
        ['failed-gate', 'lambda-error', 'failed-transform'].map(async (name) =>
          describeFailed(name, await onAws()),
        ),
      )),
    ];

    // Assess
    for (const { subject, summary } of notices) {
      assert.match(subject, SUBJECT_RULES);
      assert.ok(Buffer.byteLength(summary) <= MESSAGE_MAX_BYTES);
    }
    assert.match(notices[0].summary, /… and 4980 more in the quality report/);
  });
});

describe('describeRun of a run without a failure', () => {
  it('is a success even when the state holds a failed gate: only the failure handler reports failures', async () => {
    // Act
    const { status } = describeRun(await fixture('failed-gate'), await onAws());

    // Assess
    assert.equal(status, 'SUCCEEDED');
  });
});

describe('snsSubject', () => {
  it('makes any text one printable ASCII line of at most 100 characters', () => {
    // Act
    const subject = snsSubject(`cartflow prod FAILED — ${'x'.repeat(200)}\nsecond line`);

    // Assess
    assert.match(subject, SUBJECT_RULES);
    assert.ok(subject.startsWith('cartflow prod FAILED ? xxx'));
    assert.ok(subject.endsWith('...'));
  });
});
