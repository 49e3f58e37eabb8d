/**
 * Scheduled micro-batch (EventBridge): the stream's event objects → the warehouse, exactly once.
 * Reads the arrival notices of its open hours (no listing of events/clickstream/), looks only those
 * objects up in the ledger (key + ETag), compacts each hour's new objects into files of at least
 * 64 MB (or the whole hour's new objects), writes a COPY manifest of the compacted files and a ledger
 * file, and runs ONE transaction that copies, deduplicates by event_id, recounts the touched minutes
 * and records the objects (core/clickstream/load.ts), then writes the events' freshness record, which the
 * SLA check reads. A failed run changes nothing and its retry rewrites the same compacted files; a run
 * with nothing new makes no warehouse call.
 */
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import {
  ARRIVALS_STATE_KEY,
  DEFAULT_CLOSE_SECONDS,
  DEFAULT_COMPACT_TARGET_MB,
  DEFAULT_MAX_OBJECTS,
  LEDGER_LOOKUP_KEYS,
  LEGACY_ARRIVALS_STATE_KEY,
  START_STATE,
  advanceArrivals,
  arrivalPrefixes,
  copyManifest,
  eventLoadKeys,
  eventLoadStatements,
  ledgerAnySql,
  ledgerSelectSql,
  missingStateError,
  newArrivals,
  newLoadId,
  parseArrivalNotice,
  parseArrivalState,
  parsePositive,
  planCompaction,
  planEventLoad,
  type ArrivalState,
  type LedgerEntry,
} from '../core/clickstream/load';
import {
  engineSettingsFromEnv,
  fileList,
  sqlLiteral,
  type Engine,
  type EngineSettings,
} from '../core/engine/engine';
import { sqlInstant, writeFreshnessRecords } from '../core/freshness';
import { requireEnv, type Env } from '../core/settings';
import { awsHandler } from '../adapters/aws-entry';
import { findObject } from '../adapters/lake-tables';
import { withEngine, type LakeWorkspace } from '../adapters/lake-workspace';
import type { Adapters, LakeObject, LakeStore, Step, Warehouse } from '../adapters/ports';
import { HANDLER_ENV, METRIC } from '../contract';

export interface EventsLoadResult {
  /** Objects loaded by this run (0: nothing new). */
  objects: number;
  /** Rows in those objects (before deduplication across objects). */
  events?: number;
  loadId?: string;
  /** Compacted files the run's COPY read. */
  files?: number;
  /** New or changed objects left for the next runs by EVENTS_LOAD_MAX_OBJECTS. */
  backlog?: number;
}

export interface LoadEventsSettings {
  copyRoleArn: string;
  maxObjects: number;
  compactTargetBytes: number;
  /** How long after an arrival hour ends it is closed (core/clickstream/load.ts advanceArrivals). */
  closeMs: number;
  engine: EngineSettings;
}

export const loadEventsSettings = (env: Env): LoadEventsSettings => ({
  copyRoleArn: requireEnv(env, HANDLER_ENV.copyRoleArn),
  maxObjects: parsePositive(
    env[HANDLER_ENV.eventsLoadMaxObjects],
    HANDLER_ENV.eventsLoadMaxObjects,
    DEFAULT_MAX_OBJECTS,
  ),
  compactTargetBytes:
    parsePositive(
      env[HANDLER_ENV.eventsCompactTargetMb],
      HANDLER_ENV.eventsCompactTargetMb,
      DEFAULT_COMPACT_TARGET_MB,
    ) *
    1024 *
    1024,
  closeMs:
    parsePositive(
      env[HANDLER_ENV.eventsArrivalCloseSeconds],
      HANDLER_ENV.eventsArrivalCloseSeconds,
      DEFAULT_CLOSE_SECONDS,
    ) * 1000,
  engine: engineSettingsFromEnv(env),
});

/** Parallel small reads (notices, listings, ledger lookups). */
const CONCURRENCY = 8;

async function mapBounded<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
  return out;
}

/**
 * The loader's state; without one (nor one at the legacy key), a first run starts from nothing, while a
 * loader that has loaded before stops, naming `cartflow events-resume` (one ledger query, only then).
 */
