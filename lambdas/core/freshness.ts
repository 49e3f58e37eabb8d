/**
 * Freshness SLAs per dataset: the rules (lib/config.ts holds them per environment), what the warehouse
 * says about the newest load of each dataset, and the evaluation both the scheduled SLA check
 * (handlers/sla-check.ts, on AWS) and `cartflow status` (on a laptop) run. One definition of "on time".
 *
 * Every rule becomes an age and a limit in minutes, so one CloudWatch threshold expresses it:
 * - `loadedBy: 'HH:MM'`: business date D is loaded by HH:MM UTC on D+1. The data of D covers the day up
 *   to D+1 00:00, so its age is the time since then, and the rule holds while that age is at most
 *   24 h + HH:MM (at D+2 HH:MM, D+1 becomes due and D alone is too old).
 * - `maxAgeMinutes: N`: the newest loaded record (event) is no older than N minutes.
 * A dataset is on time up to and including its limit: it breaches once its age is above the limit.
 *
 * The scheduled check reads freshness records from the lake (one small object per dataset under
 * LAKE.freshness, written by record-run and load-events when they load), never the warehouse: a timer that
 * queried Redshift Serverless would wake it, and bill its 60-second minimum, every few minutes.
 */
import { DAY_MS, isBusinessDate, utcDate } from './dates';
import { DATASETS } from './model';
import { CLICKSTREAM_TABLES } from './clickstream/tables';
import { EVENT_LOAD_LEDGER, literal, qualifiedName } from './sql';
import { TABLES, type TableDef } from './tables';
import { ConfigurationError, InputFormatError } from './errors';
import { LAKE } from '../contract';

/** The datasets an SLA can cover: the batch datasets of ops.dataset_load, and the clickstream. */
export const FRESHNESS_DATASETS = [...DATASETS, 'events'] as const;
export type FreshnessDataset = (typeof FRESHNESS_DATASETS)[number];

/** Business date D of the dataset is loaded by this time of day (UTC, 'HH:MM') on D+1. */
export interface LoadedByRule {
  loadedBy: string;
}

/** The newest loaded record of the dataset is no older than this many minutes. */
export interface MaxAgeRule {
  maxAgeMinutes: number;
}

export type FreshnessRule = LoadedByRule | MaxAgeRule;

/** One rule per dataset; a dataset without a rule has no SLA. */
export type FreshnessRules = { readonly [D in FreshnessDataset]?: FreshnessRule };

/** What the warehouse says about a dataset's newest load (readFreshnessObservations). */
export interface FreshnessObservation {
  dataset: FreshnessDataset;
  /** Batch datasets: the newest business date with a successful run (ops.pipeline_run + ops.dataset_load). */
  businessDate?: string;
  /** Events: the newest loaded event minute (analytics.agg_event_minute). */
  newestEventAt?: Date;
  /** When that load finished (batch: the run's finished_at; events: the newest ledger entry). */
  loadedAt?: Date;
}

export type FreshnessStatus = 'met' | 'breached' | 'no-data';

export interface FreshnessResult {
  dataset: FreshnessDataset;
  status: FreshnessStatus;
  /** Minutes from what the data covers up to until `now`; null without data. Never negative. */
  ageMinutes: number | null;
  /** The age the rule allows (minutes): the alarm threshold of the dataset. */
  limitMinutes: number;
  /** What the data covers up to: end of the newest business date, or the newest event minute. */
  asOf: string | null;
  loadedAt: string | null;
  /** Batch: the newest loaded business date. */
  businessDate?: string;
  /** Batch: the newest business date whose deadline has passed at `now`. */
  dueBusinessDate?: string;
  /** One line for people: what was seen and what the rule asks. */
  reason: string;
}

const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const MINUTE_MS = 60_000;
/** A week: an SLA looser than that is no freshness SLA. */
export const MAX_AGE_LIMIT_MINUTES = 7 * 24 * 60;

export const isLoadedByRule = (rule: FreshnessRule): rule is LoadedByRule => 'loadedBy' in rule;

const deadlineMinutes = (loadedBy: string): number => {
  const m = HH_MM.exec(loadedBy)!;
  return Number(m[1]) * 60 + Number(m[2]);
};

/** The largest age (minutes) the rule allows: the alarm threshold, the same number `status` compares. */
export function limitMinutes(rule: FreshnessRule): number {
  return isLoadedByRule(rule) ? 24 * 60 + deadlineMinutes(rule.loadedBy) : rule.maxAgeMinutes;
}

/** A problem with a rule: which field, what it holds, what it may hold. */
export interface RuleProblem {
  field: string;
  value: unknown;
  allowed: string;
}

