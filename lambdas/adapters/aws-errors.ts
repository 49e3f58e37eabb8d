/** Retry or not, for an error thrown by an AWS SDK v3 client: the same rule for every service adapter. */
import { CartflowError, PermanentError, TransientError } from '../core/errors';

/** What an SDK error carries that tells whether a later attempt can get past it. */
export interface AwsError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/**
 * Throttling (429), 5xx, what the SDK marks retryable, the service's own transient error names and
 * network failures become a TransientError (the state machine retries it); anything else a PermanentError.
 * A CartflowError (already classified, e.g. thrown inside the call) passes through unchanged.
 */
export function classifyAwsError(
  error: unknown,
  message: string,
  transientNames: ReadonlySet<string>,
  networkCodes: ReadonlySet<string>,
): Error {
  if (error instanceof CartflowError) return error;
  const e = error as AwsError;
  const status = e.$metadata?.httpStatusCode;
  const transient =
    transientNames.has(e.name ?? '') ||
    networkCodes.has(e.code ?? '') ||
    e.$retryable !== undefined ||
    status === 429 ||
    (status !== undefined && status >= 500);
  return transient
    ? new TransientError(message, { cause: error })
    : new PermanentError(message, { cause: error });
}
