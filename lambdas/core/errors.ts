/**
 * Typed pipeline errors. The state machine's Retry and Catch match on `name`,
 * so transient and permanent failures are different classes.
 */
export class CartflowError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A dependency was briefly unavailable (network, throttling, warehouse busy): retried with backoff. */
export class TransientError extends CartflowError {}

/** Input that can never succeed as it is (bad file, bad setting, contract violation): not retried. */
export class PermanentError extends CartflowError {}

/** An input file or record could not be parsed; names the file/record and what was expected. */
export class InputFormatError extends PermanentError {}

/** A setting (environment variable, config field, event field) is missing or invalid. */
export class ConfigurationError extends PermanentError {}

/** COPY input does not match the target table (column count or type): fails locally as on Redshift. */
export class CopyMismatchError extends PermanentError {}

/** One declared change EnsureWarehouse will not apply (core/schema-migration.ts). */
export interface RefusedSchemaChange {
  /** `schema.table` */
  table: string;
  column: string;
  /** What changed, e.g. `dropped`, `reordered`, `retyped INTEGER → BIGINT`. */
  change: string;
  /** How an operator applies it by hand. */
  byHand: string;
}

/**
 * The declared tables differ from the warehouse's in a way that would lose data or break COPY (a dropped,
 * renamed, reordered or retyped column): EnsureWarehouse changed nothing, and every run fails until the
 * declaration is restored or the change is made by hand (docs/warehouse-contract.md).
 */
export class SchemaChangeRefusedError extends PermanentError {
  constructor(readonly refusals: readonly RefusedSchemaChange[]) {
    super(
      [
        `EnsureWarehouse refused ${refusals.length} schema change(s) and changed nothing:`,
        ...refusals.map((r) => `- ${r.table}.${r.column}: ${r.change}. By hand: ${r.byHand}`),
        'See docs/warehouse-contract.md, "Changing a table by hand".',
      ].join('\n'),
    );
  }
}

/**
 * A warehouse statement outlived the time the function had left, so it was cancelled before the function
 * would have been killed: a fresh invocation gets its whole timeout again, so it is retried.
 */
export class WarehouseTimeoutError extends TransientError {}

/**
 * The source database's TLS handshake or certificate check failed: the CA bundle, the server name or the
 * server's TLS settings are wrong, and a retry would meet the same answer.
 */
export class SourceTlsError extends PermanentError {}

/**
 * A loader's position (its state object) is gone although it has loaded before: rescanning everything ever
 * written would outlast its timeout, so it stops and says how to set the position again.
 */
export class LoaderStateMissingError extends PermanentError {}

/**
 * Another run holds the run's business date (core/run-claim.ts), or a later run published it. Not a
 * failure: the batch state machine catches it into its Succeed state `Superseded`, so no failure alert
 * fires; `cartflow retry` refuses such a redrive with it. Never retried.
 */
export class SupersededRunError extends CartflowError {}

/**
 * What Step Functions reports when a Lambda task runs out of time: `Sandbox.Timedout` when the function
 * reaches its own timeout, `States.Timeout` when the task's TimeoutSeconds passes first.
 */
export const TASK_TIMEOUT_ERRORS = ['Sandbox.Timedout', 'States.Timeout'] as const;

/**
 * Error names the state machine retries on (besides the Lambda service's own). Retry matches exact names,
 * so every retried subclass of TransientError is listed, not only its base.
 */
export const RETRYABLE_ERRORS = [
  TransientError.name,
  WarehouseTimeoutError.name,
  ...TASK_TIMEOUT_ERRORS,
] as const;