/** The first problem of a rule set, or undefined when every rule is valid. `field` is relative (orders.loadedBy). */
export function freshnessRulesProblem(rules: unknown): RuleProblem | undefined {
  if (typeof rules !== 'object' || rules === null || Array.isArray(rules)) {
    return {
      field: '',
      value: rules,
      allowed: `an object with a rule per dataset (${FRESHNESS_DATASETS.join(', ')})`,
    };
  }
  for (const [dataset, rule] of Object.entries(rules as Record<string, unknown>)) {
    if (!(FRESHNESS_DATASETS as readonly string[]).includes(dataset)) {
      return { field: dataset, value: rule, allowed: `rules only for ${FRESHNESS_DATASETS.join(', ')}` };
    }
    const keys = typeof rule === 'object' && rule !== null ? Object.keys(rule) : [];
    if (keys.length !== 1 || !(keys[0] === 'loadedBy' || keys[0] === 'maxAgeMinutes')) {
      return {
        field: dataset,
        value: rule,
        allowed: "{ loadedBy: 'HH:MM' } (date D loaded by HH:MM UTC on D+1) or { maxAgeMinutes: N }",
      };
    }
    const r = rule as Record<string, unknown>;
    if (keys[0] === 'loadedBy' && !(typeof r.loadedBy === 'string' && HH_MM.test(r.loadedBy))) {
      return {
        field: `${dataset}.loadedBy`,
        value: r.loadedBy,
        allowed: "a UTC time of day 'HH:MM', 00:00 to 23:59",
      };
    }
    const age = r.maxAgeMinutes;
    if (
      keys[0] === 'maxAgeMinutes' &&
      !(Number.isInteger(age) && (age as number) >= 1 && (age as number) <= MAX_AGE_LIMIT_MINUTES)
    ) {
      return {
        field: `${dataset}.maxAgeMinutes`,
        value: age,
        allowed: `an integer from 1 to ${MAX_AGE_LIMIT_MINUTES}`,
      };
    }
  }
  return undefined;
}

/** Rules as the stack passes them to the SLA check (JSON), validated; the error names `source`. */
export function parseFreshnessRules(json: string, source: string): FreshnessRules {
  let rules: unknown;
  try {
    rules = JSON.parse(json);
  } catch {
    throw new ConfigurationError(`${source} must be JSON freshness rules, got ${JSON.stringify(json)}`);
  }
  const problem = freshnessRulesProblem(rules);
  if (problem) {
    throw new ConfigurationError(
      `${source}: rule ${problem.field || '(all)'} is ${JSON.stringify(problem.value)}; allowed: ${problem.allowed}`,
    );
  }
  return rules as FreshnessRules;
}

const iso = (d: Date | undefined): string | null => (d ? d.toISOString() : null);
const minutes = (ms: number): number => Math.round((ms / MINUTE_MS) * 10) / 10;
const dayAfter = (date: string): string => utcDate(new Date(Date.parse(`${date}T00:00:00Z`) + DAY_MS));
const at = (date: string, hhmm: string): string => `${date} ${hhmm} UTC`;

/** Each rule's dataset against its observation at `now`, in the order of FRESHNESS_DATASETS. */
export function evaluateFreshness(
  rules: FreshnessRules,
  observations: readonly FreshnessObservation[],
  now: Date,
): FreshnessResult[] {
  const seen = new Map(observations.map((o) => [o.dataset, o]));
  return FRESHNESS_DATASETS.flatMap((dataset) => {
    const rule = rules[dataset];
    return rule ? [evaluateOne(dataset, rule, seen.get(dataset), now)] : [];
  });
}

