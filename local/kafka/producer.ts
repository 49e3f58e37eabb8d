/**
 * `cartflow produce`: publishes sample clickstream messages (core/clickstream/sample.ts, planted
 * duplicates and malformed messages included) to a Kafka broker, keyed by session like a shop's
 * front end would, with the same placement as a recorded topic (topic.ts).
 */
import { CompressionTypes, Partitioners } from 'kafkajs';
import { ensureTopic, kafkaClient } from './esm-poller';
import { DEFAULT_PARTITIONS, messageKey } from './topic';

export interface ProduceOptions {
  brokers: string[];
  topic: string;
  /** The message texts, sent in this order. */
  values: readonly string[];
  /** Partitions of the topic when it has to be created. @default 3 */
  partitions?: number;
  /** Kafka timestamp (CREATE_TIME) of message i. @default the time of sending */
  timestampOf?: (index: number) => number;
  /** Messages per produce request. @default 1000 */
  chunk?: number;
  onProgress?: (sent: number) => void;
}

export interface ProduceResult {
  sent: number;
  topicCreated: boolean;
  /** Messages now in the topic, by partition (earlier runs' included). */
  perPartition: Record<number, number>;
}

export async function produceMessages(options: ProduceOptions): Promise<ProduceResult> {
  const kafka = kafkaClient(options.brokers, 'cartflow-producer');
  const admin = kafka.admin();
  // Idempotent: a retried request never writes a message twice, so the only duplicates are the planted ones.
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  const chunk = options.chunk ?? 1000;
  await admin.connect();
  try {
    const topicCreated = await ensureTopic(admin, options.topic, options.partitions ?? DEFAULT_PARTITIONS);
    await producer.connect();
    for (let start = 0; start < options.values.length; start += chunk) {
      const messages = options.values.slice(start, start + chunk).map((value, j) => ({
        key: messageKey(value, start + j),
        value,
        ...(options.timestampOf ? { timestamp: String(options.timestampOf(start + j)) } : {}),
      }));
      await producer.send({ topic: options.topic, messages, acks: -1, compression: CompressionTypes.None });
      options.onProgress?.(Math.min(options.values.length, start + chunk));
    }
    const perPartition: Record<number, number> = {};
    for (const p of await admin.fetchTopicOffsets(options.topic)) {
      perPartition[p.partition] = Number(p.high) - Number(p.low);
    }
    return { sent: options.values.length, topicCreated, perPartition };
  } finally {
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect();
  }
}
