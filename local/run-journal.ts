/**
 * The local runner's persisted run state, what Step Functions keeps for a redrive: each execution's input and
 * each Task state's result, in the warehouse's own database under `ops_local` (never part of the warehouse
 * contract). Every write is one autocommitted statement, so a killed runner leaves only whole records.
 */
import { createHash } from 'node:crypto';
import type { WarehouseReader } from '../lambdas/core/freshness';
import { literal } from '../lambdas/core/sql';
import { inTransaction, type Database } from './embedded-postgres';
import type { StepStatus } from '../lambdas/core/report/model';
import type { RunHistory } from './status';

/** Advisory lock of the journal's DDL (concurrent commands create it at once otherwise). */
const DDL_LOCK = 0x63666c6a;

const DDL = [
  'CREATE SCHEMA IF NOT EXISTS ops_local',
  `CREATE TABLE IF NOT EXISTS ops_local.execution (
     name text PRIMARY KEY,
     machine text NOT NULL,
     input text NOT NULL,
     status text NOT NULL,
     attempts integer NOT NULL,
     started_at timestamptz NOT NULL,
     finished_at timestamptz,
     error text)`,
  `CREATE TABLE IF NOT EXISTS ops_local.task_result (
     execution text NOT NULL REFERENCES ops_local.execution (name) ON DELETE CASCADE,
     state text NOT NULL,
     input_digest text NOT NULL,
     output text,
     attempt integer NOT NULL,
     finished_at timestamptz NOT NULL,
     PRIMARY KEY (execution, state, input_digest))`,
  // Each attempt's Task states as they ended (what Step Functions' execution history holds): `status` reads them.
  `CREATE TABLE IF NOT EXISTS ops_local.step_log (
     execution text NOT NULL REFERENCES ops_local.execution (name) ON DELETE CASCADE,
     attempt integer NOT NULL,
     seq integer NOT NULL,
     state text NOT NULL,
     status text NOT NULL,
     started_at timestamptz NOT NULL,
     ms integer NOT NULL,
     error text,
     PRIMARY KEY (execution, attempt, seq))`,
];

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT';

/** A Task state as the runner's step log has it (ExecutionOutcome['steps'] of local/step-functions.ts). */
export interface LoggedStep {
  state: string;
  /** Epoch ms. */
  startedAt: number;
  ms: number;
  status: 'ok' | 'failed' | 'retried' | 'caught' | 'replayed';
  error?: string;
}

export interface JournalExecution {
  name: string;
  machine: string;
  input: unknown;
  status: ExecutionStatus;
  attempts: number;
}

/** Recall and record of one execution's Task results; a state's input digest tells its Map iterations apart. */
export interface TaskMemo {
  recall(state: string, input: unknown): Promise<{ output: unknown } | undefined>;
  record(state: string, input: unknown, output: unknown): Promise<void>;
}