function evaluateOne(
  dataset: FreshnessDataset,
  rule: FreshnessRule,
  seen: FreshnessObservation | undefined,
  now: Date,
): FreshnessResult {
  const limit = limitMinutes(rule);
  const base = { dataset, limitMinutes: limit, loadedAt: iso(seen?.loadedAt) };
  if (isLoadedByRule(rule)) {
    const deadline = deadlineMinutes(rule.loadedBy);
    // The newest D whose deadline (D+1 at HH:MM) lies strictly before now.
    const due = utcDate(new Date(now.getTime() - deadline * MINUTE_MS - 1 - DAY_MS));
    const date = seen?.businessDate;
    if (date === undefined || !isBusinessDate(date)) {
      return {
        ...base,
        status: 'no-data',
        ageMinutes: null,
        asOf: null,
        dueBusinessDate: due,
        reason: `no successful load of ${dataset} recorded; ${due} was due by ${at(dayAfter(due), rule.loadedBy)}`,
      };
    }
    const asOf = new Date(`${dayAfter(date)}T00:00:00.000Z`);
    const age = Math.max(0, now.getTime() - asOf.getTime());
    const breached = age > limit * MINUTE_MS;
    const next = dayAfter(date);
    const loaded = seen?.loadedAt ? ` (loaded ${iso(seen.loadedAt)})` : '';
    return {
      ...base,
      status: breached ? 'breached' : 'met',
      ageMinutes: minutes(age),
      asOf: asOf.toISOString(),
      businessDate: date,
      dueBusinessDate: due,
      reason: breached
        ? `${dataset} for ${next} was due by ${at(dayAfter(next), rule.loadedBy)}; newest loaded is ${date}${loaded}`
        : `${dataset} loaded through ${date}${loaded}; ${next} is due by ${at(dayAfter(next), rule.loadedBy)}`,
    };
  }
  const newest = seen?.newestEventAt;
  if (newest === undefined || Number.isNaN(newest.getTime())) {
    return {
      ...base,
      status: 'no-data',
      ageMinutes: null,
      asOf: null,
      reason: `no loaded ${dataset} recorded`,
    };
  }
  const age = Math.max(0, now.getTime() - newest.getTime());
  const breached = age > limit * MINUTE_MS;
  return {
    ...base,
    status: breached ? 'breached' : 'met',
    ageMinutes: minutes(age),
    asOf: newest.toISOString(),
    reason: `newest loaded ${dataset} at ${newest.toISOString()} is ${minutes(age)} min old; ${
      breached ? 'more than' : 'within'
    } the ${limit} min allowed`,
  };
}

/**
 * The SQL text of the warehouse's timestamps and dates ('YYYY-MM-DD HH:MM:SS[.ffffff]', UTC: every writer
 * stores UTC) as an instant. Redshift and PostgreSQL print them alike once cast to VARCHAR.
 */
export function sqlInstant(text: string | null | undefined): Date | undefined {
  if (!text) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d{1,3})?\d*$/.exec(text.trim());
  return m ? new Date(`${m[1]}T${m[2]}${m[3] ?? ''}Z`) : undefined;
}

/** The batch query: per dataset, the newest business date of a successful run and when it finished. */
export function batchFreshnessSql(): string {
  const loads = qualifiedName(TABLES.dataset_load);
  const runs = qualifiedName(TABLES.pipeline_run);
  return `SELECT dataset, CAST(business_date AS VARCHAR) AS business_date, CAST(loaded_at AS VARCHAR) AS loaded_at
FROM (
  SELECT l.dataset, l.business_date, max(r.finished_at) AS loaded_at,
         ROW_NUMBER() OVER (PARTITION BY l.dataset ORDER BY l.business_date DESC) AS newest
  FROM ${loads} l JOIN ${runs} r ON r.run_id = l.run_id
  WHERE r.status = ${literal('SUCCEEDED')}
  GROUP BY l.dataset, l.business_date
) t
WHERE newest = 1`;
}

/** The events query: the newest loaded event minute and the newest load (both small tables). */
export function eventsFreshnessSql(): string {
  return `SELECT (SELECT CAST(max(window_start) AS VARCHAR) FROM ${qualifiedName(CLICKSTREAM_TABLES.agg_event_minute)}) AS newest_event,
  (SELECT CAST(max(loaded_at) AS VARCHAR) FROM ${qualifiedName(EVENT_LOAD_LEDGER)}) AS loaded_at`;
}

/** The query half of the Warehouse port (adapters/ports.ts; core does not import the adapters). */
export interface WarehouseReader {
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
}

/**
 * Reads the observations of the datasets that have rules, through the Warehouse port: the same query on
 * Redshift (the SLA check) and on the local PostgreSQL (`status`). Tables not created yet (before the
 * first run) mean no data, not an error.
 */
export async function readFreshnessObservations(
  warehouse: WarehouseReader,
  rules: FreshnessRules,
): Promise<FreshnessObservation[]> {
  const wanted = FRESHNESS_DATASETS.filter((d) => rules[d] !== undefined);
  if (wanted.length === 0) return [];
  const existing = new Set(
    (
      await warehouse.query<{ name: string }>(
        `SELECT table_schema || '.' || table_name AS name FROM information_schema.tables WHERE table_schema IN ('ops', 'analytics')`,
      )
    ).map((r) => r.name),
  );
  const has = (...tables: TableDef[]) => tables.every((t) => existing.has(`${t.schema}.${t.name}`));
  const observations: FreshnessObservation[] = [];

  const batch = wanted.filter((d) => d !== 'events');
  if (batch.length > 0 && has(TABLES.dataset_load, TABLES.pipeline_run)) {
    const rows = await warehouse.query<{ dataset: string; business_date: string; loaded_at: string | null }>(
      batchFreshnessSql(),
    );
    for (const row of rows) {
      if (!(batch as string[]).includes(row.dataset)) continue;
      observations.push({
        dataset: row.dataset as FreshnessDataset,
        businessDate: String(row.business_date).slice(0, 10),
        loadedAt: sqlInstant(row.loaded_at),
      });
    }
  }

  if (wanted.includes('events') && has(CLICKSTREAM_TABLES.agg_event_minute, EVENT_LOAD_LEDGER)) {
    const [row] = await warehouse.query<{ newest_event: string | null; loaded_at: string | null }>(
      eventsFreshnessSql(),
    );
    const newestEventAt = sqlInstant(row?.newest_event);
    if (newestEventAt) {
      observations.push({ dataset: 'events', newestEventAt, loadedAt: sqlInstant(row?.loaded_at) });
    }
  }
  return observations;
}

