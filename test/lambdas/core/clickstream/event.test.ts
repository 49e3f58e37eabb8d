import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseClickEvent } from '../../../../lambdas/core/clickstream/event';

interface ParseCases {
  valid: { name: string; value: unknown; ts: string; event_date: string; price_cents: string | null }[];
  invalid: { name: string; value: unknown; reason: string }[];
}

const cases = JSON.parse(
  readFileSync(new URL('../../../fixtures/clickstream/parse-cases.json', import.meta.url), 'utf8'),
) as ParseCases;

describe('parseClickEvent', () => {
  for (const c of cases.valid) {
    it(`accepts ${c.name}`, () => {
      // Prepare
      const value = c.value as Record<string, unknown>;

      // Act
      const parsed = parseClickEvent(value);

      // Assess
      assert.ok('event' in parsed, `rejected: ${'reason' in parsed ? parsed.reason : ''}`);
      const { event } = parsed;
      assert.equal(event.event_id, value.event_id);
      assert.equal(event.event_type, value.event_type);
      assert.equal(event.ts.toISOString(), c.ts);
      assert.equal(event.event_date, c.event_date);
      assert.equal(event.price_cents, c.price_cents === null ? null : BigInt(c.price_cents));
      assert.equal(event.user_id, value.user_id ?? null);
      assert.equal(event.product_id, value.product_id ?? null);
      assert.equal(event.order_id, value.order_id ?? null);
      assert.equal(event.service, value.service ?? null);
      assert.equal(event.error_code, value.error_code ?? null);
    });
  }

  for (const c of cases.invalid) {
    it(`rejects ${c.name}, naming the field and what was expected`, () => {
      // Act
      const parsed = parseClickEvent(c.value);

      // Assess
      assert.ok('reason' in parsed, 'accepted');
      assert.ok(parsed.reason.startsWith(c.reason), `reason was: ${parsed.reason}`);
    });
  }

  it('keeps only the contract fields', () => {
    // Prepare
    const value = { event_id: 'a', event_type: 'search', ts: '2024-05-01T10:00:00Z', query: 'shoes' };

    // Act
    const parsed = parseClickEvent(value);

    // Assess
    assert.ok('event' in parsed);
    assert.deepEqual(Object.keys(parsed.event).sort(), [
      'error_code',
      'event_date',
      'event_id',
      'event_type',
      'order_id',
      'price_cents',
      'product_id',
      'service',
      'session_id',
      'ts',
      'user_id',
    ]);
  });
});
