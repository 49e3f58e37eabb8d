import { previousUtcDate } from '../../lambdas/core/dates';
import { generateClickEvents } from '../../lambdas/core/clickstream/sample';
import { loadConfig } from '../../lib/config';
import { replayRecording } from '../../local/kafka/stream';
import { spreadTimestamps } from '../../local/kafka/topic';
import type { LocalRuntime } from '../../local/runtime';
import { failureSummary, runOne, seedDay, summary } from './batch';
import { dateOption, intOption, type Command, type Values } from './command';

export const command: Command = {
  usage: `demo   [--date D] [--orders N] [--events N] seed a sample day, run the batch pipeline, replay a recorded
                                              clickstream through the stream Lambda + load-events, print a summary`,
  async run({ values, out, err, runtime }) {
    const started = Date.now();
    const date = dateOption(values, 'date', previousUtcDate(new Date()));
    const local = await runtime();
    err.write(`seeding ${date} …\n`);
    const day = await seedDay(local, { ...values, 'bad-rows': values['bad-rows'] ?? '10' }, date, 5000);
    err.write(
      `seeded ${day.orders.length} orders, ${day.items.length} order items, ${day.catalog.length} products\n`,
    );
    const outcome = await runOne(local, date, err);
    const clickstream = await demoStream(local, values, date, err);
    if (outcome.state) out.write(await summary(local, outcome.state, Date.now() - started, clickstream));
    else out.write(`${clickstream.join('\n')}\n`);
    out.write(failureSummary(outcome, date));
    return outcome.status === 'SUCCEEDED' ? 0 : 1;
  },
};

/**
 * The stream half of the demo, without a broker: an hour of sample clickstream (noon to 1 pm of the date),
 * recorded the way the producer would place it, replayed through stream-to-parquet, then load-events.
 */
async function demoStream(runtime: LocalRuntime, values: Values, date: string, err: NodeJS.WritableStream) {
  const events = intOption(values, 'events', 20_000);
  const { stream: config } = loadConfig('dev');
  const from = new Date(`${date}T12:00:00.000Z`);
  const to = new Date(from.getTime() + 3_600_000);
  const sample = generateClickEvents({
    count: events,
    seed: intOption(values, 'seed', 42),
    start: from,
    minutes: 60,
  });
  err.write(`replaying a recorded clickstream: ${events} messages over ${config.partitions} partitions …\n`);
  const run = await replayRecording(runtime, {
    values: sample.values,
    topic: config.topic,
    partitions: config.partitions,
    batchSize: config.batchSize,
    timestampOf: spreadTimestamps(events, from.getTime(), 3_600_000),
    window: { from, to },
  });
  const { totals, after } = run;
  const duplicates = totals.records - totals.quarantined - after.events;
  return [
    `clickstream ${from.toISOString().slice(0, 16)}Z +1h: ${totals.records} messages, ${totals.invocations} invocations of stream-to-parquet, ${totals.objects} objects, then load-events`,
    `  events loaded ${after.events} · duplicates dropped ${duplicates} · quarantined ${totals.quarantined} · minutes in agg_event_minute ${after.eventMinutes}, agg_error_minute ${after.errorMinutes}`,
  ];
}
