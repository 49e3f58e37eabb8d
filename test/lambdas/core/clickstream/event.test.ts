import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { validateEventsSql } from '../../../../lambdas/core/clickstream/event';
import { Engine, sqlLiteral } from '../../../../lambdas/core/engine/engine';

interface ParseCases {
  valid: { name: string; value: unknown; ts: string; event_date: string; price_cents: string | null }[];
  invalid: { name: string; value: unknown; reason: string }[];
}

const cases = JSON.parse(
  readFileSync(new URL('../../../fixtures/clickstream/parse-cases.json', import.meta.url), 'utf8'),
) as ParseCases;

interface Checked {
  off: number;
  reason: string | null;
  raw: string;
  event_id: string | null;
  event_type: string | null;
  user_id: string | null;
  session_id: string | null;
  product_id: string | null;
  ts: Date | null;
  event_date: string | null;
  order_id: string | null;
  price_cents: string | null;
  service: string | null;
  error_code: string | null;
}

describe('validateEventsSql', () => {
  let engine: Engine;
  /** Runs the rules over Kafka values (text, or raw bytes), one record per value at offsets 0, 1, …. */
  const validate = async (values: (string | Buffer)[]): Promise<Checked[]> => {
    const rows = values.map((v, off) => {
      const bytes = typeof v === 'string' ? Buffer.from(v) : v;
      return `(${off}, ${sqlLiteral(bytes.toString('base64'))})`;
    });
    return engine.rows<Checked>(`
      SELECT off, reason, raw, event_id, event_type, user_id, session_id, product_id, ts,
             CAST(event_date AS VARCHAR) AS event_date, order_id,
             CAST(CAST(price * 100 AS BIGINT) AS VARCHAR) AS price_cents, service, error_code
      FROM (${validateEventsSql(`(
        SELECT 'clickstream' AS topic, 0 AS partition, CAST(off AS BIGINT) AS off,
               1714557600000.0 AS kafka_ts, value, TRY(decode(from_base64(value))) AS text
        FROM (VALUES ${rows.join(', ')}) AS v(off, value))`)})
      ORDER BY off`);
  };

  before(async () => {
    engine = await Engine.open({
      memoryLimitMb: 256,
      tempDirectory: `${tmpdir()}/cartflow-event-test`,
      threads: 1,
    });
  });

  after(() => engine.close());

  it('accepts every valid case with its exact time, date, price and fields', async () => {
    // Act
    const checked = await validate(cases.valid.map((c) => JSON.stringify(c.value)));

    // Assess
    for (const [i, c] of cases.valid.entries()) {
      const row = checked[i];
      const value = c.value as Record<string, unknown>;
      assert.equal(row.reason, null, `${c.name} rejected: ${row.reason}`);
      assert.deepEqual(
        [
          row.event_id,
          row.event_type,
          row.ts?.toISOString(),
          row.event_date,
          row.price_cents,
          row.user_id,
          row.session_id,
          row.product_id,
          row.order_id,
          row.service,
          row.error_code,
        ],
        [
          value.event_id,
          value.event_type,
          c.ts,
          c.event_date,
          c.price_cents,
          value.user_id ?? null,
          value.session_id ?? null,
          value.product_id ?? null,
          value.order_id ?? null,
          value.service ?? null,
          value.error_code ?? null,
        ],
        c.name,
      );
    }
  });

  it('rejects every invalid case, naming the field and what was expected, and keeps the text', async () => {
    // Prepare
    const texts = cases.invalid.map((c) => JSON.stringify(c.value));

    // Act
    const checked = await validate(texts);

    // Assess
    for (const [i, c] of cases.invalid.entries()) {
      const row = checked[i];
      assert.ok(row.reason?.startsWith(c.reason), `${c.name}: reason was ${row.reason}`);
      assert.equal(row.raw, texts[i], c.name);
    }
  });

  it('rejects values that are no JSON text: empty, not UTF-8, truncated', async () => {
    // Act
    const checked = await validate(['', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), '{"event_id":"e1",']);

    // Assess: bytes that are not text are kept as their base64.
    assert.deepEqual(
      checked.map((r) => [r.reason, r.raw]),
      [
        ['value: expected a JSON object, got an empty Kafka message', ''],
        ['value: expected UTF-8 JSON text (raw is the base64 value)', 'e//+fQ=='],
        ['value: expected JSON text (not valid JSON)', '{"event_id":"e1",'],
      ],
    );
  });

  it('ignores fields outside the contract and reports the first broken rule', async () => {
    // Act
    const [extra, twoBroken] = await validate([
      '{"event_id":"a","event_type":"search","ts":"2024-05-01T10:00:00Z","query":"shoes"}',
      '{"event_id":"a","event_type":"click","ts":"yesterday"}',
    ]);

    // Assess
    assert.equal(extra.reason, null);
    assert.match(twoBroken.reason ?? '', /^event_type: /);
  });
});
