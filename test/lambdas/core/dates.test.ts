import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assertBusinessDate,
  dateRange,
  dayBounds,
  formatCents,
  isBusinessDate,
  parseCents,
  parseInstant,
  previousUtcDate,
  utcDate,
} from '../../../lambdas/core/dates';
import { ConfigurationError, InputFormatError } from '../../../lambdas/core/errors';

describe('business dates', () => {
  it('accepts real calendar days only', () => {
    // Prepare
    const good = ['2024-02-29', '2023-12-31', '2000-01-01'];
    const bad = ['2023-02-29', '2024-13-01', '2024-1-01', '2024-01-01T00:00:00Z', '', 20240101, null];

    // Act
    const verdicts = [...good, ...bad].map((s) => isBusinessDate(s));

    // Assess
    assert.deepEqual(verdicts, [true, true, true, false, false, false, false, false, false, false]);
  });

  it('names the field and the expected format when a date is invalid', () => {
    // Prepare
    const value = '2024-02-30';

    // Act
    const attempt = () => assertBusinessDate(value, 'businessDate');

    // Assess
    assert.throws(attempt, (error: Error) => {
      assert.ok(error instanceof ConfigurationError);
      assert.match(
        error.message,
        /businessDate must be a calendar date in the form YYYY-MM-DD, got "2024-02-30"/,
      );
      return true;
    });
    assert.equal(assertBusinessDate('2024-02-29', 'businessDate'), '2024-02-29');
  });

  it('derives the previous UTC day, the UTC day of an instant and the day bounds', () => {
    // Prepare
    const instant = new Date('2024-03-01T00:30:00+01:00'); // 2024-02-29T23:30Z

    // Act
    const previous = previousUtcDate(instant);
    const day = utcDate(instant);
    const bounds = dayBounds('2024-02-29');

    // Assess
    assert.equal(previous, '2024-02-28');
    assert.equal(day, '2024-02-29');
    assert.equal(bounds.start.toISOString(), '2024-02-29T00:00:00.000Z');
    assert.equal(bounds.end.toISOString(), '2024-03-01T00:00:00.000Z');
  });

  it('lists a date range inclusively and rejects an inverted one', () => {
    // Prepare
    const [from, to] = ['2024-02-27', '2024-03-02'];

    // Act
    const range = dateRange(from, to);

    // Assess
    assert.deepEqual(range, ['2024-02-27', '2024-02-28', '2024-02-29', '2024-03-01', '2024-03-02']);
    assert.deepEqual(dateRange(from, from), [from]);
    assert.throws(() => dateRange(to, from), /date range is empty/);
  });
});

describe('parseInstant', () => {
  it('reads ISO-8601 with zones, fractions and zone-less values as UTC', () => {
    // Prepare
    const inputs = [
      '2024-01-15T10:30:00Z',
      '2024-01-15T12:30:00+02:00',
      '2024-01-15 05:30:00-0500',
      '2024-01-15T10:30:00.123456Z',
      '2024-01-15T10:30:00',
      '2024-01-15',
    ];

    // Act
    const parsed = inputs.map((s) => parseInstant(s).toISOString());

    // Assess
    assert.deepEqual(parsed, [
      '2024-01-15T10:30:00.000Z',
      '2024-01-15T10:30:00.000Z',
      '2024-01-15T10:30:00.000Z',
      '2024-01-15T10:30:00.123Z',
      '2024-01-15T10:30:00.000Z',
      '2024-01-15T00:00:00.000Z',
    ]);
  });

  it('rejects impossible days, times and garbage', () => {
    // Prepare
    const inputs = ['2024-02-30T00:00:00Z', '2024-01-15T24:00:00Z', 'yesterday', '1705314600000'];

    // Act / Assess
    for (const input of inputs) assert.throws(() => parseInstant(input), InputFormatError);
  });
});

describe('money', () => {
  it('parses decimals with up to two fraction digits into exact cents', () => {
    // Prepare
    const inputs = ['12', '12.3', '12.34', '-1.00', '0.07', '99999999999.99'];

    // Act
    const cents = inputs.map(parseCents);

    // Assess
    assert.deepEqual(cents, [1200n, 1230n, 1234n, -100n, 7n, 9999999999999n]);
  });

  it('rejects three decimals and garbage with a clear message', () => {
    // Prepare
    const inputs = ['12.345', '1e3', '', '12.', '.5', 'abc', '1,00'];

    // Act / Assess
    for (const input of inputs) {
      assert.throws(() => parseCents(input), {
        name: 'InputFormatError',
        message: `'${input}' is not a decimal with at most 2 fraction digits (expected e.g. 12.34)`,
      });
    }
  });

  it('formats cents with two fraction digits and round-trips', () => {
    // Prepare
    const cents = [1234n, 5n, 0n, -5n, -100n, 100000000n];

    // Act
    const text = cents.map(formatCents);

    // Assess
    assert.deepEqual(text, ['12.34', '0.05', '0.00', '-0.05', '-1.00', '1000000.00']);
    assert.deepEqual(text.map(parseCents), cents);
  });
});
