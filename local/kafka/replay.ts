/**
 * The MSK event-source mapping without a broker: a recorded topic (topic.ts) is cut into batches and
 * fed to the handler in the exact MSK event shape, through the same event builder as the Kafka poller.
 * Batches are a pure function of the recording, so replaying it again writes the same objects.
 */
import { invokeBatch, type StreamHandler } from './invoke';
import type { KafkaRecord } from './msk-event';
import { byPartition, recordTopic, type RecordTopicOptions, type TopicRecord } from './topic';

export interface ReplayOptions<R> extends RecordTopicOptions {
  handler: StreamHandler<R>;
  /** The recorded topic; or `values`, recorded here the way the producer would place them. */
  records?: readonly TopicRecord[];
  values?: readonly string[];
  /** Most records per invocation (the mapping's BatchSize). @default 500 */
  batchSize?: number;
  onBatch?: (done: number, total: number) => void;
}

export interface ReplayResult<R> {
  records: number;
  invocations: number;
  results: R[];
}

/**
 * Invocation k holds slice k of every partition, ⌊batchSize / partitions⌋ records each: like a mapping
 * batch, it mixes partitions, and never passes batchSize records.
 */
export function recordedBatches(records: readonly KafkaRecord[], batchSize: number): KafkaRecord[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batchSize must be >= 1, got ${batchSize}`);
  const logs = byPartition(records);
  if (logs.length === 0) return [];
  const slice = Math.max(1, Math.floor(batchSize / logs.length));
  const longest = Math.max(...logs.map((l) => l.length));
  const batches: KafkaRecord[][] = [];
  for (let start = 0; start < longest; start += slice) {
    batches.push(logs.flatMap((log) => log.slice(start, start + slice)));
  }
  return batches;
}

export async function replayRecordedTopic<R>(options: ReplayOptions<R>): Promise<ReplayResult<R>> {
  const records = options.records ?? recordTopic(options.values ?? [], options);
  const batches = recordedBatches(records, options.batchSize ?? 500);
  const results: R[] = [];
  let done = 0;
  for (const batch of batches) {
    // No lake: a batch that fails its retries fails the replay (a recording has no one to page).
    const outcome = await invokeBatch(batch, { handler: options.handler, retries: 2, backoffMs: 50 });
    if (outcome.status === 'ok') results.push(outcome.result);
    done += batch.length;
    options.onBatch?.(done, records.length);
  }
  return { records: records.length, invocations: batches.length, results };
}
