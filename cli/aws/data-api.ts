/**
 * The Redshift Data API of an --env command, where it is not there (LocalStack community answers "not
 * included in your current license plan", an endpoint that refuses or does not resolve): one typed error that
 * names the command and what it needs the API for, instead of the SDK's error after its retries.
 */
import type { RedshiftDataClient } from '@aws-sdk/client-redshift-data';
import { DataApiUnavailableError } from '../../lambdas/core/errors';

/** Error names of an API the endpoint does not serve. */
const UNSERVED_NAMES = new Set(['UnknownOperationException', 'UnknownOperation', 'NotImplemented']);
/** Connection failures that no retry of this command gets past: nothing listens, no such host. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);
/** LocalStack's answer for a service outside its plan (HTTP 501). */
const UNSERVED_MESSAGE = /not included in your current license plan|not yet (implemented|been emulated)/i;

/** The error (or one it wraps) says the Data API is not served at this endpoint or cannot be reached. */
export function isDataApiUnavailable(error: unknown): boolean {
  for (let at = error as Record<string, unknown> | undefined, hops = 0; at && hops < 5; hops++) {
    const metadata = at.$metadata as { httpStatusCode?: number } | undefined;
    if (
      UNSERVED_NAMES.has(String(at.name)) ||
      UNREACHABLE_CODES.has(String(at.code)) ||
      metadata?.httpStatusCode === 501 ||
      UNSERVED_MESSAGE.test(String(at.message))
    )
      return true;
    at = at.cause as Record<string, unknown> | undefined;
  }
  return false;
}

export interface DataApiUser {
  /** The command, as typed (`backfill`). */
  command: string;
  /** What the command reads or writes through the API (Command.dataApiUse). */
  use?: string;
  workgroup: string;
}

/** Makes every call of `client` that finds the Data API unavailable throw a DataApiUnavailableError. */
export function nameDataApiUser(client: RedshiftDataClient, user: DataApiUser): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if (!isDataApiUnavailable(error)) throw error;
        throw new DataApiUnavailableError(
          `cartflow ${user.command} --env needs the Redshift Data API${user.use ? ` (${user.use})` : ''}, and ` +
            `it is unavailable for workgroup ${user.workgroup}: ${(error as Error).message} ` +
            '(LocalStack community has no Data API; otherwise check --profile, --region and AWS_ENDPOINT_URL)',
          { cause: error },
        );
      }
    },
    { step: 'initialize', name: 'cartflowDataApiUnavailable' },
  );
}