async function readState(lake: LakeStore, warehouse: Warehouse): Promise<ArrivalState> {
  if (await findObject(lake, ARRIVALS_STATE_KEY))
    return parseArrivalState(await lake.getText(ARRIVALS_STATE_KEY));
  if (await findObject(lake, LEGACY_ARRIVALS_STATE_KEY)) {
    // Moved, not copied: a stale legacy state must never stand in for a later loss of the new one.
    const legacy = parseArrivalState(await lake.getText(LEGACY_ARRIVALS_STATE_KEY));
    await lake.move(LEGACY_ARRIVALS_STATE_KEY, ARRIVALS_STATE_KEY);
    return legacy;
  }
  if ((await warehouse.query(ledgerAnySql())).length > 0) throw missingStateError(lake.bucket);
  return START_STATE;
}

/** `clock` is the run's notion of now (injected by tests). */
export function makeLoadEvents(
  { lake, warehouse, logger, metrics }: Adapters,
  settings: LoadEventsSettings,
  clock: () => Date = () => new Date(),
) {
  return async (_event?: unknown): Promise<EventsLoadResult> => {
    const now = clock();
    const state = await readState(lake, warehouse);
    const listed = (await mapBounded(arrivalPrefixes(state, now), (p) => lake.list(p))).flat();
    const fresh = newArrivals(
      listed.map((o) => o.key),
      state,
    );
    if (fresh.length === 0) {
      // An idle run still closes the hours whose time is up, so it keeps listing one or two hours.
      await saveState(state, advanceArrivals(state, [], [], now, settings.closeMs));
      logger.info('no new event objects', { openFrom: state.openFrom });
      return { objects: 0 };
    }

    const notices = await mapBounded(fresh, async (key) => ({
      key,
      objects: parseArrivalNotice(key, await lake.getText(key)),
    }));
    const named = [...new Set(notices.flatMap((n) => n.objects))];
    // Current ETag and size of the named objects: one listing per event hour they fall in.
    const folders = [...new Set(named.map((k) => k.slice(0, k.lastIndexOf('/') + 1)))];
    const wanted = new Set(named);
    const candidates = (await mapBounded(folders, (f) => lake.list(f)))
      .flat()
      .filter((o) => wanted.has(o.key));

    let plan: { objects: LakeObject[]; rest: LakeObject[] } = { objects: [], rest: [] };
    if (candidates.length > 0) {
      const chunks: string[][] = [];
      for (let i = 0; i < candidates.length; i += LEDGER_LOOKUP_KEYS) {
        chunks.push(candidates.slice(i, i + LEDGER_LOOKUP_KEYS).map((o) => o.key));
      }
      const ledger = (
        await mapBounded(chunks, (keys) => warehouse.query<LedgerEntry>(ledgerSelectSql(keys)))
      ).flat();
      plan = planEventLoad(candidates, ledger, settings.maxObjects);
    }

    let result: EventsLoadResult = { objects: 0 };
    if (plan.objects.length > 0) result = await load(plan.objects, plan.rest.length);

    // A notice is done when none of its objects waits in the backlog.
    const waiting = new Set(plan.rest.map((o) => o.key));
    const pending = notices.filter((n) => n.objects.some((k) => waiting.has(k))).map((n) => n.key);
    const pendingSet = new Set(pending);
    const processed = notices.map((n) => n.key).filter((k) => !pendingSet.has(k));
    await saveState(state, advanceArrivals(state, processed, pending, now, settings.closeMs));
    return result;
  };

  async function saveState(before: ArrivalState, after: ArrivalState): Promise<void> {
    if (JSON.stringify(after) !== JSON.stringify(before)) {
      await lake.put(ARRIVALS_STATE_KEY, JSON.stringify(after), 'application/json');
    }
  }

  async function load(objects: LakeObject[], backlog: number): Promise<EventsLoadResult> {
    const now = clock();
    const loadId = newLoadId(now, randomUUID().slice(0, 8));
    return withEngine(lake, settings.engine.tempDirectory, settings.engine, async (engine, workspace) => {
      const paths = await workspace.fetch(objects.map((o) => o.key));
      const pathOf = new Map(objects.map((o, i) => [o.key, paths[i]]));
      const counted = await engine.rows<{ file_name: string; num_rows: bigint }>(
        `SELECT file_name, num_rows FROM parquet_file_metadata(${fileList(paths)})`,
      );
      const rowsOf = new Map(counted.map((r) => [r.file_name, Number(r.num_rows)]));

      // Compaction: each part is written once per work set (its name is a digest of the work), so a
      // retried run rewrites the same files with the same bytes.
      const files: { key: string; size: number }[] = [];
      for (const [i, part] of planCompaction(objects, settings.compactTargetBytes).entries()) {
        const path = workspace.path(`compacted-${i}.parquet`);
        await engine.writeParquet(
          `SELECT * FROM read_parquet(${fileList(part.objects.map((o) => pathOf.get(o.key)!))})`,
          path,
        );
        await workspace.publish(path, part.key);
        files.push({ key: part.key, size: (await stat(path)).size });
      }

      const values = objects
        .map(
          (o) =>
            `(${sqlLiteral(o.key)}, ${sqlLiteral(o.etag)}, ${rowsOf.get(pathOf.get(o.key)!) ?? 0}, ` +
            `${sqlLiteral(loadId)}, TIMESTAMP ${sqlLiteral(now.toISOString().replace('T', ' ').replace('Z', ''))})`,
        )
        .join(', ');
      await copyEventFiles({ lake, warehouse }, engine, workspace, {
        loadId,
        files,
        copyRoleArn: settings.copyRoleArn,
        ledgerSql: `SELECT CAST(k AS VARCHAR) AS object_key, CAST(e AS VARCHAR) AS etag, CAST(n AS BIGINT) AS "rows",
                CAST(l AS VARCHAR) AS load_id, CAST(t AS TIMESTAMP) AS loaded_at
         FROM (VALUES ${values}) AS v(k, e, n, l, t)`,
      });

      // The SLA check reads this record, not the warehouse (core/freshness.ts).
      const [newest] = await engine.rows<{ minute: string | null }>(
        `SELECT CAST(date_trunc('minute', max(ts)) AS VARCHAR) AS minute FROM read_parquet(${fileList(paths)})`,
      );
      const newestEventAt = sqlInstant(newest?.minute);
      if (newestEventAt) {
        await writeFreshnessRecords(lake, [{ dataset: 'events', newestEventAt, loadedAt: now }]);
      }

      const events = objects.reduce((sum, o) => sum + (rowsOf.get(pathOf.get(o.key)!) ?? 0), 0);
      metrics.count(METRIC.eventsLoaded, events);
      metrics.count(METRIC.objectsLoaded, objects.length);
      metrics.flush();
      logger.info('events loaded', { loadId, objects: objects.length, files: files.length, events, backlog });
      return { objects: objects.length, events, loadId, files: files.length, backlog };
    });
  }
}