/** JSON with object keys sorted, so equal inputs digest equally whatever order their keys were built in. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export const inputDigest = (input: unknown) => createHash('sha256').update(stableJson(input)).digest('hex');

export class RunJournal {
  private db?: Promise<Database>;

  constructor(private readonly open: () => Promise<Database>) {}

  private connection(): Promise<Database> {
    return (this.db ??= this.open().then(async (db) => {
      await inTransaction(db, async () => {
        await db.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK]);
        for (const ddl of DDL) await db.query(ddl);
      });
      return db;
    }));
  }

  /** One statement on the journal's connection (one query at a time on it: pg queues none for us). */
  private async sql<T>(text: string, params: unknown[]): Promise<T[]> {
    const db = await this.connection();
    const release = await db.lock();
    try {
      return (await db.query<T>(text, params)).rows;
    } finally {
      release();
    }
  }

  /** Records an execution as RUNNING: a new one, or the next attempt of a redriven one (its results kept). */
  async begin(name: string, machine: string, input: unknown): Promise<number> {
    const rows = await this.sql<{ attempts: number }>(
      `INSERT INTO ops_local.execution (name, machine, input, status, attempts, started_at)
       VALUES ($1, $2, $3, 'RUNNING', 1, now())
       ON CONFLICT (name) DO UPDATE SET status = 'RUNNING', attempts = ops_local.execution.attempts + 1,
         finished_at = NULL, error = NULL
       RETURNING attempts`,
      [name, machine, JSON.stringify(input)],
    );
    return rows[0].attempts;
  }

  async finish(name: string, status: ExecutionStatus, error?: string): Promise<void> {
    await this.sql(
      `UPDATE ops_local.execution SET status = $2, finished_at = now(), error = $3 WHERE name = $1`,
      [name, status, error ?? null],
    );
  }

  async execution(name: string): Promise<JournalExecution | undefined> {
    const rows = await this.sql<{
      name: string;
      machine: string;
      input: string;
      status: ExecutionStatus;
      attempts: number;
    }>('SELECT name, machine, input, status, attempts FROM ops_local.execution WHERE name = $1', [name]);
    return rows[0] && { ...rows[0], input: JSON.parse(rows[0].input) as unknown };
  }

  /** The Task results of one execution's attempt `attempt`, read back by later attempts. */
  memo(execution: string, attempt: number): TaskMemo {
    return {
      recall: async (state, input) => {
        const rows = await this.sql<{ output: string | null }>(
          `SELECT output FROM ops_local.task_result WHERE execution = $1 AND state = $2 AND input_digest = $3`,
          [execution, state, inputDigest(input)],
        );
        if (rows.length === 0) return undefined;
        return { output: rows[0].output === null ? undefined : (JSON.parse(rows[0].output) as unknown) };
      },
      record: async (state, input, output) => {
        await this.sql(
          `INSERT INTO ops_local.task_result (execution, state, input_digest, output, attempt, finished_at)
           VALUES ($1, $2, $3, $4, $5, now())
           ON CONFLICT (execution, state, input_digest) DO UPDATE SET output = EXCLUDED.output,
             attempt = EXCLUDED.attempt, finished_at = EXCLUDED.finished_at`,
          [
            execution,
            state,
            inputDigest(input),
            output === undefined ? null : JSON.stringify(output),
            attempt,
          ],
        );
      },
    };
  }

  /** One Task state of an attempt as it ended (`seq`: its place in the attempt's step log). */
  async step(execution: string, attempt: number, seq: number, step: LoggedStep): Promise<void> {
    await this.sql(
      `INSERT INTO ops_local.step_log (execution, attempt, seq, state, status, started_at, ms, error)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (execution, attempt, seq) DO NOTHING`,
      [
        execution,
        attempt,
        seq,
        step.state,
        step.status,
        new Date(step.startedAt),
        Math.round(step.ms),
        step.error ?? null,
      ],
    );
  }

  async close(): Promise<void> {
    if (this.db) await (await this.db).close();
  }
}

/** A logged step's status as the report and `status` name it. */
export const STEP_STATUS: Record<LoggedStep['status'], StepStatus> = {
  ok: 'succeeded',
  failed: 'failed',
  retried: 'retried',
  caught: 'caught',
  replayed: 'replayed',
};

/** The journal as `status` reads it: a run's latest attempt and its step log, through the warehouse's query. */
export function journalRunHistory(warehouse: WarehouseReader): RunHistory {
  return {
    source: 'run journal',
    async steps(runId) {
      const [{ exists }] = await warehouse.query<{ exists: boolean }>(
        `SELECT to_regclass('ops_local.step_log') IS NOT NULL AS exists`,
      );
      if (!exists) return undefined;
      const [execution] = await warehouse.query<{ attempts: number; error: string | null }>(
        `SELECT attempts, error FROM ops_local.execution WHERE name = ${literal(runId)}`,
      );
      if (!execution) return undefined;
      const rows = await warehouse.query<{
        state: string;
        status: LoggedStep['status'];
        started_at: Date;
        ms: number;
        error: string | null;
      }>(
        `SELECT state, status, started_at, ms, error FROM ops_local.step_log
         WHERE execution = ${literal(runId)} AND attempt = ${Number(execution.attempts)} ORDER BY seq`,
      );
      if (rows.length === 0) return undefined;
      return {
        attempt: Number(execution.attempts),
        ...(execution.error ? { error: execution.error } : {}),
        steps: rows.map((r) => ({
          state: r.state,
          startedAt: new Date(r.started_at).toISOString(),
          ms: Number(r.ms),
          status: STEP_STATUS[r.status],
          ...(r.error ? { error: r.error } : {}),
        })),
      };
    },
  };
}
