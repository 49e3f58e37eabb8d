/** The warehouse on AWS: Redshift Serverless through the Data API (no drivers, no VPC from Lambda). */
import {
  BatchExecuteStatementCommand,
  CancelStatementCommand,
  DescribeStatementCommand,
  ExecuteStatementCommand,
  GetStatementResultCommand,
  RedshiftDataClient,
  type ColumnMetadata,
  type DescribeStatementResponse,
  type Field,
} from '@aws-sdk/client-redshift-data';
import { assertDataApiLimits } from '../core/data-api-limits';
import { PermanentError, TransientError, WarehouseTimeoutError } from '../core/errors';
import { classifyAwsError, type AwsError } from './aws-errors';
import type { Warehouse } from './ports';

export interface RedshiftDataWarehouseOptions {
  workgroupName: string;
  database: string;
  /**
   * Secrets Manager secret with the database user's credentials, passed as `SecretArn` on every
   * ExecuteStatement / BatchExecuteStatement. Absent: the Data API maps the caller's IAM identity to a
   * database user (Serverless), as before.
   */
  secretArn?: string;
  client?: RedshiftDataClient;
  /** First wait between DescribeStatement polls; grows ×1.5 up to `maxPollIntervalMs`. */
  pollIntervalMs?: number;
  maxPollIntervalMs?: number;
  /** Give up on one statement (cancelling it) after this long, whatever time the function has left. */
  timeoutMs?: number;
  /**
   * The time the running function has left (Lambda's context.getRemainingTimeInMillis). A statement still
   * running `cancelMarginMs` before that ends is cancelled and a WarehouseTimeoutError thrown, so Lambda never
   * kills the function while Redshift works on (a retry would then race the orphaned statement).
   * Absent (local runtime, tests): only `timeoutMs` bounds the wait.
   */
  remainingTimeMs?: () => number;
  /** Time kept back for CancelStatement and the error to reach Step Functions. */
  cancelMarginMs?: number;
}

const TRANSIENT_NAMES = new Set([
  'ActiveStatementsExceededException',
  'ActiveSessionsExceededException',
  'DatabaseConnectionException',
  'InternalServerException',
  'ThrottlingException',
  'TimeoutError',
]);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);
// Redshift errors that a later attempt can get past: concurrent writers, a restarting workgroup.
const TRANSIENT_SQL_ERROR =
  /serializable isolation violation|deadlock|conflict with concurrent transaction|connection/i;

