/**
 * MSK event-source mapping → Parquet in the lake, exactly once: object keys are derived from the
 * batch's offset ranges (core/clickstream/batch.ts), so when a write fails the handler throws, the
 * mapping redelivers the whole batch, and the retry overwrites the same objects.
 */
import { isUtf8 } from 'node:buffer';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MSKEvent } from 'aws-lambda';
import { DeserializationFailure, processBatch, type StreamRecord } from '../core/clickstream/batch';
import { CLICKSTREAM_TABLES } from '../core/clickstream/tables';
import { InputFormatError } from '../core/errors';
import { adapters } from '../adapters/context';
import { writeJsonLines, writeParquet } from '../adapters/lake-tables';
import { logger, metrics } from '../adapters/observability';

export interface StreamResult {
  /** Events written (valid, duplicates dropped). */
  written: number;
  quarantined: number;
  /** Every key written, sorted. */
  objects: string[];
}

/** Parallel PUTs per invocation: enough to hide S3 latency, few enough to keep the memory bounded. */
const WRITE_CONCURRENCY = 8;

/**
 * Base64 values → JSON, record by record. Not Powertools' kafkaConsumer: its deserialization is lazy
 * per record, but its JSON deserializer swallows a parse error, console.error()s the whole payload and
 * returns the text instead, so the reason is lost and a poisoned topic floods the logs; its getters also
 * decode again on every access. Here a record that is not UTF-8 JSON becomes a DeserializationFailure,
 * quarantined with its reason while the rest of the batch goes on.
 */
export function decodeRecords(event: MSKEvent): StreamRecord[] {
  return [...eachRecord(event)];
}

/** decodeRecords one record at a time; the "records" object is checked before the first record. */
function eachRecord(event: MSKEvent): Iterable<StreamRecord> {
  if (typeof event?.records !== 'object' || event.records === null) {
    throw new InputFormatError('MSK event: expected a "records" object of topic-partition → records');
  }
  return decodeLazily(event.records);
}

function* decodeLazily(byPartition: MSKEvent['records']): Generator<StreamRecord> {
  for (const list of Object.values(byPartition)) {
    for (const { topic, partition, offset, timestamp, value: encoded } of list) {
      let value: unknown;
      if (encoded === undefined || encoded === null || encoded === '') {
        value = new DeserializationFailure('', 'value: expected a JSON object, got an empty Kafka message');
      } else {
        const text = decodeBase64Utf8(encoded);
        if (text === undefined) {
          value = new DeserializationFailure(
            encoded,
            'value: expected UTF-8 JSON text (raw is the base64 value)',
          );
        } else {
          try {
            value = JSON.parse(text);
          } catch (error) {
            value = new DeserializationFailure(
              text,
              `value: expected JSON text (${(error as Error).message})`,
            );
          }
        }
      }
      yield { topic, partition, offset, timestamp, value };
    }
  }
}

/** Reused for every value: decoding into it allocates no Buffer per record. */
let decoded = Buffer.allocUnsafe(64 * 1024);

/**
 * A base64 value → its UTF-8 text, or undefined when the bytes are not UTF-8. The decoder replaces
 * every invalid sequence with U+FFFD, so only text containing U+FFFD (rare; it may also be a valid,
 * encoded U+FFFD) needs the exact isUtf8 check of the bytes.
 */
function decodeBase64Utf8(encoded: string): string | undefined {
  const bound = Math.ceil(encoded.length / 4) * 3;
  if (bound > decoded.length) decoded = Buffer.allocUnsafe(Math.max(bound, decoded.length * 2));
  const size = decoded.write(encoded, 0, 'base64');
  const text = decoded.toString('utf8', 0, size);
  return text.includes('\uFFFD') && !isUtf8(decoded.subarray(0, size)) ? undefined : text;
}

/** Runs the writes with bounded parallelism; after a failure no new write starts, and the first error is thrown. */
async function runAll(writes: (() => Promise<void>)[]): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < writes.length) {
      try {
        await writes[next++]();
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const workers = Array.from({ length: Math.min(WRITE_CONCURRENCY, writes.length) }, worker);
  const rejected = (await Promise.allSettled(workers)).find((r) => r.status === 'rejected');
  if (rejected) throw rejected.reason;
}

export const handler = async (event: MSKEvent): Promise<StreamResult> => {
  const { objects, windows, quarantined, stats } = processBatch(eachRecord(event));
  const { lake } = adapters();
  const writes: { key: string; write: () => Promise<void> }[] = [
    ...objects.map((o) => ({
      key: o.key,
      write: () => writeParquet(lake, o.key, CLICKSTREAM_TABLES[o.table], o.rows),
    })),
    ...windows.map((w) => ({
      key: w.key,
      write: () => writeParquet<object>(lake, w.key, CLICKSTREAM_TABLES[w.table], w.rows),
    })),
    ...quarantined.map((q) => ({ key: q.key, write: () => writeJsonLines(lake, q.key, q.records) })),
  ];
  // A failed write fails the invocation: the mapping retries the batch and the same keys are overwritten.
  await runAll(writes.map((w) => w.write));

  metrics.addMetric('EventsWritten', MetricUnit.Count, stats.events);
  metrics.addMetric('EventsQuarantined', MetricUnit.Count, stats.quarantined);
  metrics.addMetric('DuplicatesDropped', MetricUnit.Count, stats.duplicates);
  metrics.publishStoredMetrics();
  logger.info('stream batch written', { ...stats, objects: writes.length });

  return {
    written: stats.events,
    quarantined: stats.quarantined,
    objects: writes.map((w) => w.key).sort(),
  };
};
