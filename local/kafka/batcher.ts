/**
 * The batching and commit rules of the event-source mapping, with no Kafka client in them: the poller
 * hands each partition's fetched records in as a `Delivery` (kafkajs' eachBatch payload, reduced to the
 * calls that matter), and this decides which records go into which invocation and commits a partition's
 * offsets only after the invocation that held its records has succeeded (or gone to the on-failure
 * destination). Tests drive it with fake deliveries.
 */
import { partitionRanges, type KafkaRecord } from './msk-event';

export interface CommitOffset {
  topic: string;
  partition: number;
  /** The next offset to read, as Kafka commits it (last processed + 1). */
  offset: string;
}

/** One partition's fetched records, and how to acknowledge them (kafkajs' eachBatch payload). */
export interface Delivery {
  topic: string;
  partition: number;
  /** In offset order. */
  records: KafkaRecord[];
  /** Moves this partition's local position past `offset` (kafkajs resolveOffset). */
  resolveOffset(offset: string): void;
  /** Commits these offsets to the group now (kafkajs commitOffsetsIfNecessary with explicit offsets). */
  commit(offsets: CommitOffset[]): Promise<void>;
  heartbeat?(): Promise<void>;
}

/** One invocation's records, as the hooks see it. */
export interface Batch {
  records: KafkaRecord[];
  /** What will be committed once the batch is done. */
  commits: CommitOffset[];
}

export interface BatcherOptions {
  /** Most records per invocation (the mapping's BatchSize). */
  batchSize: number;
  /** Longest wait for a batch to fill (MaximumBatchingWindowInSeconds, here in ms). */
  maxBatchingWindowMs: number;
  /**
   * Invokes the handler for a batch, retrying and writing the on-failure destination as needed. It
   * resolves when the batch may be committed; a rejection is fatal: nothing more is committed.
   */
  process(batch: Batch): Promise<void>;
  /** Runs after `process` succeeded and before the commit (a crash there must cause a redelivery). */
  afterHandlerBeforeCommit?: (batch: Batch) => Promise<void>;
  /** After the commit of a batch. */
  onCommitted?: (batch: Batch) => void;
}

interface Waiter {
  remaining: number;
  resolve(): void;
  reject(error: Error): void;
}

interface Pending {
  record: KafkaRecord;
  delivery: Delivery;
  waiter: Waiter;
}

const commitsOf = (records: readonly KafkaRecord[]): CommitOffset[] =>
  partitionRanges(records).map((r) => ({
    topic: r.topic,
    partition: r.partition,
    offset: String(r.lastOffset + 1),
  }));

export class EsmBatcher {
  private pending: Pending[] = [];
  private windowTimer: NodeJS.Timeout | undefined;
  private windowExpired = false;
  /** Invocations run one at a time, in order. */
  private chain: Promise<void> = Promise.resolve();
  private inFlight = 0;
  private failure: Error | undefined;
  /** Aligned mode: the partial chunk last left unresolved per partition, to spot a fetch that cannot grow. */
  private partial = new Map<string, { first: string; count: number }>();

