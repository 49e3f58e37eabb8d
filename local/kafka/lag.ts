/**
 * The local consumer lag of `status`: per partition of the topic, its high watermark against the offset the
 * event-source-mapping stand-in's group committed (esm-poller.ts STREAM_GROUP). What OffsetLag is on AWS.
 */
import { Kafka, logLevel } from 'kafkajs';
import type { LagSource, PartitionLag, StreamLag } from '../status';

/** The lag from the topic's offsets and the group's (kafkajs Admin fetchTopicOffsets and fetchOffsets). */
export function lagOf(
  topicOffsets: readonly { partition: number; high: string; low: string }[],
  groupOffsets: readonly { partition: number; offset: string }[],
): PartitionLag[] {
  const committed = new Map(groupOffsets.map((p) => [p.partition, p.offset]));
  return [...topicOffsets]
    .sort((a, b) => a.partition - b.partition)
    .map((p) => {
      const offset = committed.get(p.partition);
      // -1: the group never committed on the partition; it starts from the oldest record kept.
      const has = offset !== undefined && Number(offset) >= 0;
      return {
        partition: p.partition,
        committed: has ? offset : null,
        end: p.high,
        lag: Math.max(0, Number(p.high) - Number(has ? offset : p.low)),
      };
    });
}

export function kafkaLag(options: { brokers: string[]; topic: string; group: string }): LagSource {
  return {
    async lag(): Promise<StreamLag> {
      const kafka = new Kafka({
        clientId: 'cartflow-status',
        brokers: options.brokers,
        logLevel: logLevel.NOTHING,
        retry: { retries: 1, initialRetryTime: 250 },
      });
      const admin = kafka.admin();
      await admin.connect();
      try {
        const topics = await admin.listTopics();
        if (!topics.includes(options.topic)) {
          return {
            source: 'kafka',
            total: null,
            group: options.group,
            topic: options.topic,
            note: `topic ${options.topic} does not exist yet (cartflow produce creates it)`,
          };
        }
        const [ends, [group]] = await Promise.all([
          admin.fetchTopicOffsets(options.topic),
          admin.fetchOffsets({ groupId: options.group, topics: [options.topic] }),
        ]);
        const partitions = lagOf(ends, group?.partitions ?? []);
        return {
          source: 'kafka',
          total: partitions.reduce((sum, p) => sum + p.lag, 0),
          group: options.group,
          topic: options.topic,
          partitions,
        };
      } finally {
        await admin.disconnect();
      }
    },
  };
}
