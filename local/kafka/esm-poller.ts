/**
 * A local stand-in for the Lambda MSK event-source mapping: a kafkajs consumer in a group that batches
 * records like the mapping (BatchSize / MaximumBatchingWindow across partitions), invokes the handler
 * with the exact MSK event, retries a failure with backoff, sends a batch that keeps failing to the
 * on-failure destination in the lake, and commits offsets only after that — never before the handler
 * has succeeded. autoCommit is off: a consumer that dies between the handler and the commit gets the
 * batch again, and the handler's deterministic object keys turn the redelivery into an overwrite.
 *
 * Replay by time (Kappa backfill): `from` seeks every partition to the first offset at or after that
 * timestamp (admin.fetchTopicOffsetsByTimestamp) in a replay group of its own, and `to` ends each
 * partition at its first record past that timestamp. Replays cut batches by record count from the seek
 * point (not by time), so the same replay always writes the same objects.
 */
import { Kafka, logLevel, type Admin, type Consumer, type EachBatchPayload, type LogEntry } from 'kafkajs';
import type { LakeStore } from '../../lambdas/adapters/ports';
import { EsmBatcher, type Batch, type Delivery } from './batcher';
import { invokeBatch, type StreamHandler } from './invoke';
import type { KafkaRecord, MskSource } from './msk-event';

export const STREAM_GROUP = 'cartflow-stream';

export interface EsmPollerOptions<R> {
  /** host:port list (KAFKA_BROKERS). */
  brokers: string[];
  topic: string;
  handler: StreamHandler<R>;
  /** On-failure destination (aws/lambda/…, as on AWS: lambdas/contract.ts LAKE.streamOnFailure). */
  lake: LakeStore;
  /** @default 'cartflow-stream', or `cartflow-replay-<from>-<to>` for a replay */
  groupId?: string;
  /** @default 500 */
  batchSize?: number;
  /** @default 1000 */
  maxBatchingWindowMs?: number;
  /** Retries of a failed invocation before the on-failure destination. @default 3 */
  retries?: number;
  /** @default 200 */
  retryBackoffMs?: number;
  /** Stop once no record has arrived and nothing is pending for this long (after joining the group). */
  stopWhenIdleMs?: number;
  /** Replay from this time (epoch ms): seek each partition by timestamp, in a replay group. */
  fromMs?: number;
  /** Replay up to this time (epoch ms, inclusive): a partition ends at its first record past it. */
  toMs?: number;
  /** Hook for crash tests: runs after the handler succeeded, before the commit. A throw kills the poller. */
  afterHandlerBeforeCommit?: (batch: Batch) => Promise<void>;
  /** After each invocation: its outcome, for progress. */
  onBatch?: (info: BatchInfo<R>) => void;
  /** Stops the poller (like stopWhenIdle, but on demand). */
  signal?: AbortSignal;
  clientId?: string;
  source?: MskSource;
}

export interface BatchInfo<R> {
  records: number;
  attempts: number;
  result?: R;
  onFailureKeys?: string[];
  error?: string;
}

export interface PollerResult<R> {
  groupId: string;
  records: number;
  invocations: number;
  results: R[];
  /** Keys written to the on-failure destination. */
  onFailure: string[];
  /** Replay: where each partition started. */
  startOffsets?: { partition: number; offset: string }[];
}

/** Replay groups are named by the window, so rerunning a replay reuses (and re-seeks) its own group. */
const replayGroupId = (fromMs: number, toMs?: number) =>
  `cartflow-replay-${new Date(fromMs).toISOString().replace(/[:.]/g, '')}${toMs === undefined ? '' : `-${new Date(toMs).toISOString().replace(/[:.]/g, '')}`}`;

/**
 * kafkajs logs retriable errors while a fresh broker creates topics, and logs a failed eachBatch that the
 * poller reports to its caller anyway; keep only what needs a human.
 */
