/**
 * The run report fixtures, test/fixtures/report/: a failed quality gate's state, the steps its execution
 * took, quarantine samples and a half hour of clickstream minutes, assembled into a report model.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { failureOf, lineageOf, type FinishedState } from '../../lambdas/core/report/from-state';
import type { QuarantineSample, RunReportModel, TimelineStep } from '../../lambdas/core/report/model';
import { datasetLoads } from '../../lambdas/core/run-record';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'report');

export const readReportFixture = <T>(name: string): T =>
  JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as T;

export const failedGateState = (): FinishedState =>
  readReportFixture<FinishedState>('state-failed-gate.json');

/** The model of the failed-gate run, as the local runner renders it after the run (timeline with times). */
export function failedGateModel(): RunReportModel {
  const state = failedGateState();
  const run = state.run!;
  return {
    run: { ...run, status: 'FAILED', finishedAt: '2026-03-04T02:00:09.420Z', environment: 'dev' },
    generatedAt: '2026-03-04T02:00:09.500Z',
    failure: failureOf(state),
    qualityReportKey: state.validation?.reportKey,
    timeline: { source: 'execution', steps: readReportFixture<TimelineStep[]>('steps-failed-gate.json') },
    datasets: datasetLoads(state as Parameters<typeof datasetLoads>[0]),
    loads: [],
    checks: state.validation?.checks ?? [],
    quarantine: readReportFixture<QuarantineSample[]>('quarantine.json'),
    lineage: lineageOf(state),
    clickstream: readReportFixture<RunReportModel['clickstream']>('clickstream.json'),
  };
}
