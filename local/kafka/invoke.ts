/**
 * One invocation of the stream handler the way the event-source mapping makes it: build the MSK event,
 * call the handler, retry a failure with exponential backoff, and when the retries are spent write the
 * batch to the on-failure destination in the lake so the mapping can move past it.
 */
import type { MSKEvent } from 'aws-lambda';
import type { LakeStore } from '../../lambdas/adapters/ports';
import { LAKE } from '../../lambdas/contract';
import {
  asLambdaEvent,
  buildMskEvent,
  partitionRanges,
  type KafkaRecord,
  type MskEvent,
  type MskSource,
} from './msk-event';

export type StreamHandler<R = unknown> = (event: MSKEvent) => Promise<R>;

/**
 * Where batches that failed every attempt go: the prefix Lambda writes a mapping's S3 on-failure records
 * under on AWS (lambdas/contract.ts), so the lake, its lifecycle rule and the alarm's rule see the same keys.
 */
export const ON_FAILURE_PREFIX = LAKE.streamOnFailure;
/** Stands in for the mapping's UUID, the first path segment under the prefix on AWS. */
export const LOCAL_MAPPING_ID = 'local';

export interface InvokeOptions<R> {
  handler: StreamHandler<R>;
  source?: MskSource;
  /** Retries after the first attempt (the mapping's MaximumRetryAttempts). */
  retries: number;
  /** Wait before retry n is backoffMs * 2^(n-1), capped at 30 s. */
  backoffMs: number;
  /** On-failure destination; without one, a batch that fails every attempt is an error. */
  lake?: LakeStore;
  sleep?: (ms: number) => Promise<void>;
}

export type BatchOutcome<R> =
  | { status: 'ok'; attempts: number; result: R }
  | { status: 'failed'; attempts: number; error: Error; onFailureKeys: string[] };

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function invokeBatch<R>(
  records: readonly KafkaRecord[],
  options: InvokeOptions<R>,
): Promise<BatchOutcome<R>> {
  const sleep = options.sleep ?? defaultSleep;
  const event = buildMskEvent(records, options.source);
  let lastError: Error | undefined;
  for (let attempt = 0; attempt <= options.retries; attempt++) {
    if (attempt > 0) await sleep(Math.min(30_000, options.backoffMs * 2 ** (attempt - 1)));
    try {
      // A fresh copy each time: a handler that mutates its event must not change the retry's input.
      const result = await options.handler(asLambdaEvent(structuredClone(event)));
      return { status: 'ok', attempts: attempt + 1, result };
    } catch (error) {
      lastError = error instanceof Error ? error : new Error(String(error));
    }
  }
  if (!options.lake) throw lastError!;
  const attempts = options.retries + 1;
  const onFailureKeys = await writeOnFailure(options.lake, records, event, lastError!, attempts);
  return { status: 'failed', attempts, error: lastError!, onFailureKeys };
}

/**
 * One object per topic-partition of the failed batch, named by its offset range so a redelivered failure
 * overwrites instead of adding. The body follows the mapping's on-failure record: request/response
 * context, KafkaBatchInfo with every partition's range, and the payload (that partition's records).
 */
async function writeOnFailure(
  lake: LakeStore,
  records: readonly KafkaRecord[],
  event: MskEvent,
  error: Error,
  attempts: number,
): Promise<string[]> {
  const ranges = partitionRanges(records);
  const payloadSize = Buffer.byteLength(JSON.stringify(event));
  const recordsInfo = Object.fromEntries(
    ranges.map((r) => [
      `${r.topic}-${r.partition}`,
      {
        firstRecordOffset: String(r.firstOffset),
        firstRecordTimestamp: new Date(r.firstTimestamp).toISOString(),
        lastRecordOffset: String(r.lastOffset),
        lastRecordTimestamp: new Date(r.lastTimestamp).toISOString(),
      },
    ]),
  );
  const keys: string[] = [];
  for (const r of ranges) {
    const id = `${r.topic}-${r.partition}`;
    // AWS: aws/lambda/<mapping UUID>/<partition>/YYYY/MM/DD/<time>-<uuid>; here the offset range names the
    // object, so a redelivered failure overwrites it instead of adding one.
    const key = `${ON_FAILURE_PREFIX}${LOCAL_MAPPING_ID}/${id}/${r.firstOffset}-${r.lastOffset}.json`;
    const body = {
      requestContext: {
        functionArn: 'local:stream-to-parquet',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: attempts,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: new Date().toISOString(),
      KafkaBatchInfo: {
        batchSize: records.length,
        eventSourceArn: event.eventSourceArn,
        bootstrapServers: event.bootstrapServers,
        payloadSize,
        recordsInfo,
      },
      errorType: error.name,
      errorMessage: error.message,
      payload: { ...event, records: { [id]: event.records[id] } },
    };
    await lake.put(key, JSON.stringify(body, null, 2), 'application/json');
    keys.push(key);
  }
  return keys;
}