const QUIET = /The group is rebalancing|coordinator|leader|UNKNOWN_TOPIC|Error when calling eachBatch/i;
const quietLogs = () => (entry: LogEntry) => {
  const { message, error } = entry.log as { message: string; error?: string };
  if (entry.level <= logLevel.ERROR && !QUIET.test(`${message} ${error ?? ''}`)) {
    process.stderr.write(`[kafkajs] ${entry.namespace}: ${message}${error ? ` (${error})` : ''}\n`);
  }
};

/** COORDINATOR_LOAD_IN_PROGRESS / COORDINATOR_NOT_AVAILABLE: the group coordinator is not ready yet. */
const COORDINATOR_WARMUP = new Set(['COORDINATOR_LOAD_IN_PROGRESS', 'COORDINATOR_NOT_AVAILABLE']);

function isCoordinatorWarmingUp(error: Error): boolean {
  for (
    let e: unknown = error;
    e instanceof Error;
    e = (e as Error & { originalError?: unknown }).originalError ?? e.cause
  ) {
    if (COORDINATOR_WARMUP.has((e as Error & { type?: string }).type ?? '')) return true;
  }
  return false;
}

export function kafkaClient(brokers: string[], clientId = 'cartflow-local'): Kafka {
  return new Kafka({ clientId, brokers, logLevel: logLevel.ERROR, logCreator: quietLogs });
}

