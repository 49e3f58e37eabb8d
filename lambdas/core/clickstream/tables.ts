/**
 * Warehouse tables of the clickstream (docs/warehouse-contract.md), declared like core/tables.ts
 * so the DDL and the Parquet schemas derive from them. The Parquet objects the stream writes have
 * exactly these columns in this order: Redshift's COPY maps Parquet columns by position.
 */
import { date, int64, money, str, timestamp, type TableDef } from '../tables';
import { ID_LENGTH, NAME_LENGTH } from './event';

const EVENT_TYPE_LENGTH = 32;

const factClickEvent: TableDef = {
  name: 'fact_click_event',
  schema: 'analytics',
  columns: [
    str('event_id', ID_LENGTH),
    str('event_type', EVENT_TYPE_LENGTH),
    str('user_id', ID_LENGTH, true),
    str('session_id', ID_LENGTH, true),
    str('product_id', ID_LENGTH, true),
    timestamp('ts'),
    date('event_date'),
    // Appended after the contract's columns ("columns may grow"): never reorder the ones above.
    str('order_id', ID_LENGTH, true),
    money('price', true),
    str('service', NAME_LENGTH, true),
    str('error_code', NAME_LENGTH, true),
  ],
  primaryKey: ['event_id'],
  partitionColumn: 'event_date',
  sortKey: ['event_date', 'ts'],
  // The load's DELETE … USING and its ranking join on event_id: on its slice, nothing is redistributed.
  distKey: 'event_id',
};

/**
 * Each stream batch writes partial counts for the minutes it saw: a window's rows from several objects
 * add up, so a load has to sum them per key.
 */
const aggEventMinute: TableDef = {
  name: 'agg_event_minute',
  schema: 'analytics',
  columns: [timestamp('window_start'), str('event_type', EVENT_TYPE_LENGTH), int64('events')],
  primaryKey: ['window_start', 'event_type'],
};

/** service and error_code are 'unknown' when the event has none, so they can take part in the key. */
const aggErrorMinute: TableDef = {
  name: 'agg_error_minute',
  schema: 'analytics',
  columns: [
    timestamp('window_start'),
    str('service', NAME_LENGTH),
    str('error_code', NAME_LENGTH),
    int64('errors'),
  ],
  primaryKey: ['window_start', 'service', 'error_code'],
};

export const CLICKSTREAM_TABLES = {
  fact_click_event: factClickEvent,
  agg_event_minute: aggEventMinute,
  agg_error_minute: aggErrorMinute,
} satisfies Record<string, TableDef>;

/** Row shapes of the two aggregate tables. */
export interface EventMinuteRow {
  window_start: Date;
  event_type: string;
  events: number;
}
export interface ErrorMinuteRow {
  window_start: Date;
  service: string;
  error_code: string;
  errors: number;
}
