/**
 * The clickstream event contract (docs/source-contract.md, "Clickstream events"): one JSON object per Kafka message,
 * validated into the row shape of analytics.fact_click_event. The rules are data (EVENT_RULES) compiled
 * to SQL over the decoded message text by core/quality/compile-sql.ts (DuckDB's JSON functions), so a
 * batch is validated in bulk with no JavaScript per record.
 */
import { compileMessageChecks } from '../quality/compile-sql';
import type { MessageCheck } from '../quality/rules';

export const EVENT_TYPES = [
  'page_view',
  'product_view',
  'add_to_cart',
  'remove_from_cart',
  'checkout',
  'purchase',
  'search',
  'error',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** VARCHAR byte lengths of the string columns (clickstream/tables.ts): longer text would fail the COPY. */
export const ID_LENGTH = 128;
export const NAME_LENGTH = 64;

/**
 * The rules of an event, in the order a message's reason is looked for (its first broken rule). Events
 * outside the `ts` window are rejected: a wrong unit (epoch seconds read as milliseconds lands in January
 * 1970) or a broken clock would otherwise create stray partitions. No event type is a refund, and the
 * batch side quarantines negative prices too.
 */
export const EVENT_RULES: readonly MessageCheck[] = [
  { field: 'event_id', kind: 'text', maxBytes: ID_LENGTH, required: true },
  { field: 'event_type', kind: 'one_of', values: EVENT_TYPES },
  { field: 'ts', kind: 'instant', min: '2000-01-01', max: '2100-01-01' },
  { field: 'price', kind: 'decimal', integerDigits: 10, fractionDigits: 2, min: 0 },
  { field: 'user_id', kind: 'text', maxBytes: ID_LENGTH },
  { field: 'session_id', kind: 'text', maxBytes: ID_LENGTH },
  { field: 'product_id', kind: 'text', maxBytes: ID_LENGTH },
  { field: 'order_id', kind: 'text', maxBytes: ID_LENGTH },
  { field: 'service', kind: 'text', maxBytes: NAME_LENGTH },
  { field: 'error_code', kind: 'text', maxBytes: NAME_LENGTH },
];

/**
 * SQL that validates decoded messages. `source` has the columns topic, partition, off, kafka_ts,
 * value (the base64 Kafka value) and text (its UTF-8 text; NULL when the bytes are not UTF-8). The
 * result keeps those and adds `reason` (NULL for a valid event: the first rule it breaks, naming the
 * field and what was expected, otherwise), `raw` (what a quarantined record keeps: the text, or the
 * base64 value when there is no text) and the columns of fact_click_event. `keep` names further source
 * columns the result passes on as they are (the stream's delivery order).
 */
export function validateEventsSql(source: string, keep: readonly string[] = []): string {
  const kept = keep.map((c) => `${c}, `).join('');
  const rules = compileMessageChecks(EVENT_RULES);
  const [first = [], second = []] = rules.stages;
  const ts = rules.value('ts');
  return `
    WITH decoded AS (
      SELECT ${kept}topic, partition, off, kafka_ts, value, text,
             CASE WHEN value IS NULL OR value = '' THEN 'empty' WHEN text IS NULL THEN 'utf8'
                  WHEN NOT json_valid(text) THEN 'json' END AS failure
      FROM ${source}
    ), fields AS (
      SELECT *,
             CASE WHEN failure IS NULL THEN json_type(text, ${rules.typePaths}) END AS types,
             CASE WHEN failure IS NULL THEN json_extract_string(text, ${rules.paths}) END AS texts
      FROM decoded
    ), parsed AS (
      SELECT *${second.map((c) => `, ${c}`).join('')}
      FROM (SELECT *, types[1] AS value_type${first.map((c) => `, ${c}`).join('')} FROM fields)
    )
    SELECT ${kept}topic, partition, off, kafka_ts,
           CASE
             WHEN failure = 'empty' THEN 'value: expected a JSON object, got an empty Kafka message'
             WHEN failure = 'utf8' THEN 'value: expected UTF-8 JSON text (raw is the base64 value)'
             WHEN failure = 'json' THEN 'value: expected JSON text (not valid JSON)'
             WHEN value_type <> 'OBJECT' THEN 'value: expected a JSON object, got ' || ${rules.describe('value_type', "json_extract_string(text, '$')")}
             ${rules.reasons}
           END AS reason,
           CASE WHEN failure = 'empty' THEN '' WHEN failure = 'utf8' THEN value ELSE text END AS raw,
           ${rules.value('event_id')} AS event_id,
           ${rules.value('event_type')} AS event_type,
           ${rules.value('user_id')} AS user_id,
           ${rules.value('session_id')} AS session_id,
           ${rules.value('product_id')} AS product_id,
           ${ts} AS ts,
           CAST(${ts} AS DATE) AS event_date,
           ${rules.value('order_id')} AS order_id,
           ${rules.value('price')} AS price,
           ${rules.value('service')} AS service,
           ${rules.value('error_code')} AS error_code
    FROM parsed`;
}
