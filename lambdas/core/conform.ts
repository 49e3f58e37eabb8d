/**
 * Conforming catalog records: source strings → typed product candidates (trimmed, cased, money in cents);
 * orders and their lines are conformed in SQL by the transform step. A value that cannot
 * be parsed becomes null and is described in `issues`; the quality rules then decide the row's fate.
 */
import { parseCents, parseInstant } from './dates';
import type { CatalogProduct, ProductCandidate } from './model';

export interface Conformed<T> {
  row: T;
  /** One entry per unparseable field, naming the field and what was expected. */
  issues: string[];
}

const text = (value: string | null): string | null => {
  if (value === null) return null;
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
};

const upper = (value: string | null): string | null => text(value)?.toUpperCase() ?? null;

/** Runs a parser on a trimmed value; on failure records the issue under `field` and yields null. */
function parseField<T>(
  value: string | null,
  field: string,
  parse: (s: string) => T,
  issues: string[],
): T | null {
  const trimmed = text(value);
  if (trimmed === null) return null;
  try {
    return parse(trimmed);
  } catch (error) {
    issues.push(`${field}: ${(error as Error).message}`);
    return null;
  }
}

export function conformProduct(src: CatalogProduct): Conformed<ProductCandidate> {
  const issues: string[] = [];
  const row: ProductCandidate = {
    product_id: text(src.product_id),
    name: text(src.name),
    category: text(src.category),
    price_cents: parseField(src.price, 'price', parseCents, issues),
    currency: upper(src.currency),
    updated_at: parseField(src.updated_at, 'updated_at', parseInstant, issues),
  };
  return { row, issues };
}
