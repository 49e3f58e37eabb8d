import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../lib/config';
import {
  engineCapacity,
  largestDayLines,
  largestDayOf,
  largestSplitDayOf,
  MEASURED_STEPS,
} from '../../lib/engine-capacity';

const GB = 1024 ** 3;
/** A measurement whose process stayed within DuckDB's limit, and a function with room outside it. */
const noMemoryBound = { peakRssMb: 1000, memoryLimitMb: 1000 };
const room = { memoryMb: 4096, memoryLimitMb: 2048 };

describe('largestDayLines', () => {
  it('scales the measured day to 80 % of the timeout when /tmp is not the limit', () => {
    // Prepare: 10M lines in 100 s with 1 GB of /tmp, on 2 threads
    const measured = { lines: 10_000_000, seconds: 100, tmpBytes: GB, threads: 2, ...noMemoryBound };
    const capacity = { timeShare: 0.8, timeoutSeconds: 900, tmpBytes: 10 * GB, threads: 2, ...room };
    // Act
    const largest = largestDayLines(measured, capacity);
    // Assess: 720 s at 100,000 lines/s
    assert.deepEqual(largest, { lines: 72_000_000, bound: 'time' });
  });

  it('is bound by /tmp when the spill and working files fill it first', () => {
    const measured = { lines: 10_000_000, seconds: 10, tmpBytes: 4 * GB, threads: 2, ...noMemoryBound };
    const capacity = { timeShare: 0.8, timeoutSeconds: 900, tmpBytes: 10 * GB, threads: 2, ...room };
    assert.deepEqual(largestDayLines(measured, capacity), { lines: 25_000_000, bound: '/tmp' });
  });

  it('takes a function with fewer threads than the measurement as that much slower', () => {
    const measured = { lines: 10_000_000, seconds: 100, tmpBytes: GB, threads: 2, ...noMemoryBound };
    const capacity = { timeShare: 0.8, timeoutSeconds: 900, tmpBytes: 10 * GB, threads: 1, ...room };
    assert.deepEqual(largestDayLines(measured, capacity), { lines: 36_000_000, bound: 'time' });
  });

  it('is bound by memory when what lies outside the limit would outgrow the room the function leaves', () => {
    // Prepare: 10M lines left 512 MB outside the limit; the function leaves 1,024 MB outside its own
    const measured = {
      lines: 10_000_000,
      seconds: 10,
      tmpBytes: GB,
      threads: 2,
      peakRssMb: 2560,
      memoryLimitMb: 2048,
    };
    const capacity = {
      timeShare: 0.8,
      timeoutSeconds: 900,
      tmpBytes: 10 * GB,
      threads: 2,
      memoryMb: 4096,
      memoryLimitMb: 3072,
    };
    // Act
    const largest = largestDayLines(measured, capacity);
    // Assess
    assert.deepEqual(largest, { lines: 20_000_000, bound: 'memory' });
  });

  it('reads an environment capacity off its config', () => {
    const capacity = engineCapacity(loadConfig('prod'));
    assert.deepEqual(capacity, {
      timeShare: 0.8,
      timeoutSeconds: 900,
      tmpBytes: 10_240 * 1024 * 1024,
      threads: 2,
      memoryMb: 4096,
      memoryLimitMb: 2457,
    });
  });
});

describe('largestSplitDayOf', () => {
  it("is the buckets' share of the day, up to the whole day one bucket's Transform reads", () => {
    // Prepare
    const prod = loadConfig('prod');
    const few = { ...prod, volume: { ...prod.volume, bucketCount: 2 } };
    // Act
    const wide = largestSplitDayOf(prod);
    const narrow = largestSplitDayOf(few);
    // Assess: 16 buckets are bound by the whole-day Transform, 2 by twice the per-bucket day
    assert.equal(
      wide.lines,
      largestDayLines(MEASURED_STEPS.Transform, engineCapacity(prod), ['time', '/tmp']).lines,
    );
    assert.match(wide.bound, /reads the whole day/);
    assert.equal(narrow.lines, 2 * largestDayOf(prod).lines);
  });
});
