/**
 * The clickstream event contract (docs/source-contract.md, "Clickstream events"): one JSON object per Kafka message,
 * validated into the row shape of analytics.fact_click_event. The rules are SQL over the decoded
 * message text (DuckDB's JSON functions), so a batch is validated in bulk with no JavaScript per record.
 */

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
 * Events outside this window are rejected: a wrong unit (epoch seconds read as milliseconds lands in
 * January 1970) or a broken clock would otherwise create stray partitions.
 */
const TS_MIN_MS = Date.UTC(2000, 0, 1);
const TS_MAX_MS = Date.UTC(2100, 0, 1);

/** The message fields the rules read, in the order of the lists `types` and `texts` below. */
const FIELDS = [
  'event_id',
  'event_type',
  'ts',
  'price',
  'user_id',
  'session_id',
  'product_id',
  'order_id',
  'service',
  'error_code',
] as const;
type Field = (typeof FIELDS)[number];

/** The optional text fields, in the order their reasons are reported, with their byte lengths. */
const TEXT_FIELDS: [Field, number][] = [
  ['user_id', ID_LENGTH],
  ['session_id', ID_LENGTH],
  ['product_id', ID_LENGTH],
  ['order_id', ID_LENGTH],
  ['service', NAME_LENGTH],
  ['error_code', NAME_LENGTH],
];

const at = (field: Field) => FIELDS.indexOf(field) + 1;
// `types[1]` is the type of the whole value ('$'), the fields follow.
const typeOf = (field: Field) => `types[${at(field) + 1}]`;
const textOf = (field: Field) => `texts[${at(field)}]`;
const quote = (s: string) => `'${s.replaceAll("'", "''")}'`;

// ISO-8601 date-time; seconds and the offset are optional (no offset means UTC, as on Lambda).
const ISO_RE =
  '^(\\d{4})-(\\d{2})-(\\d{2})T(\\d{2}):(\\d{2})(?::(\\d{2})(?:\\.(\\d+))?)?(Z|[+-]\\d{2}:?\\d{2})?$';
const DECIMAL_RE = '-?[0-9]{1,10}([.][0-9]{1,2})?';
/**
 * What JavaScript's String.prototype.trim removes: an id of only these is empty. An id that starts with
 * a printable ASCII character other than space is not blank: most skip the regular expression.
 */
const BLANK_RE = '[\\s\\p{Z}\\x{FEFF}\\x{000B}]*';

/**
 * How a reason shows the offending value, as JSON would print it: text quoted (first 40 characters),
 * numbers and booleans as written, `null`, `an array`, `a object`, and `a undefined` when absent.
 */
function describe(type: string, text: string): string {
  return (
    `CASE WHEN ${type} IS NULL THEN 'a undefined' WHEN ${type} = 'NULL' THEN 'null' ` +
    `WHEN ${type} = 'ARRAY' THEN 'an array' WHEN ${type} = 'OBJECT' THEN 'a object' ` +
    `WHEN ${type} = 'VARCHAR' THEN CAST(to_json(CASE WHEN length(${text}) > 40 THEN left(${text}, 40) || '…' ` +
    `ELSE ${text} END) AS VARCHAR) ELSE ${text} END`
  );
}
const describeField = (field: Field) => describe(typeOf(field), textOf(field));