function classifyApiError(error: unknown, what: string): Error {
  const message = `Redshift Data API ${what}: ${(error as AwsError).name ?? 'Error'}: ${(error as Error).message}`;
  return classifyAwsError(error, message, TRANSIENT_NAMES, NETWORK_CODES);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const oneLine = (sql: string | undefined) => (sql ?? '').replace(/\s+/g, ' ').slice(0, 300);

/** Values as SqlWarehouse returns them: BIGINT → number, NUMERIC → text, DATE → text, timestamps → Date. */
function fieldValue(field: Field, column: ColumnMetadata | undefined): unknown {
  if (field.isNull) return null;
  if (field.stringValue !== undefined) {
    const type = column?.typeName?.toLowerCase();
    // Redshift renders TIMESTAMP as 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC wall clock here) and TIMESTAMPTZ with '+00'.
    if (type === 'timestamp') return new Date(`${field.stringValue.replace(' ', 'T')}Z`);
    if (type === 'timestamptz') {
      return new Date(field.stringValue.replace(' ', 'T').replace(/([+-]\d\d)(?::?\d\d)*$/, '$1:00'));
    }
    return field.stringValue;
  }
  if (field.longValue !== undefined) return Number(field.longValue);
  if (field.doubleValue !== undefined) return field.doubleValue;
  if (field.booleanValue !== undefined) return field.booleanValue;
  return field.blobValue ?? null;
}

export class RedshiftDataWarehouse implements Warehouse {
  readonly dialect = 'redshift';
  private readonly client: RedshiftDataClient;
  private readonly target: { WorkgroupName: string; Database: string; SecretArn?: string };

  constructor(private readonly options: RedshiftDataWarehouseOptions) {
    this.client = options.client ?? new RedshiftDataClient({});
    this.target = {
      WorkgroupName: options.workgroupName,
      Database: options.database,
      // Only when given: an undefined SecretArn key would still be part of the request shape.
      ...(options.secretArn ? { SecretArn: options.secretArn } : {}),
    };
  }

  private async send<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw classifyApiError(error, what);
    }
  }

  /** All statements in one transaction (BatchExecuteStatement), waited for until it ends. */
  async executeBatch(statements: string[]): Promise<void> {
    // The API's own ValidationException would say less: which limit, and which statement.
    assertDataApiLimits(statements, 'BatchExecuteStatement');
    const { Id } = await this.send('BatchExecuteStatement', () =>
      this.client.send(new BatchExecuteStatementCommand({ ...this.target, Sqls: statements })),
    );
    const done = await this.wait(Id!);
    if (done.Status === 'FINISHED') return;
    const subs = done.SubStatements ?? [];
    const index = subs.findIndex((s) => s.Status === 'FAILED' || s.Error);
    const where =
      index >= 0 ? `statement ${index + 1}/${statements.length}` : `batch of ${statements.length} statements`;
    this.fail(done, where, index >= 0 ? (subs[index].QueryString ?? statements[index]) : undefined);
  }

  async query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    const { columns, rows } = await this.queryArrays(sql);
    return rows.map((values) => {
      const row: Record<string, unknown> = {};
      values.forEach((value, i) => (row[columns[i]] = value));
      return row as T;
    });
  }

  /**
   * The result by position, every column in order with its name, duplicates included (`SELECT 1 AS a, 2 AS a`):
   * what `cartflow query --env` prints, as the local warehouse's queryArrays does.
   */
  async queryArrays(sql: string): Promise<{ columns: string[]; rows: unknown[][] }> {
    assertDataApiLimits([sql], 'ExecuteStatement');
    const { Id } = await this.send('ExecuteStatement', () =>
      this.client.send(new ExecuteStatementCommand({ ...this.target, Sql: sql })),
    );
    const done = await this.wait(Id!);
    if (done.Status !== 'FINISHED') this.fail(done, 'query', sql);
    if (!done.HasResultSet) return { columns: [], rows: [] };
    const rows: unknown[][] = [];
    let columns: ColumnMetadata[] = [];
    let token: string | undefined;
    do {
      const page = await this.send('GetStatementResult', () =>
        this.client.send(new GetStatementResultCommand({ Id, NextToken: token })),
      );
      if (page.ColumnMetadata?.length) columns = page.ColumnMetadata;
      for (const record of page.Records ?? [])
        rows.push(record.map((field, i) => fieldValue(field, columns[i])));
      token = page.NextToken;
    } while (token);
    const width = Math.max(columns.length, ...rows.map((r) => r.length));
    return { columns: Array.from({ length: width }, (_, i) => columns[i]?.name ?? `column${i + 1}`), rows };
  }

  private fail(done: DescribeStatementResponse, where: string, sql: string | undefined): never {
    const message = `Redshift ${where} ${done.Status}: ${done.Error ?? 'no error text'}\n  in: ${oneLine(sql)}`;
    if (done.Status === 'FAILED' && TRANSIENT_SQL_ERROR.test(done.Error ?? ''))
      throw new TransientError(message);
    throw new PermanentError(message);
  }

  /** The moment (epoch ms) a wait must give up: the statement cap or the function's end, less the margin. */
  private deadline(): number {
    const { timeoutMs = 13 * 60_000, remainingTimeMs, cancelMarginMs = 15_000 } = this.options;
    const cap = Date.now() + timeoutMs;
    return remainingTimeMs ? Math.min(cap, Date.now() + remainingTimeMs() - cancelMarginMs) : cap;
  }

  /** Polls DescribeStatement with growing waits until the statement ends (FINISHED, FAILED or ABORTED). */
  private async wait(id: string): Promise<DescribeStatementResponse> {
    const { pollIntervalMs = 250, maxPollIntervalMs = 5_000 } = this.options;
    const deadline = this.deadline();
    const started = Date.now();
    for (let delay = pollIntervalMs; ; delay = Math.min(delay * 1.5, maxPollIntervalMs)) {
      const status = await this.send('DescribeStatement', () =>
        this.client.send(new DescribeStatementCommand({ Id: id })),
      );
      if (status.Status === 'FINISHED' || status.Status === 'FAILED' || status.Status === 'ABORTED')
        return status;
      if (Date.now() >= deadline) {
        // A retry must not race the still-running statement.
        await this.send('CancelStatement', () => this.client.send(new CancelStatementCommand({ Id: id })));
        throw new WarehouseTimeoutError(
          `Redshift statement ${id} still ${status.Status} after ${Date.now() - started} ms, too close to the function's timeout; cancelled (the state machine retries it; if it recurs, raise lambdaTimeoutSeconds in lib/config.ts or lower volume.bucketThresholdLines)`,
        );
      }
      // Never sleep past the deadline: the last poll and the cancel happen before it.
      await sleep(Math.max(0, Math.min(delay, deadline - Date.now())));
    }
  }
}