export const step: Step<LoadEventsSettings, unknown, EventsLoadResult> = {
  name: 'load-events',
  settings: loadEventsSettings,
  make: makeLoadEvents,
};
export const handler = awsHandler(step);

/**
 * COPYs compacted event files into fact_click_event: the load's COPY manifest and its ledger file (the rows
 * of `ledgerSql`, in the ledger's columns) go to the lake, then eventLoadStatements run as one batch.
 */
export async function copyEventFiles(
  { lake, warehouse }: { lake: LakeStore; warehouse: Warehouse },
  engine: Engine,
  workspace: LakeWorkspace,
  load: { loadId: string; files: { key: string; size: number }[]; ledgerSql: string; copyRoleArn: string },
): Promise<void> {
  const ledgerPath = workspace.path('ledger.parquet');
  await engine.writeParquet(load.ledgerSql, ledgerPath);
  await lake.put(
    eventLoadKeys.manifest(load.loadId),
    JSON.stringify(copyManifest(lake.bucket, load.files)),
    'application/json',
  );
  await workspace.publish(ledgerPath, eventLoadKeys.ledger(load.loadId));
  await warehouse.executeBatch(
    eventLoadStatements({ bucket: lake.bucket, loadId: load.loadId, iamRoleArn: load.copyRoleArn }),
  );
}
