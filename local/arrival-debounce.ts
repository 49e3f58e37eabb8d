/**
 * The laptop edition of the catalog arrival debounce (lib/constructs/triggers.ts: S3 event → SQS → an
 * EventBridge Pipe with a batching window → one refresh per window). Each drop queues its arrival as a file
 * under the data dir (SQS SendMessage); the first drop to find no poller becomes it (the Pipe), waits until
 * the window from the oldest queued arrival has passed, takes every queued arrival and starts ONE refresh
 * with them, and goes on while arrivals queued meanwhile. Drops in other processes share the same queue.
 */
import { randomUUID } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ARRIVALS_PER_REFRESH } from '../lib/constructs/triggers';
import { failedStateOf } from './failure-line';
import type { CatalogArrival, LocalRuntime } from './runtime';

/** A queued arrival: the landed key, for the drop's messages, and its time, the refresh's input. */
export interface QueuedArrival extends CatalogArrival {
  key: string;
}

export interface ArrivalDebounceOptions {
  /** Where the queue and the poller's lock live: under the data dir, so every drop of it shares them. */
  directory: string;
  /** The debounce window (config catalogDebounceSeconds, in ms). */
  windowMs: number;
  /** Most arrivals one refresh takes (the Pipe's batch size). */
  maxBatch: number;
  /** Starts one refresh with a window's arrivals, as the Pipe's StartExecution does. */
  start(
    arrivals: CatalogArrival[],
  ): Promise<
    { status: string; error?: { name: string; message: string } } & Parameters<typeof failedStateOf>[0]
  >;
  /** Told when the poller starts waiting out a window (progress output). */
  onWait?: (untilMs: number, queued: number) => void;
}

/** What one refresh the poller started took and how it ended. */
export interface DebouncedRefresh {
  arrivals: QueuedArrival[];
  status: string;
  error?: { name: string; message: string };
  /** The step that failed (a failed refresh only). */
  state?: string;
}

/** The lock file of a poller: its pid, so a crashed poller's lock is taken over. */
const LOCK = 'poller.lock';
const QUEUE = 'queue';

export class ArrivalDebounce {
  constructor(private readonly options: ArrivalDebounceOptions) {}

  private get queueDir(): string {
    return join(this.options.directory, QUEUE);
  }

  /** Queues the arrival of `key` now. */
  async arrive(key: string, now = new Date()): Promise<void> {
    await mkdir(this.queueDir, { recursive: true });
    const arrival: QueuedArrival = { key, time: now.toISOString() };
    // Time first in the name: a listing sorts oldest first. Written aside, then renamed: a poller never
    // reads half a message.
    const name = `${String(now.getTime()).padStart(15, '0')}-${randomUUID()}`;
    await writeFile(join(this.queueDir, `${name}.tmp`), JSON.stringify(arrival));
    await rename(join(this.queueDir, `${name}.tmp`), join(this.queueDir, `${name}.json`));
  }

  /**
   * Becomes the poller unless one is running, and runs one refresh per window until the queue is empty.
   * Returns the refreshes this call started: none when another poller (this process or another) has the
   * queue, which then takes this call's arrival too.
   */
  async drain(): Promise<DebouncedRefresh[]> {
    const refreshes: DebouncedRefresh[] = [];
    if (!(await this.lock())) return refreshes;
    try {
      for (let queued = await this.queued(); queued.length > 0; queued = await this.queued()) {
        const until = Date.parse(queued[0].arrival.time) + this.options.windowMs;
        this.options.onWait?.(until, queued.length);
        await sleep(Math.max(0, until - Date.now()));
        // Every arrival queued by the window's end, as the Pipe takes its batch when the window closes.
        const batch = (await this.queued()).slice(0, this.options.maxBatch);
        await Promise.all(batch.map(({ file }) => rm(file, { force: true })));
        const arrivals = batch.map(({ arrival }) => arrival);
        const outcome = await this.options.start(arrivals.map(({ time }) => ({ time })));
        refreshes.push({
          arrivals,
          status: outcome.status,
          error: outcome.error,
          ...(outcome.status === 'SUCCEEDED' ? {} : { state: failedStateOf(outcome) }),
        });
      }
    } finally {
      await rm(join(this.options.directory, LOCK), { force: true });
    }
    // An arrival queued after the last look but before the unlock found the lock held: take it now.
    if ((await this.queued()).length > 0) refreshes.push(...(await this.drain()));
    return refreshes;
  }

  /** The pid of the running poller, if there is one. */
  async poller(): Promise<number | undefined> {
    const pid = Number(await readFile(join(this.options.directory, LOCK), 'utf8').catch(() => ''));
    return pid > 0 && alive(pid) ? pid : undefined;
  }

  private async lock(): Promise<boolean> {
    await mkdir(this.options.directory, { recursive: true });
    const path = join(this.options.directory, LOCK);
    // The pid is written first and hard-linked into place: the lock appears whole or not at all.
    const mine = join(this.options.directory, `${LOCK}.${process.pid}.${randomUUID()}`);
    await writeFile(mine, String(process.pid));
    try {
      await link(mine, path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A poller that died (a killed drop) leaves its lock: take the queue over.
      if ((await this.poller()) !== undefined) return false;
      await rm(path, { force: true });
      return this.lock();
    } finally {
      await rm(mine, { force: true });
    }
  }

  private async queued(): Promise<{ file: string; arrival: QueuedArrival }[]> {
    const names = (await readdir(this.queueDir).catch(() => [] as string[]))
      .filter((n) => n.endsWith('.json'))
      .sort();
    const entries = await Promise.all(
      names.map(async (name) => {
        const file = join(this.queueDir, name);
        const text = await readFile(file, 'utf8').catch(() => undefined);
        // Gone (taken by a poller) or still being written: not this look's.
        if (!text) return undefined;
        return { file, arrival: JSON.parse(text) as QueuedArrival };
      }),
    );
    return entries.filter((e) => e !== undefined);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user's process.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The debounce's directory under the data dir. */
export const ARRIVALS_DIR = 'catalog-arrivals';

/** What a drop did: put the file, then ran the refreshes of its window or left its arrival to the poller. */
export interface DropResult {
  key: string;
  refreshes: DebouncedRefresh[];
  /** The poller that takes this arrival, when this drop did not run a refresh itself. */
  poller?: number;
}

/**
 * `cartflow drop`: puts the file into landing/catalog/ (the S3 object-created event), queues its arrival
 * and drains the queue when no poller is running — one catalog refresh per debounce window.
 */
export async function dropCatalogFile(
  local: Pick<LocalRuntime, 'lake' | 'dataDir' | 'refreshCatalog'>,
  key: string,
  body: Buffer | string,
  options: Pick<ArrivalDebounceOptions, 'windowMs' | 'onWait'>,
): Promise<DropResult> {
  const debounce = new ArrivalDebounce({
    ...options,
    directory: join(local.dataDir, ARRIVALS_DIR),
    maxBatch: ARRIVALS_PER_REFRESH,
    start: (arrivals) => local.refreshCatalog(arrivals),
  });
  await local.lake.put(key, body);
  await debounce.arrive(key);
  const refreshes = await debounce.drain();
  return { key, refreshes, poller: refreshes.length === 0 ? await debounce.poller() : undefined };
}
