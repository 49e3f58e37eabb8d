/**
 * Scheduled micro-batch (EventBridge): the stream's event objects → the warehouse, exactly once.
 * Lists events/clickstream/, compares with the ledger (key + ETag), writes a COPY manifest of the new
 * or rewritten objects and a ledger file, and runs ONE transaction that copies, deduplicates by
 * event_id, recounts the touched minutes and records the objects (core/clickstream/load.ts).
 * A failed run changes nothing; the next run finds the same work again.
 */
import { randomUUID } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  EVENTS_PREFIX,
  copyManifest,
  eventLoadKeys,
  eventLoadStatements,
  ledgerSelectSql,
  newLoadId,
  parquetRowCount,
  parseMaxObjects,
  planEventLoad,
  type LedgerEntry,
  type LedgerRow,
} from '../core/clickstream/load';
import { EVENT_LOAD_LEDGER, warehouseDdl } from '../core/sql';
import { adapters } from '../adapters/context';
import { requireEnv } from '../core/settings';
import { writeParquet } from '../adapters/lake-tables';
import { logger, metrics } from '../adapters/observability';
import type { LakeObject, LakeStore, Warehouse } from '../adapters/ports';
import { HANDLER_ENV } from '../steps';

/** Parallel footer reads: enough to hide S3 latency, few enough to keep memory bounded. */
const READ_CONCURRENCY = 8;

export interface EventsLoadResult {
  /** Objects loaded by this run (0: nothing new). */
  objects: number;
  /** Rows in those objects (before deduplication across objects). */
  events?: number;
  loadId?: string;
  /** New or changed objects left for the next runs by EVENTS_LOAD_MAX_OBJECTS. */
  backlog?: number;
}

// The loader runs on its own schedule, possibly before any batch run created the tables: the
// (idempotent) DDL runs once per warehouse connection, i.e. once per Lambda container.
const prepared = new WeakMap<Warehouse, Promise<void>>();
function ensureTables(warehouse: Warehouse): Promise<void> {
  let ready = prepared.get(warehouse);
  if (ready === undefined) {
    ready = warehouse.executeBatch(warehouseDdl());
    ready.catch(() => prepared.delete(warehouse));
    prepared.set(warehouse, ready);
  }
  return ready;
}

/** Rows per object from the Parquet footers, with bounded parallelism. */
async function rowCounts(lake: LakeStore, objects: readonly LakeObject[]): Promise<number[]> {
  const counts = new Array<number>(objects.length);
  let next = 0;
  const worker = async () => {
    while (next < objects.length) {
      const i = next++;
      counts[i] = parquetRowCount(await lake.get(objects[i].key), objects[i].key);
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, objects.length) }, worker));
  return counts;
}

export const handler = async (_event?: unknown): Promise<EventsLoadResult> => {
  const maxObjects = parseMaxObjects(process.env[HANDLER_ENV.eventsLoadMaxObjects]);
  const { lake, warehouse } = adapters();
  await ensureTables(warehouse);

  const [listed, ledger] = await Promise.all([
    lake.list(EVENTS_PREFIX),
    warehouse.query<LedgerEntry>(ledgerSelectSql()),
  ]);
  const { objects, backlog } = planEventLoad(listed, ledger, maxObjects);
  if (objects.length === 0) {
    logger.info('no new event objects', { listed: listed.length, ledger: ledger.length });
    return { objects: 0 };
  }

  const now = new Date();
  const loadId = newLoadId(now, randomUUID().slice(0, 8));
  const counts = await rowCounts(lake, objects);
  const ledgerRows: LedgerRow[] = objects.map((o, i) => ({
    object_key: o.key,
    etag: o.etag,
    rows: counts[i],
    load_id: loadId,
    loaded_at: now,
  }));
  await lake.put(
    eventLoadKeys.manifest(loadId),
    JSON.stringify(copyManifest(lake.bucket, objects)),
    'application/json',
  );
  await writeParquet(lake, eventLoadKeys.ledger(loadId), EVENT_LOAD_LEDGER, ledgerRows);
  await warehouse.executeBatch(
    eventLoadStatements({
      bucket: lake.bucket,
      loadId,
      iamRoleArn: requireEnv(process.env, HANDLER_ENV.copyRoleArn),
    }),
  );

  const events = counts.reduce((sum, n) => sum + n, 0);
  metrics.addMetric('EventsLoaded', MetricUnit.Count, events);
  metrics.addMetric('ObjectsLoaded', MetricUnit.Count, objects.length);
  metrics.publishStoredMetrics();
  logger.info('events loaded', { loadId, objects: objects.length, events, backlog });
  return { objects: objects.length, events, loadId, backlog };
};
