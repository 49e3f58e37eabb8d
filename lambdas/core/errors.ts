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

/** A dataset's quarantined share passed its threshold: the run stops before anything is loaded. */
export class QualityGateError extends PermanentError {}

/** COPY input does not match the target table (column count or type): fails locally as on Redshift. */
export class CopyMismatchError extends PermanentError {}

/** Error names the state machine retries on (besides the Lambda service's own). */
export const RETRYABLE_ERRORS = [TransientError.name] as const;
