/**
 * A local stand-in for the Lambda MSK event-source mapping: a kafkajs consumer in a group that batches
 * records like the mapping (BatchSize / MaximumBatchingWindow across partitions), invokes the handler
 * with the exact MSK event, retries a failure with backoff, sends a batch that keeps failing to the
 * on-failure destination in the lake, and commits offsets only after that — never before the handler
 * has succeeded. autoCommit is off: a consumer that dies between the handler and the commit gets the
 * batch again, and the handler's deterministic object keys turn the redelivery into an overwrite.
 *
 * A lost broker (restarted, unreachable, its coordinator moving) does not end the poller, as it does not
 * end the mapping: the consumer is dropped with its uncommitted batches, and a new one rejoins the group
 * after a backoff (0.5 s doubling to 5 s) and resumes from the committed offsets. A broker still down
 * after reconnectTimeoutMs (60 s) ends it with a BrokerUnavailableError saying so.
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
/** How long the poller keeps reconnecting to a lost broker before it gives up (reconnectTimeoutMs). */
export const RECONNECT_TIMEOUT_MS = 60_000;

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
  /**
   * How long the broker may stay unreachable (connection refused or lost, no coordinator) before the poller
   * gives up with a BrokerUnavailableError; meanwhile it reconnects with backoff. @default 60000
   */
  reconnectTimeoutMs?: number;
  /** First wait before reconnecting, doubled each attempt up to 5 s. @default 500 */
  reconnectBackoffMs?: number;
  /** Each reconnect attempt, for progress. */
  onReconnect?: (info: ReconnectInfo) => void;
  /** The consumer's group session timeout. @default 10000 */
  sessionTimeoutMs?: number;
  clientId?: string;
  source?: MskSource;
}

export interface BatchInfo<R> {
  records: number;
  attempts: number;
  result?: R;
  onFailureKeys?: string[];
  /** The last attempt's error: its class name and message. */
  error?: { name: string; message: string };
}

export interface ReconnectInfo {
  /** 1 for the first reconnect after the broker went away. */
  attempt: number;
  waitMs: number;
  /** Since the first failure of this outage. */
  downForMs: number;
  error: string;
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
/** A lost broker: the poller says so itself, one line per reconnect attempt (onReconnect). */
const QUIET_LOST_BROKER =
  /Connection error|Connection timeout|Closed connection|Connection closed|ECONNREFUSED|ECONNRESET|seed broker|Crash:|Restarting the consumer|Request .* timed out|Broker .* not (found|available)/i;
const quietLogs = (quiet: RegExp[]) => () => (entry: LogEntry) => {
  const { message, error } = entry.log as { message: string; error?: string };
  const text = `${message} ${error ?? ''}`;
  if (entry.level <= logLevel.ERROR && !quiet.some((q) => q.test(text))) {
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
  return new Kafka({ clientId, brokers, logLevel: logLevel.ERROR, logCreator: quietLogs([QUIET]) });
}

/**
 * The poller's client: it reconnects by itself (runEsmPoller), so each attempt gives up after a few
 * seconds instead of kafkajs' default ~10 s of retries, and lost-connection noise is left to its report.
 */
function pollerClient(brokers: string[], clientId = 'cartflow-local'): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.ERROR,
    logCreator: quietLogs([QUIET, QUIET_LOST_BROKER]),
    retry: { initialRetryTime: 250, maxRetryTime: 2_000, retries: 3 },
  });
}

export async function runEsmPoller<R>(options: EsmPollerOptions<R>): Promise<PollerResult<R>> {
  const replay = options.fromMs !== undefined;
  const groupId = options.groupId ?? (replay ? replayGroupId(options.fromMs!, options.toMs) : STREAM_GROUP);
  const batchSize = options.batchSize ?? 500;
  const kafka = pollerClient(options.brokers, options.clientId);
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

  const invoke = async (batch: Batch) => {
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
        : {
            onFailureKeys: outcome.onFailureKeys,
            error: { name: outcome.error.name, message: outcome.error.message },
          }),
    });
  };

  // Like the mapping, keep polling through a broker that went away: each session is one consumer in the
  // group; a session lost to the broker (connection refused or closed, timeouts, coordinator moves) ends
  // with its uncommitted batches undone, and a new consumer resumes from the committed offsets after a
  // backoff. A broker down longer than reconnectTimeoutMs ends the poller with an error saying so.
  const reconnectTimeoutMs = options.reconnectTimeoutMs ?? RECONNECT_TIMEOUT_MS;
  const backoffMs = options.reconnectBackoffMs ?? 500;
  let downSince: number | undefined;
  let attempts = 0;
  let lastError: Error | undefined;
  let sessionJoined = false;
  const joined = () => {
    sessionJoined = true;
    downSince = undefined;
    attempts = 0;
  };
  for (;;) {
    const sessionStart = Date.now();
    sessionJoined = false;
    try {
      await runSession({
        options,
        kafka,
        groupId,
        batchSize,
        replay,
        endOffsets,
        donePartitions,
        invoke,
        joined,
      });
      return result;
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      if (options.signal?.aborted) return result;
      if (!isBrokerUnavailable(failure)) throw failure;
      lastError = failure;
      // A consumer that never got into the group: the broker was already gone when it started.
      downSince ??= sessionJoined ? Date.now() : sessionStart;
      const downForMs = Date.now() - downSince;
      if (downForMs >= reconnectTimeoutMs) {
        throw new BrokerUnavailableError(options.brokers, downForMs, attempts, lastError);
      }
      attempts++;
      const waitMs = Math.min(
        RECONNECT_BACKOFF_CAP_MS,
        backoffMs * 2 ** (attempts - 1),
        Math.max(0, reconnectTimeoutMs - downForMs),
      );
      options.onReconnect?.({ attempt: attempts, waitMs, downForMs, error: describeError(failure) });
      if (await sleepUnlessAborted(waitMs, options.signal)) return result;
    }
  }
}

