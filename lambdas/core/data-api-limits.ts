/**
 * The Redshift Data API's request limits, enforced before a call by the Redshift adapter and by the local
 * warehouse stand-in alike, so a batch that AWS would refuse fails the local tests too.
 */
import { PermanentError } from './errors';

/** BatchExecuteStatement takes 1 to 40 SQL statements (the `Sqls` array). */
export const MAX_BATCH_STATEMENTS = 40;

/**
 * Most bytes in one statement. AWS documents "the maximum query statement size is 100 KB"; counted here as
 * 100,000 UTF-8 bytes, the stricter reading.
 */
export const MAX_STATEMENT_BYTES = 100_000;

/** A batch or statement the Data API would refuse: it never succeeds as it is, so it is not retried. */
export class DataApiLimitError extends PermanentError {}

const preview = (sql: string) => sql.replace(/\s+/g, ' ').slice(0, 120);

/** Throws DataApiLimitError unless every statement fits MAX_STATEMENT_BYTES and, for a batch, their count fits. */
export function assertDataApiLimits(
  statements: readonly string[],
  call: 'BatchExecuteStatement' | 'ExecuteStatement',
) {
  if (call === 'BatchExecuteStatement' && statements.length > MAX_BATCH_STATEMENTS) {
    throw new DataApiLimitError(
      `${call}: ${statements.length} statements, the Data API takes at most ${MAX_BATCH_STATEMENTS} per batch (split the batch; first: ${preview(statements[0])})`,
    );
  }
  statements.forEach((sql, index) => {
    const bytes = Buffer.byteLength(sql, 'utf8');
    if (bytes > MAX_STATEMENT_BYTES) {
      throw new DataApiLimitError(
        `${call}: statement ${index + 1}/${statements.length} is ${bytes} bytes, the Data API takes at most ${MAX_STATEMENT_BYTES} (100 KB): ${preview(sql)}`,
      );
    }
  });
}

/** `items` in slices of at most `size`, in order: how a variable-length batch stays within the limit. */
export function chunked<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`chunk size ${size} must be a positive integer`);
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}