  constructor(private readonly options: BatcherOptions) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new RangeError(`batchSize must be a whole number >= 1, got ${options.batchSize}`);
    }
  }

  /** Nothing waiting and nothing being invoked. */
  get idle(): boolean {
    return this.pending.length === 0 && this.inFlight === 0;
  }

  get error(): Error | undefined {
    return this.failure;
  }

  /**
   * Mapping mode. Records from every partition pool into one queue; an invocation takes up to batchSize
   * of them, as soon as that many are there or when the window since the oldest waiting record closes.
   * Resolves once every record of the delivery has been committed.
   */
  deliver(delivery: Delivery): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (delivery.records.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { remaining: delivery.records.length, resolve, reject };
      for (const record of delivery.records) this.pending.push({ record, delivery, waiter });
      this.pump();
    });
  }

  /**
   * Replay mode: chunks of exactly batchSize records counted from where the partition's delivery starts
   * (always a chunk boundary, since only whole chunks are committed), so the same offsets always make the
   * same batches and the same object keys. A trailing partial chunk is invoked only when `final` (the
   * partition reached the end of the replay); otherwise it is left unresolved and fetched again with more.
   * Returns how many records were committed.
   */
  async deliverAligned(delivery: Delivery, final: boolean): Promise<number> {
    if (this.failure) throw this.failure;
    const { records } = delivery;
    const size = this.options.batchSize;
    let done = 0;
    const id = `${delivery.topic}-${delivery.partition}`;
    while (records.length - done >= size) {
      await this.enqueue(records.slice(done, done + size), [delivery]);
      done += size;
    }
    const rest = records.length - done;
    if (rest > 0) {
      // A fetch that returns the same partial chunk again cannot grow (maximum fetch size): invoke it.
      const seen = this.partial.get(id);
      const stalled =
        seen !== undefined && seen.first === String(records[done].offset) && seen.count === rest;
      if (final || stalled) {
        await this.enqueue(records.slice(done), [delivery]);
        done += rest;
        this.partial.delete(id);
      } else {
        this.partial.set(id, { first: String(records[done].offset), count: rest });
      }
    }
    return done;
  }

  /** Fails every waiting delivery (the consumer is going away); an invocation under way is not committed. */
  abort(error: Error): void {
    this.fail(error);
  }

  /** Resolves once no invocation is running (after `abort`, before a new consumer takes over). */
  settled(): Promise<void> {
    return this.chain;
  }

  private pump(): void {
    while (this.pending.length >= this.options.batchSize) this.flush(this.options.batchSize);
    if (this.pending.length === 0) {
      this.clearWindow();
      return;
    }
    if (this.windowExpired) {
      this.flush(this.pending.length);
      this.clearWindow();
      return;
    }
    this.windowTimer ??= setTimeout(() => {
      this.windowExpired = true;
      this.pump();
    }, this.options.maxBatchingWindowMs);
  }

  private clearWindow(): void {
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimer = undefined;
    this.windowExpired = false;
  }

  private flush(count: number): void {
    const taken = this.pending.splice(0, count);
    // The delivery of each partition's last record in the batch owns the resolveOffset for it.
    const deliveries = [...new Set(taken.map((p) => p.delivery))];
    this.enqueue(
      taken.map((p) => p.record),
      deliveries,
    ).then(
      () => {
        for (const p of taken) if (--p.waiter.remaining === 0) p.waiter.resolve();
      },
      (error: Error) => {
        for (const p of taken) p.waiter.reject(error);
      },
    );
  }

  /** Queues an invocation; resolves after its commit, rejects (and fails everything) on a fatal error. */
  private enqueue(records: KafkaRecord[], deliveries: Delivery[]): Promise<void> {
    this.inFlight++;
    const run = this.chain.then(async () => {
      if (this.failure) throw this.failure;
      const batch: Batch = { records, commits: commitsOf(records) };
      try {
        await this.options.process(batch);
        // Aborted while the handler ran (the consumer is gone): leave the batch uncommitted, to be
        // redelivered to the next consumer, where the handler's keys turn it into an overwrite.
        if (this.failure) throw this.failure;
        await this.options.afterHandlerBeforeCommit?.(batch);
        for (const c of batch.commits) {
          const owner = [...deliveries]
            .reverse()
            .find((d) => d.topic === c.topic && d.partition === c.partition);
          owner?.resolveOffset(String(BigInt(c.offset) - 1n));
        }
        await deliveries[0].commit(batch.commits);
        this.options.onCommitted?.(batch);
        await Promise.all(deliveries.map((d) => d.heartbeat?.()));
      } catch (error) {
        this.fail(error instanceof Error ? error : new Error(String(error)));
        throw this.failure;
      } finally {
        this.inFlight--;
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.clearWindow();
    const waiters = new Set(this.pending.map((p) => p.waiter));
    this.pending = [];
    for (const w of waiters) w.reject(this.failure);
  }
}
