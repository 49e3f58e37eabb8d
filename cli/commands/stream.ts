import { UsageError } from '../usage-error';
import { STREAM_HANDLERS } from '../../lambdas/steps';
import { loadConfig } from '../../lib/config';
import type { StepError } from '../../lambdas/steps';
import { errorText, failureLines } from '../../local/failure-line';
import { RECONNECT_TIMEOUT_MS, STREAM_GROUP } from '../../local/kafka/esm-poller';
import { streamFromKafka, type StreamTotals, type WarehouseEventCounts } from '../../local/kafka/stream';
import { intOption, kafkaBrokers, timeOption, type Command } from './command';

export const command: Command = {
  usage: `stream [--from ISO] [--to ISO] [--batch-size N] [--window-ms N] [--topic T]
                                              consume Kafka like the MSK event-source mapping until idle, then
                                              run load-events; --from/--to replays a time range (backfill)`,
  async run({ values, out, err, runtime }) {
    const brokers = kafkaBrokers();
    const { stream: config } = loadConfig('dev');
    const topic = values.topic ?? config.topic;
    const fromMs = timeOption(values, 'from');
    const toMs = timeOption(values, 'to');
    if (toMs !== undefined && fromMs === undefined)
      throw new UsageError('--to needs --from (a replay window)');
    if (fromMs !== undefined && toMs !== undefined && toMs < fromMs)
      throw new UsageError(
        `--to (${new Date(toMs).toISOString()}) is before --from (${new Date(fromMs).toISOString()})`,
      );
    const batchSize = intOption(values, 'batch-size', config.batchSize);
    if (batchSize < 1 || batchSize > 10_000)
      throw new UsageError(`--batch-size must be 1..10000 (the mapping's BatchSize range), got ${batchSize}`);
    const local = await runtime();
    err.write(
      fromMs === undefined
        ? `consuming ${topic} as the event-source mapping (group ${STREAM_GROUP}) until idle …\n`
        : `replaying ${topic} from ${new Date(fromMs).toISOString()}${toMs === undefined ? '' : ` to ${new Date(toMs).toISOString()}`} …\n`,
    );
    let lastError: StepError | undefined;
    const run = await streamFromKafka(local, {
      brokers,
      topic,
      batchSize,
      maxBatchingWindowMs: intOption(values, 'window-ms', 1000),
      retries: config.retryAttempts,
      fromMs,
      toMs,
      onBatch: (b) => {
        if (!b.error) return;
        lastError = b.error;
        err.write(
          `  batch of ${b.records} failed after ${b.attempts} attempts (${errorText(b.error)}) → ${b.onFailureKeys?.join(', ')}\n`,
        );
      },
      onReconnect: (r) =>
        err.write(
          `  broker ${brokers.join(',')} lost (${r.error}); reconnecting in ${(r.waitMs / 1000).toFixed(1)} s ` +
            `(attempt ${r.attempt}, down ${Math.round(r.downForMs / 1000)} s; gives up after ${RECONNECT_TIMEOUT_MS / 1000} s)\n`,
        ),
    });
    out.write(streamSummary(run.poller.groupId, run.totals, run.before, run.after));
    // The other batches loaded; the failed ones wait as on-failure objects for a redrive.
    const failed = run.totals.onFailure.length;
    if (failed > 0) {
      const next =
        'once the cause is fixed, redrive each on-failure object (docs/runbooks/stream-lag.md, 4.) or replay its ' +
        'time range: cartflow stream --from <ISO> --to <ISO>';
      out.write(
        failureLines(
          lastError,
          STREAM_HANDLERS.StreamToParquet,
          next,
          `${failed} on-failure object(s) FAILED`,
        ),
      );
    }
    return 0;
  },
};

function streamSummary(
  group: string,
  totals: StreamTotals,
  before: WarehouseEventCounts,
  after: WarehouseEventCounts,
): string {
  return [
    `stream (group ${group}): ${totals.records} records in ${totals.invocations} invocations → ${totals.objects} objects written`,
    `  events written ${totals.written} · duplicates dropped in batches ${totals.records - totals.written - totals.quarantined} · quarantined ${totals.quarantined} · on-failure batches ${totals.onFailure.length}`,
    `  load-events: events loaded ${after.events - before.events} (fact_click_event ${after.events} rows) · minutes in agg_event_minute ${after.eventMinutes}, agg_error_minute ${after.errorMinutes}`,
    '',
  ].join('\n');
}