/** `ts` → epoch milliseconds, NULL when it is neither an ISO-8601 date-time nor whole epoch milliseconds. */
function tsMillis(): string {
  const type = typeOf('ts');
  const text = textOf('ts');
  const part = (name: string) => `TRY_CAST(iso.${name} AS INTEGER)`;
  // Milliseconds of the fraction: its first three digits, as Date.parse truncates.
  const fraction = `coalesce(TRY_CAST(rpad(left(iso.f, 3), 3, '0') AS INTEGER), 0)`;
  const zone = `replace(iso.z, ':', '')`;
  const zoneHours = `TRY_CAST(substr(${zone}, 2, 2) AS INTEGER)`;
  const zoneMinutes = `TRY_CAST(substr(${zone}, 4, 2) AS INTEGER)`;
  const offsetMinutes =
    `CASE WHEN iso.z = '' OR upper(iso.z) = 'Z' THEN 0 ` +
    `WHEN ${zoneHours} <= 23 AND ${zoneMinutes} <= 59 THEN ` +
    `(CASE WHEN left(iso.z, 1) = '-' THEN -1 ELSE 1 END) * (${zoneHours} * 60 + ${zoneMinutes}) END`;
  // TRY_CAST of the fields as a timestamp refuses impossible calendar days (02-30), as the contract does.
  const civil = `TRY_CAST(printf('%s-%s-%s %s:%s:%s', iso.y, iso.mo, iso.d, iso.h, iso.mi, CASE WHEN iso.s = '' THEN '00' ELSE iso.s END) AS TIMESTAMP)`;
  const fromIso =
    `CASE WHEN iso.y <> '' AND ${part('h')} <= 23 AND ${part('mi')} <= 59 AND coalesce(${part('s')}, 0) <= 59 ` +
    `THEN epoch_ms(${civil}) + ${fraction} - ${offsetMinutes} * 60000 END`;
  const double = `TRY_CAST(${text} AS DOUBLE)`;
  return (
    `CASE WHEN ${type} IN ('BIGINT', 'UBIGINT') THEN TRY_CAST(${text} AS BIGINT) ` +
    `WHEN ${type} = 'DOUBLE' AND ${double} = floor(${double}) AND abs(${double}) < 1e16 THEN CAST(${double} AS BIGINT) ` +
    `WHEN ${type} = 'VARCHAR' THEN ${fromIso} END`
  );
}

/**
 * `price` → exact DECIMAL(12,2), NULL when absent; `price_ok` is false when it is present but not a
 * decimal with at most 2 fraction digits and 10 integer digits (a JSON number, or the same as text), or
 * when it is negative: no event type is a refund, and the batch side quarantines negative prices too.
 */
function price(): { value: string; ok: string } {
  const type = typeOf('price');
  const text = textOf('price');
  const double = `TRY_CAST(${text} AS DOUBLE)`;
  const cents = `round(${double} * 100)`;
  const numberOk = `(${cents} / 100 = ${double} AND ${cents} >= 0 AND ${cents} < 1e12)`;
  // '-0' and '-0.00' are zero, not negative.
  const textOk = `(regexp_full_match(trim(${text}), '${DECIMAL_RE}') AND TRY_CAST(trim(${text}) AS DECIMAL(12, 2)) >= 0)`;
  return {
    ok:
      `CASE WHEN ${type} IS NULL OR ${type} = 'NULL' THEN true ` +
      `WHEN ${type} IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN coalesce(${numberOk}, false) ` +
      `WHEN ${type} = 'VARCHAR' THEN ${textOk} ELSE false END`,
    // Cents × 0.01 in DECIMAL arithmetic: exact, no binary fraction reaches the column.
    value:
      `CASE WHEN ${type} IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN CAST(CAST(CAST(${cents} AS BIGINT) AS DECIMAL(18, 0)) * 0.01 AS DECIMAL(12, 2)) ` +
      `WHEN ${type} = 'VARCHAR' THEN TRY_CAST(trim(${text}) AS DECIMAL(12, 2)) END`,
  };
}

const textOk = (field: Field, bytes: number) =>
  `(${typeOf(field)} IS NULL OR ${typeOf(field)} = 'NULL' OR (${typeOf(field)} = 'VARCHAR' AND strlen(${textOf(field)}) <= ${bytes}))`;