export async function runEsmPoller<R>(options: EsmPollerOptions<R>): Promise<PollerResult<R>> {
  const replay = options.fromMs !== undefined;
  const groupId = options.groupId ?? (replay ? replayGroupId(options.fromMs!, options.toMs) : STREAM_GROUP);
  const batchSize = options.batchSize ?? 500;
  const kafka = kafkaClient(options.brokers, options.clientId);
  const result: PollerResult<R> = { groupId, records: 0, invocations: 0, results: [], onFailure: [] };

  // Replay: seek the group before it has members; end each partition at its high watermark of now.
  const endOffsets = new Map<number, bigint>();
  const donePartitions = new Set<number>();
  if (replay) {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const starts = await admin.fetchTopicOffsetsByTimestamp(options.topic, options.fromMs);
      await admin.setOffsets({ groupId, topic: options.topic, partitions: starts });
      result.startOffsets = starts
        .map((s) => ({ partition: s.partition, offset: s.offset }))
        .sort((a, b) => a.partition - b.partition);
      for (const p of await admin.fetchTopicOffsets(options.topic)) {
        endOffsets.set(p.partition, BigInt(p.high));
        const start = starts.find((s) => s.partition === p.partition);
        if (start && BigInt(start.offset) >= BigInt(p.high)) donePartitions.add(p.partition);
      }
    } finally {
      await admin.disconnect();
    }
  }

  const batcher = new EsmBatcher({
    batchSize,
    maxBatchingWindowMs: options.maxBatchingWindowMs ?? 1000,
    afterHandlerBeforeCommit: options.afterHandlerBeforeCommit,
    process: async (batch) => {
      const outcome = await invokeBatch(batch.records, {
        handler: options.handler,
        retries: options.retries ?? 3,
        backoffMs: options.retryBackoffMs ?? 200,
        lake: options.lake,
        source: options.source,
      });
      result.invocations++;
      result.records += batch.records.length;
      if (outcome.status === 'ok') result.results.push(outcome.result);
      else result.onFailure.push(...outcome.onFailureKeys);
      options.onBatch?.({
        records: batch.records.length,
        attempts: outcome.attempts,
        ...(outcome.status === 'ok'
          ? { result: outcome.result }
          : { onFailureKeys: outcome.onFailureKeys, error: outcome.error.message }),
      });
    },
  });

  const consumer: Consumer = kafka.consumer({
    groupId,
    // A crash must end this poller, not restart it behind the caller's back — except a group coordinator
    // that is still loading (a broker that just started): the ESM keeps polling through that too.
    retry: { retries: 5, restartOnFailure: async (error) => isCoordinatorWarmingUp(error) },
    // Room for a whole batch in one fetch, so replay chunks fill from a single fetch.
    maxBytesPerPartition: Math.max(1 << 20, batchSize * 2048),
    maxBytes: Math.max(10 << 20, batchSize * 2048 * 4),
    maxWaitTimeInMs: 250,
  });

  let lastActivity = Date.now();
  let joined = false;
  let settle!: (error?: Error) => void;
  const finished = new Promise<void>((resolve, reject) => {
    settle = (error) => (error ? reject(error) : resolve());
  });
  // Settled possibly before anyone awaits it (a crash while joining): keep that from being "unhandled".
  finished.catch(() => undefined);
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joined = true;
    lastActivity = Date.now();
  });
  consumer.on(consumer.events.CRASH, (event) => {
    if (!event.payload.restart) settle(event.payload.error);
  });
  const onAbort = () => settle();
  options.signal?.addEventListener('abort', onAbort);

  const eachBatch = async ({
    batch,
    resolveOffset,
    commitOffsetsIfNecessary,
    heartbeat,
    pause,
  }: EachBatchPayload) => {
    if (batcher.error) throw batcher.error;
    lastActivity = Date.now();
    const { topic, partition } = batch;
    const records: KafkaRecord[] = batch.messages.map((m) => ({
      topic,
      partition,
      offset: m.offset,
      timestamp: m.timestamp,
      key: m.key,
      value: m.value,
    }));
    const delivery: Delivery = {
      topic,
      partition,
      records,
      resolveOffset,
      commit: (offsets) =>
        commitOffsetsIfNecessary({
          topics: [{ topic, partitions: offsets.map((o) => ({ partition: o.partition, offset: o.offset })) }],
        }),
      heartbeat,
    };
    if (!replay) {
      await batcher.deliver(delivery);
      lastActivity = Date.now();
      return;
    }
    if (donePartitions.has(partition)) {
      pause();
      return;
    }
    // Replay: keep the records inside the window; the partition ends at `to` or at the high watermark.
    const end = endOffsets.get(partition) ?? 0n;
    let final = false;
    const kept: KafkaRecord[] = [];
    for (const r of records) {
      if (BigInt(r.offset) >= end || (options.toMs !== undefined && Number(r.timestamp) > options.toMs)) {
        final = true;
        break;
      }
      kept.push(r);
    }
    if (kept.length > 0 && BigInt(kept[kept.length - 1].offset) + 1n >= end) final = true;
    delivery.records = kept;
    await batcher.deliverAligned(delivery, final);
    lastActivity = Date.now();
    if (final) {
      donePartitions.add(partition);
      pause();
    }
  };

  const watchdog = setInterval(() => {
    if (batcher.error) return settle(batcher.error);
    if (replay && endOffsets.size > 0 && donePartitions.size >= endOffsets.size && batcher.idle)
      return settle();
    if (
      options.stopWhenIdleMs !== undefined &&
      joined &&
      batcher.idle &&
      Date.now() - lastActivity >= options.stopWhenIdleMs
    ) {
      settle();
    }
  }, 50);

  try {
    await consumer.connect();
    await consumer.subscribe({ topic: options.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // Every partition's fetch is handed over at once, so one invocation can pool them.
      partitionsConsumedConcurrently: 64,
      eachBatch,
    });
    await finished;
    return result;
  } finally {
    clearInterval(watchdog);
    options.signal?.removeEventListener('abort', onAbort);
    batcher.abort(new Error('poller stopped'));
    await consumer.disconnect().catch(() => undefined);
  }
}

/** Creates the topic if it is missing (kafkajs admin), with `partitions` partitions. */
export async function ensureTopic(admin: Admin, topic: string, partitions: number): Promise<boolean> {
  const existing = await admin.listTopics();
  if (existing.includes(topic)) return false;
  return admin.createTopics({
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
    waitForLeaders: true,
  });
}
