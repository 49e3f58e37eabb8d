/**
 * Invariants of the stream, as queries: what the tests assert and what a person checks after a run.
 * The minute tables must equal a recount from the deduplicated fact (load-events recounts every minute
 * it touches); the lake listing (key + ETag) shows whether a replay rewrote the same objects.
 */
import type { LakeStore, Warehouse } from '../../lambdas/adapters/ports';
import { LAKE } from '../../lambdas/contract';

/** The lake prefixes the stream writes to. */
const STREAM_PREFIXES = [
  LAKE.clickstreamEvents,
  LAKE.eventAggregates,
  LAKE.clickstreamQuarantine,
  LAKE.streamOnFailure,
];

/** `<key> <etag>` of every stream object, sorted (s3rver's ETags are MD5s: same ETag, same bytes). */
export async function lakeListing(lake: LakeStore, prefixes = STREAM_PREFIXES): Promise<string[]> {
  const lines: string[] = [];
  for (const prefix of prefixes) for (const o of await lake.list(prefix)) lines.push(`${o.key} ${o.etag}`);
  return lines.sort();
}

/** Rows of agg_event_minute / agg_error_minute that differ from a recount of fact_click_event (none when correct). */
export async function windowMismatches(warehouse: Warehouse): Promise<Record<string, unknown>[]> {
  const events = await warehouse.query(`
    WITH recount AS (
      SELECT date_trunc('minute', ts) AS window_start, event_type, count(*) AS events
      FROM analytics.fact_click_event GROUP BY 1, 2)
    SELECT 'agg_event_minute' AS table_name, coalesce(a.window_start, r.window_start)::text AS window_start,
           coalesce(a.event_type, r.event_type) AS key, a.events::text AS stored, r.events::text AS recounted
    FROM analytics.agg_event_minute a
    FULL OUTER JOIN recount r ON a.window_start = r.window_start AND a.event_type = r.event_type
    WHERE a.events IS DISTINCT FROM r.events
    ORDER BY 2, 3`);
  const errors = await warehouse.query(`
    WITH recount AS (
      SELECT date_trunc('minute', ts) AS window_start, coalesce(service, 'unknown') AS service,
             coalesce(error_code, 'unknown') AS error_code, count(*) AS errors
      FROM analytics.fact_click_event WHERE event_type = 'error' GROUP BY 1, 2, 3)
    SELECT 'agg_error_minute' AS table_name, coalesce(a.window_start, r.window_start)::text AS window_start,
           coalesce(a.service, r.service) || '/' || coalesce(a.error_code, r.error_code) AS key,
           a.errors::text AS stored, r.errors::text AS recounted
    FROM analytics.agg_error_minute a
    FULL OUTER JOIN recount r
      ON a.window_start = r.window_start AND a.service = r.service AND a.error_code = r.error_code
    WHERE a.errors IS DISTINCT FROM r.errors
    ORDER BY 2, 3`);
  return [...events, ...errors];
}

/** The three clickstream tables in a stable order, as one string to compare runs by. */
export async function clickstreamTableDump(warehouse: Warehouse): Promise<string> {
  const dumps = [];
  for (const sql of [
    'SELECT * FROM analytics.fact_click_event ORDER BY event_id',
    'SELECT * FROM analytics.agg_event_minute ORDER BY window_start, event_type',
    'SELECT * FROM analytics.agg_error_minute ORDER BY window_start, service, error_code',
  ]) {
    dumps.push(await warehouse.query(sql));
  }
  return JSON.stringify(dumps, (_key, value: unknown) =>
    typeof value === 'bigint' ? value.toString() : value,
  );
}

/** event_ids that fact_click_event holds more than once (none when the load is exactly once). */
export async function duplicateEventIds(warehouse: Warehouse): Promise<string[]> {
  const rows = await warehouse.query<{ event_id: string }>(
    'SELECT event_id FROM analytics.fact_click_event GROUP BY event_id HAVING count(*) > 1 ORDER BY event_id LIMIT 20',
  );
  return rows.map((r) => r.event_id);
}
