/**
 * `status --env` sources: a run's steps from Step Functions' execution history (the run id is the execution
 * name for named runs: backfill, run and retry --env name them), and the stream's consumer lag from the
 * CloudWatch OffsetLag metric that Monitoring alarms on (AWS/Lambda, FunctionName of the stream function).
 */
import { GetExecutionHistoryCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import { GetMetricStatisticsCommand, type Datapoint } from '@aws-sdk/client-cloudwatch';
import type { LagSource, RunHistory, RunRow, RunSteps, StepTiming, StreamLag } from '../status';
import type { SdkClient } from './environment';
import { TASK_FAILURES } from '../../lambdas/adapters/execution-history';
import { batchRunOf, executionArnOf, newestExecutions } from './step-functions';

/** Pages of GetExecutionHistory (1000 events each) read per run at most: status stays a few calls. */
const MAX_HISTORY_PAGES = 3;

/** The events that end a Task attempt: the failures are the run-failed step's own list (one source of truth). */
const ENDS = new Set(['TaskStateExited', 'TaskStateAborted', ...TASK_FAILURES]);

/** A failure event's error and cause, whichever of the Task* / LambdaFunction* detail fields it carries. */
function failureText(event: HistoryEvent): string | undefined {
  if (event.type === 'TaskStateAborted') return 'aborted';
  const details =
    event.taskFailedEventDetails ??
    event.taskTimedOutEventDetails ??
    event.taskStartFailedEventDetails ??
    event.taskSubmitFailedEventDetails ??
    event.lambdaFunctionFailedEventDetails ??
    event.lambdaFunctionTimedOutEventDetails ??
    event.lambdaFunctionStartFailedEventDetails ??
    event.lambdaFunctionScheduleFailedEventDetails;
  if (details?.error || details?.cause) return `${details.error ?? ''}: ${details.cause ?? ''}`;
  return event.type?.endsWith('TimedOut') ? 'States.Timeout' : undefined;
}

/** The Task states of an execution history, one per TaskStateEntered, with the retries it took. */
export function stepsOfHistory(events: readonly HistoryEvent[]): RunSteps {
  const byId = new Map(events.map((e) => [e.id, e]));
  const entryOf = (event: HistoryEvent): HistoryEvent | undefined => {
    let at: HistoryEvent | undefined = event;
    // Within one state every event points back to the one before it, up to its TaskStateEntered.
    for (let hops = 0; at && at.type !== 'TaskStateEntered' && hops < 1000; hops++) {
      at = at.previousEventId === undefined ? undefined : byId.get(at.previousEventId);
    }
    return at;
  };
  const ends = new Map<number, HistoryEvent[]>();
  for (const event of events) {
    if (!event.type || !ENDS.has(event.type)) continue;
    const entry = entryOf(event);
    if (entry?.id !== undefined) ends.set(entry.id, [...(ends.get(entry.id) ?? []), event]);
  }
  const time = (e: HistoryEvent) => new Date(e.timestamp ?? 0).getTime();
  const steps = events
    .filter((e) => e.type === 'TaskStateEntered')
    .flatMap((entered): StepTiming[] => {
      const state = entered.stateEnteredEventDetails?.name ?? '?';
      const startedAt = new Date(time(entered)).toISOString();
      const own = ends.get(entered.id!) ?? [];
      const exit = own.find((e) => e.type === 'TaskStateExited');
      const failures = own.filter((e) => e.type !== 'TaskStateExited');
      const last = exit ?? failures.at(-1);
      const retried = exit ? failures.length : Math.max(0, failures.length - 1);
      const failure = failures.at(-1);
      const error = failure && failureText(failure);
      return [
        ...Array.from({ length: retried }, (): StepTiming => ({
          state,
          startedAt,
          ms: null,
          status: 'retried',
        })),
        {
          state,
          startedAt,
          ms: last ? time(last) - time(entered) : null,
          status: exit ? 'succeeded' : last ? 'failed' : 'running',
          ...(!exit && error ? { error } : {}),
        },
      ];
    });
  const failed = events.findLast((e) => e.executionFailedEventDetails)?.executionFailedEventDetails;
  const redrives = events.filter((e) => e.type === 'ExecutionRedriven').length;
  // A failure before the last redrive is history: the run went on.
  const lastRedrive = events.findLastIndex((e) => e.type === 'ExecutionRedriven');
  const failedAfter = events.findLastIndex((e) => e.executionFailedEventDetails !== undefined) > lastRedrive;
  return {
    attempt: 1 + redrives,
    steps,
    ...(failed && failedAfter ? { error: `${failed.error ?? ''}: ${failed.cause ?? ''}` } : {}),
  };
}

export function executionHistory(sfn: SdkClient, stateMachineArn: string): RunHistory {
  return {
    source: 'execution history',
    async steps(runId) {
      const events: HistoryEvent[] = [];
      let nextToken: string | undefined;
      for (let page = 0; page < MAX_HISTORY_PAGES; page++) {
        let out: { events?: HistoryEvent[]; nextToken?: string };
        try {
          out = (await sfn.send(
            new GetExecutionHistoryCommand({
              executionArn: executionArnOf(stateMachineArn, runId),
              maxResults: 1000,
              includeExecutionData: false,
              nextToken,
            }),
          )) as typeof out;
        } catch (error) {
          // A run not started under its run id (a scheduled run): no execution of that name.
          if ((error as { name?: string }).name === 'ExecutionDoesNotExist') return undefined;
          throw error;
        }
        events.push(...(out.events ?? []));
        nextToken = out.nextToken;
        if (!nextToken) break;
      }
      return stepsOfHistory(events);
    },
    // The run id is the execution name and its date is in its input: one DescribeExecution per run.
    async runs(count) {
      const names = await newestExecutions(sfn, stateMachineArn, count);
      const runs = await Promise.all(names.map((name) => batchRunOf(sfn, stateMachineArn, name)));
      return runs.flatMap((run): RunRow[] =>
        run
          ? [
              {
                run_id: run.runId,
                business_date: run.businessDate,
                status: run.status,
                started_at: run.startedAt ? warehouseText(run.startedAt) : null,
                finished_at: run.finishedAt ? warehouseText(run.finishedAt) : null,
              },
            ]
          : [],
      );
    },
  };
}

/** An instant as ops.pipeline_run's timestamps read (UTC, `YYYY-MM-DD HH:MM:SS.sss`). */
const warehouseText = (at: Date) => at.toISOString().replace('T', ' ').replace('Z', '');

/** CloudWatch's OffsetLag of the stream function's Kafka mapping: the newest 5-minute maximum of the last 30. */
export function offsetLag(cloudWatch: SdkClient, functionName: string, now: () => Date): LagSource {
  return {
    async lag(): Promise<StreamLag> {
      const end = now();
      const out = (await cloudWatch.send(
        new GetMetricStatisticsCommand({
          Namespace: 'AWS/Lambda',
          MetricName: 'OffsetLag',
          Dimensions: [{ Name: 'FunctionName', Value: functionName }],
          StartTime: new Date(end.getTime() - 30 * 60_000),
          EndTime: end,
          Period: 300,
          Statistics: ['Maximum'],
        }),
      )) as { Datapoints?: Datapoint[] };
      const newest = [...(out.Datapoints ?? [])]
        .filter((d) => d.Timestamp !== undefined && d.Maximum !== undefined)
        .sort((a, b) => new Date(b.Timestamp!).getTime() - new Date(a.Timestamp!).getTime())[0];
      if (!newest) {
        return {
          source: 'cloudwatch',
          total: null,
          functionName,
          note: 'no OffsetLag datapoint in the last 30 minutes (the mapping reported none: idle, disabled or new)',
        };
      }
      return {
        source: 'cloudwatch',
        total: newest.Maximum!,
        functionName,
        at: new Date(newest.Timestamp!).toISOString(),
        note: 'maximum over the partitions, 5 minutes',
      };
    },
  };
}
