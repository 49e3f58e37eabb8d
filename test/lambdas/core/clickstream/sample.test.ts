import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeserializationFailure, processBatch } from '../../../../lambdas/core/clickstream/batch';
import { generateClickEvents, type SampleOptions } from '../../../../lambdas/core/clickstream/sample';

const options: SampleOptions = {
  count: 5000,
  seed: 7,
  start: new Date('2024-05-01T10:30:00Z'),
  minutes: 90,
  duplicateShare: 0.05,
  malformedShare: 0.03,
};

/** What the handler would pass on: parsed JSON, or a failure marker for text that is not JSON. */
const asRecords = (values: string[]) =>
  values.map((text, offset) => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = new DeserializationFailure(text, 'value: expected JSON text');
    }
    return { topic: 'clickstream', partition: 0, offset, timestamp: options.start.getTime(), value };
  });

describe('generateClickEvents', () => {
  it('gives the same messages for the same options and others for another seed', () => {
    // Act
    const [a, b, c] = [
      generateClickEvents(options),
      generateClickEvents(options),
      generateClickEvents({ ...options, seed: 8 }),
    ];

    // Assess
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.values, c.values);
  });

  it('predicts exactly what a batch keeps, drops and quarantines', () => {
    // Prepare
    const { values, expected } = generateClickEvents(options);

    // Act
    const { stats } = processBatch(asRecords(values));

    // Assess
    assert.equal(values.length, options.count);
    assert.equal(expected.valid + expected.malformed, options.count);
    assert.equal(stats.events, expected.distinctEventIds);
    assert.equal(stats.duplicates, expected.valid - expected.distinctEventIds);
    assert.equal(stats.quarantined, expected.malformed);
    // The shares are honoured roughly: 3 % malformed, 5 % of the rest repeated.
    assert.ok(expected.malformed > 100 && expected.malformed < 200, `${expected.malformed} malformed`);
    assert.ok(stats.duplicates > 180 && stats.duplicates < 320, `${stats.duplicates} duplicates`);
  });

  it('spreads event times over the requested minutes and types over the contract', () => {
    // Prepare
    const { values } = generateClickEvents(options);

    // Act
    const { objects } = processBatch(asRecords(values));
    const events = objects.flatMap((o) => o.rows);

    // Assess
    const times = events.map((e) => e.ts.getTime());
    const end = options.start.getTime() + options.minutes * 60_000;
    assert.ok(Math.min(...times) >= options.start.getTime() && Math.max(...times) < end);
    assert.deepEqual(
      objects.map((o) => o.key.split('/')[3]),
      ['hour=10', 'hour=11'],
    );
    assert.equal(new Set(events.map((e) => e.event_type)).size, 8);
    assert.ok(events.some((e) => e.event_type === 'error' && e.service !== null));
    assert.ok(events.some((e) => e.price_cents !== null));
  });
});
