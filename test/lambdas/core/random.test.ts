import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRandom } from '../../../lambdas/core/random';

describe('createRandom', () => {
  it('repeats the same sequence for the same seed and differs for another', () => {
    // Prepare
    const [a, b, c] = [createRandom(42), createRandom(42), createRandom('42:2024-01-01')];

    // Act
    const draws = (r: ReturnType<typeof createRandom>) => Array.from({ length: 5 }, () => r.next());
    const [first, second, third] = [draws(a), draws(b), draws(c)];

    // Assess
    assert.deepEqual(first, second);
    assert.notDeepEqual(first, third);
    assert.ok(first.every((x) => x >= 0 && x < 1));
  });

  it('keeps int() within both bounds and reaches each of them', () => {
    // Prepare
    const random = createRandom(7);

    // Act
    const values = Array.from({ length: 2000 }, () => random.int(1, 5));

    // Assess
    assert.deepEqual([...new Set(values)].sort(), [1, 2, 3, 4, 5]);
  });

  it('picks from a list, honours chance() extremes and refuses an empty list', () => {
    // Prepare
    const random = createRandom(1);
    const items = ['a', 'b', 'c'] as const;

    // Act
    const picks = new Set(Array.from({ length: 200 }, () => random.pick(items)));
    const never = Array.from({ length: 100 }, () => random.chance(0)).some(Boolean);
    const always = Array.from({ length: 100 }, () => random.chance(1)).every(Boolean);

    // Assess
    assert.deepEqual([...picks].sort(), ['a', 'b', 'c']);
    assert.equal(never, false);
    assert.equal(always, true);
    assert.throws(() => random.pick([]), RangeError);
  });
});