const textValue = (field: Field) => `CASE WHEN ${typeOf(field)} = 'VARCHAR' THEN ${textOf(field)} END`;

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
  const fieldPaths = FIELDS.map((f) => quote(`$.${f}`));
  const paths = `[${fieldPaths.join(', ')}]`;
  const typePaths = `['$', ${fieldPaths.join(', ')}]`;
  const eventId = textOf('event_id');
  const { value: priceValue, ok: priceOk } = price();
  const tsOk = `(ts_ms IS NOT NULL AND ts_ms >= ${TS_MIN_MS} AND ts_ms < ${TS_MAX_MS})`;
  const textReasons = TEXT_FIELDS.map(
    ([field, bytes]) =>
      `WHEN NOT ${textOk(field, bytes)} THEN '${field}: expected a string of at most ${bytes} bytes or null, got ' || ${describeField(field)}`,
  ).join(' ');
  return `
    WITH decoded AS (
      SELECT ${kept}topic, partition, off, kafka_ts, value, text,
             CASE WHEN value IS NULL OR value = '' THEN 'empty' WHEN text IS NULL THEN 'utf8'
                  WHEN NOT json_valid(text) THEN 'json' END AS failure
      FROM ${source}
    ), fields AS (
      SELECT *,
             CASE WHEN failure IS NULL THEN json_type(text, ${typePaths}) END AS types,
             CASE WHEN failure IS NULL THEN json_extract_string(text, ${paths}) END AS texts
      FROM decoded
    ), parsed AS (
      SELECT *, ${tsMillis()} AS ts_ms
      FROM (SELECT *, types[1] AS value_type,
                   CASE WHEN ${typeOf('ts')} = 'VARCHAR' THEN regexp_extract(${textOf('ts')}, '${ISO_RE}', ['y', 'mo', 'd', 'h', 'mi', 's', 'f', 'z'], 'i') END AS iso
            FROM fields)
    )
    SELECT ${kept}topic, partition, off, kafka_ts,
           CASE
             WHEN failure = 'empty' THEN 'value: expected a JSON object, got an empty Kafka message'
             WHEN failure = 'utf8' THEN 'value: expected UTF-8 JSON text (raw is the base64 value)'
             WHEN failure = 'json' THEN 'value: expected JSON text (not valid JSON)'
             WHEN value_type <> 'OBJECT' THEN 'value: expected a JSON object, got ' || ${describe('value_type', "json_extract_string(text, '$')")}
             WHEN ${typeOf('event_id')} IS DISTINCT FROM 'VARCHAR' OR strlen(${eventId}) > ${ID_LENGTH}
                  OR (ascii(${eventId}) NOT BETWEEN 33 AND 126 AND regexp_full_match(${eventId}, '${BLANK_RE}'))
               THEN 'event_id: expected a non-empty string of at most ${ID_LENGTH} bytes, got ' || ${describeField('event_id')}
             WHEN ${typeOf('event_type')} IS DISTINCT FROM 'VARCHAR' OR ${textOf('event_type')} NOT IN (${EVENT_TYPES.map(quote).join(', ')})
               THEN 'event_type: expected one of ${EVENT_TYPES.join('|')}, got ' || ${describeField('event_type')}
             WHEN NOT ${tsOk}
               THEN 'ts: expected an ISO-8601 date-time or epoch milliseconds between 2000-01-01 and 2100-01-01, got ' || ${describeField('ts')}
             WHEN NOT ${priceOk}
               THEN 'price: expected a decimal with at most 2 fraction digits and 10 integer digits, not negative, got ' || ${describeField('price')}
             ${textReasons}
           END AS reason,
           CASE WHEN failure = 'empty' THEN '' WHEN failure = 'utf8' THEN value ELSE text END AS raw,
           ${textOf('event_id')} AS event_id,
           ${textOf('event_type')} AS event_type,
           ${textValue('user_id')} AS user_id,
           ${textValue('session_id')} AS session_id,
           ${textValue('product_id')} AS product_id,
           CASE WHEN ${tsOk} THEN epoch_ms(ts_ms) END AS ts,
           CASE WHEN ${tsOk} THEN CAST(epoch_ms(ts_ms) AS DATE) END AS event_date,
           ${textValue('order_id')} AS order_id,
           CASE WHEN ${priceOk} THEN ${priceValue} END AS price,
           ${textValue('service')} AS service,
           ${textValue('error_code')} AS error_code
    FROM parsed`;
}
