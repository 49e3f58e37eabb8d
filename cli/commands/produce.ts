import { generateClickEvents } from '../../lambdas/core/clickstream/sample';
import { loadConfig } from '../../lib/config';
import { produceMessages } from '../../local/kafka/producer';
import { spreadTimestamps } from '../../local/kafka/topic';
import { intOption, kafkaBrokers, type Command } from './command';

export const command: Command = {
  usage: `produce [--events N] [--seed S] [--topic T] publish sample clickstream messages (planted duplicates and
                                              malformed ones included) to Kafka ($KAFKA_BROKERS)`,
  async run({ values, out, err }) {
    const brokers = kafkaBrokers();
    const count = intOption(values, 'events', 10_000);
    const seedValue = intOption(values, 'seed', 42);
    const { stream: config } = loadConfig('dev');
    const topic = values.topic ?? config.topic;
    // The last hour: events and their Kafka timestamps both spread over it, so --from/--to replays make sense.
    const start = Date.now() - 3_600_000;
    const sample = generateClickEvents({ count, seed: seedValue, start: new Date(start), minutes: 60 });
    err.write(`producing ${count} messages to ${topic} on ${brokers.join(',')} …\n`);
    const result = await produceMessages({
      brokers,
      topic,
      values: sample.values,
      partitions: config.partitions,
      timestampOf: spreadTimestamps(count, start, 3_600_000),
    });
    const { valid, distinctEventIds, malformed } = sample.expected;
    out.write(
      `produced ${result.sent} messages to ${topic}${result.topicCreated ? ` (created with ${config.partitions} partitions)` : ''}: ` +
        `${distinctEventIds} valid events, ${valid - distinctEventIds} duplicates, ${malformed} malformed\n` +
        `messages in the topic by partition: ${Object.entries(result.perPartition)
          .map(([p, n]) => `${p}=${n}`)
          .join(' ')}\n`,
    );
    return 0;
  },
};