/** The lake as the freshness records need it (adapters/ports.ts LakeStore; core does not import the adapters). */
export interface FreshnessLake {
  list(prefix: string): Promise<{ key: string }[]>;
  getText(key: string): Promise<string>;
  put(key: string, body: string, contentType?: string): Promise<void>;
}

/** A dataset's freshness record: its observation, instants as ISO strings. */
interface FreshnessRecord {
  dataset: FreshnessDataset;
  businessDate?: string;
  newestEventAt?: string;
  loadedAt?: string;
}

export const freshnessRecordKey = (dataset: FreshnessDataset): string => `${LAKE.freshness}${dataset}.json`;

const instant = (value: unknown): Date | undefined => {
  if (typeof value !== 'string') return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
};

function parseRecord(key: string, text: string): FreshnessObservation {
  let record: Partial<FreshnessRecord>;
  try {
    record = JSON.parse(text) as Partial<FreshnessRecord>;
  } catch {
    throw new InputFormatError(
      `freshness record ${key} is not JSON; delete it, the next load writes it again`,
    );
  }
  const dataset = record.dataset;
  if (!FRESHNESS_DATASETS.includes(dataset as FreshnessDataset) || key !== freshnessRecordKey(dataset!)) {
    throw new InputFormatError(
      `freshness record ${key} names dataset ${JSON.stringify(dataset)}; expected the dataset of its key`,
    );
  }
  return {
    dataset: dataset!,
    businessDate: typeof record.businessDate === 'string' ? record.businessDate : undefined,
    newestEventAt: instant(record.newestEventAt),
    loadedAt: instant(record.loadedAt),
  };
}

/** Which of two observations of one dataset is newer: the later business date, or the later event minute. */
function newer(a: FreshnessObservation, b: FreshnessObservation): FreshnessObservation {
  const key = (o: FreshnessObservation) => o.businessDate ?? o.newestEventAt?.toISOString() ?? '';
  const [ka, kb] = [key(a), key(b)];
  if (ka !== kb) return ka > kb ? a : b;
  // The same date or minute loaded again: the later load says when it was last loaded.
  return (a.loadedAt?.getTime() ?? 0) >= (b.loadedAt?.getTime() ?? 0) ? a : b;
}

/**
 * The freshness records of the datasets that have rules, read from the lake (what the SLA check reads).
 * A dataset without a record has no data yet.
 */
export async function readFreshnessRecords(
  lake: FreshnessLake,
  rules: FreshnessRules,
): Promise<FreshnessObservation[]> {
  const listed = new Set((await lake.list(LAKE.freshness)).map((o) => o.key));
  const wanted = FRESHNESS_DATASETS.filter(
    (d) => rules[d] !== undefined && listed.has(freshnessRecordKey(d)),
  );
  return Promise.all(
    wanted.map(async (d) => parseRecord(freshnessRecordKey(d), await lake.getText(freshnessRecordKey(d)))),
  );
}

/**
 * Records what a load just made fresh. A record only moves forward: a backfill of an older date, or a
 * batch of late events, leaves the newer record as it is (as the warehouse's max() would).
 */
export async function writeFreshnessRecords(
  lake: FreshnessLake,
  loaded: readonly FreshnessObservation[],
): Promise<void> {
  const listed = new Set((await lake.list(LAKE.freshness)).map((o) => o.key));
  for (const observation of loaded) {
    const key = freshnessRecordKey(observation.dataset);
    const current = listed.has(key) ? parseRecord(key, await lake.getText(key)) : undefined;
    const next = current ? newer(current, observation) : observation;
    if (next === current) continue;
    const record: FreshnessRecord = {
      dataset: next.dataset,
      businessDate: next.businessDate,
      newestEventAt: next.newestEventAt?.toISOString(),
      loadedAt: next.loadedAt?.toISOString(),
    };
    await lake.put(key, JSON.stringify(record), 'application/json');
  }
}
