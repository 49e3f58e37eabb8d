/**
 * A batch execution's history as the run-failed step reads it: GetExecutionHistory, newest event first.
 * The stop is the state whose Task failed last (followed back through previousEventId to the state's
 * entered event: a sibling Parallel branch or Map iteration may have entered a state after it), a Fail
 * state entered, or else the state entered last (an execution timeout or abort). The run's state is the
 * input of the last top-level state entered, which holds every result the run got to.
 */
import { GetExecutionHistoryCommand, SFNClient, type HistoryEvent } from '@aws-sdk/client-sfn';
import { MAP_ITERATION_STATES } from '../steps';
import type { ExecutionHistory, ExecutionStop } from './ports';

/** Pages of 1,000 events read at most: a run's history is a few hundred events (a Map of ten tables). */
const MAX_PAGES = 10;

/**
 * The events that end a Task's attempt in failure: Task* for integrations (arn:aws:states:::lambda:invoke),
 * LambdaFunction* for a Task whose Resource is a plain function ARN.
 */
export const TASK_FAILURES: ReadonlySet<string> = new Set([
  'TaskFailed',
  'TaskTimedOut',
  'TaskStartFailed',
  'TaskSubmitFailed',
  'LambdaFunctionFailed',
  'LambdaFunctionTimedOut',
  'LambdaFunctionStartFailed',
  'LambdaFunctionScheduleFailed',
]);

/** The stop from events in reverse order (newest first); `complete` once nothing older can change it. */
export function stopFromEvents(events: readonly HistoryEvent[]): { stop: ExecutionStop; complete: boolean } {
  const byId = new Map(events.map((e) => [e.id, e]));
  let failed: string | undefined;
  let failedSeen = false;
  let entered: string | undefined;
  let input: unknown;
  let inputSeen = false;
  for (const event of events) {
    const name = event.stateEnteredEventDetails?.name;
    if (name) {
      entered ??= name;
      if (
        !inputSeen &&
        !MAP_ITERATION_STATES.has(name) &&
        event.stateEnteredEventDetails?.input !== undefined
      ) {
        input = JSON.parse(event.stateEnteredEventDetails.input) as unknown;
        inputSeen = true;
      }
    }
    if (!failedSeen && (event.type === 'FailStateEntered' || TASK_FAILURES.has(String(event.type)))) {
      failedSeen = true;
      failed = name ?? enteredStateOf(event, byId);
    }
  }
  const complete = inputSeen && (failed !== undefined || !failedSeen);
  return { stop: { state: failed ?? entered, ...(inputSeen ? { input } : {}) }, complete };
}

/** The name of the state an event belongs to: previousEventId back to its entered event. */
function enteredStateOf(
  event: HistoryEvent,
  byId: Map<number | undefined, HistoryEvent>,
): string | undefined {
  for (let at = byId.get(event.previousEventId); at; at = byId.get(at.previousEventId)) {
    if (at.stateEnteredEventDetails?.name) return at.stateEnteredEventDetails.name;
  }
  return undefined;
}

export class SfnExecutionHistory implements ExecutionHistory {
  constructor(private readonly sfn: Pick<SFNClient, 'send'> = new SFNClient({})) {}

  async stopOf(executionArn: string): Promise<ExecutionStop> {
    const seen: HistoryEvent[] = [];
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const out = await this.sfn.send(
        new GetExecutionHistoryCommand({
          executionArn,
          reverseOrder: true,
          includeExecutionData: true,
          maxResults: 1000,
          nextToken,
        }),
      );
      seen.push(...(out.events ?? []));
      const { stop, complete } = stopFromEvents(seen);
      if (complete || !out.nextToken) return stop;
      nextToken = out.nextToken;
    }
    return stopFromEvents(seen).stop;
  }
}