/** Longest wait between two reconnect attempts. */
const RECONNECT_BACKOFF_CAP_MS = 5_000;

/** The broker stayed unreachable past reconnectTimeoutMs. */
export class BrokerUnavailableError extends Error {
  constructor(brokers: string[], downForMs: number, attempts: number, cause: Error) {
    super(
      `Kafka broker ${brokers.join(',')} unreachable for ${Math.round(downForMs / 1000)} s ` +
        `(${attempts} reconnect attempt${attempts === 1 ? '' : 's'}; last error: ${describeError(cause)}). Nothing is lost: offsets are ` +
        'committed only after the handler succeeded, so the next `cartflow stream` resumes where this one stopped ' +
        'once the broker is back (KAFKA_BROKERS, localstack/kafka/broker.sh status).',
      { cause },
    );
    this.name = 'BrokerUnavailableError';
  }
}

type KafkaError = Error & { retriable?: boolean; originalError?: unknown; type?: string };

/** Each error of the chain (kafkajs wraps with `cause` and `originalError`). */
function* errorChain(error: Error): Generator<KafkaError> {
  const seen = new Set<unknown>();
  for (let e: unknown = error; e instanceof Error && !seen.has(e);) {
    seen.add(e);
    yield e as KafkaError;
    e = (e as KafkaError).cause ?? (e as KafkaError).originalError;
  }
}

/** kafkajs errors that mean "the broker, or the group coordinator on it, is not there right now". */
const UNAVAILABLE = new Set([
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSLockTimeout',
  'KafkaJSMetadataNotLoaded',
]);

/**
 * A failure a new consumer can get past once the broker answers again: a kafkajs error that is retriable
 * (or a retriable one after its retries ran out). Errors of the handler, of the on-failure write and of
 * the crash-test hook are not kafkajs errors and end the poller.
 */
export function isBrokerUnavailable(error: Error): boolean {
  const chain = [...errorChain(error)];
  if (!chain[0].name.startsWith('KafkaJS')) return false;
  return chain.some((e) => UNAVAILABLE.has(e.name) || e.retriable === true);
}

const describeError = (error: Error): string =>
  [...errorChain(error)]
    .map((e) => e.message)
    .filter((m, i, all) => m && all.indexOf(m) === i)
    .join(': ');

/** Waits ms; true when the signal aborted first. */
function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (aborted: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(aborted);
    };
    const onAbort = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    signal?.addEventListener('abort', onAbort);
  });
}

interface Session<R> {
  options: EsmPollerOptions<R>;
  kafka: Kafka;
  groupId: string;
  batchSize: number;
  replay: boolean;
  endOffsets: Map<number, bigint>;
  donePartitions: Set<number>;
  invoke: (batch: Batch) => Promise<void>;
  /** The consumer joined the group: the broker is back. */
  joined: () => void;
}

/**
 * One consumer, from joining the group until the topic is idle (or the replay done), the signal aborts,
 * or a failure. On the way out nothing uncommitted is committed: the batch under way (if any) finishes
 * its invocation, and the next consumer gets it again.
 */
async function runSession<R>(session: Session<R>): Promise<void> {
  const { options, kafka, groupId, batchSize, replay, endOffsets, donePartitions } = session;
  const batcher = new EsmBatcher({
    batchSize,
    maxBatchingWindowMs: options.maxBatchingWindowMs ?? 1000,
    afterHandlerBeforeCommit: options.afterHandlerBeforeCommit,
    process: session.invoke,
  });

  const consumer: Consumer = kafka.consumer({
    groupId,
    // A crash ends this session, not restart it behind the poller's back (the poller decides whether a new
    // consumer takes over) — except a group coordinator that is still loading (a broker that just
    // started): kafkajs rejoins by itself then.
    retry: { retries: 5, restartOnFailure: async (error) => isCoordinatorWarmingUp(error) },
    // A consumer lost with its broker stays a member until its session times out, and the next one's join
    // waits for that: keep it short (the broker's minimum is 6 s). Heartbeats go out between invocations.
    sessionTimeout: options.sessionTimeoutMs ?? 10_000,
    heartbeatInterval: 1_000,
    // Room for a whole batch in one fetch, so replay chunks fill from a single fetch.
    maxBytesPerPartition: Math.max(1 << 20, batchSize * 2048),
    maxBytes: Math.max(10 << 20, batchSize * 2048 * 4),
    maxWaitTimeInMs: 250,
  });

  let lastActivity = Date.now();
  // When the last fetch came back: idle means fetches kept answering with nothing, not a silent broker.
  let lastFetch = 0;
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
    session.joined();
  });
  consumer.on(consumer.events.FETCH, () => {
    lastFetch = Date.now();
  });
  consumer.on(consumer.events.CRASH, (event) => {
    if (!event.payload.restart) settle(event.payload.error);
  });
  const onAbort = () => settle();
  if (options.signal?.aborted) settle();
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
      Date.now() - lastActivity >= options.stopWhenIdleMs &&
      lastFetch - lastActivity >= options.stopWhenIdleMs
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
  } finally {
    clearInterval(watchdog);
    options.signal?.removeEventListener('abort', onAbort);
    batcher.abort(new Error('poller stopped'));
    // The invocation under way finishes (uncommitted) before the consumer leaves or a new one starts.
    await batcher.settled();
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
