import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { invocationsPerDay } from '../../lib/scheduled-calls';

describe('invocationsPerDay of an EventBridge schedule expression', () => {
  test('rates: per minute, hour and day', () => {
    assert.equal(invocationsPerDay('rate(5 minutes)'), 288);
    assert.equal(invocationsPerDay('rate(1 minute)'), 1440);
    assert.equal(invocationsPerDay('rate(2 hours)'), 12);
    assert.equal(invocationsPerDay('rate(1 day)'), 1);
  });

  test('crons: the nightly run once a day, steps, lists and weekdays', () => {
    assert.equal(invocationsPerDay('cron(0 3 * * ? *)'), 1);
    assert.equal(invocationsPerDay('cron(30 2 * * ? *)'), 1);
    assert.equal(invocationsPerDay('cron(0/15 * * * ? *)'), 96);
    assert.equal(invocationsPerDay('cron(0,30 8-9 * * ? *)'), 4);
    assert.equal(invocationsPerDay('cron(0 3 ? * MON-FRI *)'), 5 / 7);
  });

  test('anything else is refused, naming the expression', () => {
    assert.throws(
      () => invocationsPerDay('at(2026-01-01T00:00:00)'),
      /"at\(2026-01-01T00:00:00\)": expected rate/,
    );
  });
});
