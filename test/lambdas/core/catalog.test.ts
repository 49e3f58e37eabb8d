import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { readCatalogFile, type CatalogRecordError } from '../../../lambdas/core/catalog';
import type { CatalogProduct } from '../../../lambdas/core/model';
import { InputFormatError } from '../../../lambdas/core/errors';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/catalog/${name}`, import.meta.url), 'utf8');

/** readCatalogFile over a whole file in memory, collected: records and record errors apart. */
async function parseCatalogFile(fileName: string, content: string) {
  const result = { records: [] as CatalogProduct[], errors: [] as CatalogRecordError[] };
  for await (const item of readCatalogFile(fileName, [Buffer.from(content)])) {
    if ('record' in item) result.records.push(item.record);
    else result.errors.push(item);
  }
  return result;
}

describe('readCatalogFile', () => {
  it('reads a JSON array, keeping numbers as decimal text and reporting bad elements by position', async () => {
    // Prepare
    const text = fixture('products.json');

    // Act
    const { records, errors } = await parseCatalogFile('landing/catalog/products.json', text);

    // Assess
    assert.deepEqual(
      records.map((r) => [r.product_id, r.price, r.currency]),
      [
        ['P-0001', '19.99', 'USD'],
        ['P-0002', '7.5', 'usd'],
      ],
    );
    assert.deepEqual(errors, [
      { line: 3, reason: 'expected a JSON object' },
      { line: 4, reason: 'name must be a string or a number, got {"en":"Drone"}' },
    ]);
  });

  it('reads JSON Lines, skipping blank lines and reporting a broken line by its number', async () => {
    // Prepare
    const text = fixture('products.jsonl');

    // Act
    const { records, errors } = await parseCatalogFile('products.jsonl', text);

    // Assess
    assert.deepEqual(
      records.map((r) => r.product_id),
      ['P-0001', 'P-0004', 'P-0006'],
    );
    assert.equal(errors.length, 1);
    assert.equal(errors[0].line, 3);
    assert.match(errors[0].reason, /^not valid JSON/);
  });

  it('reads CSV with the header in any order, quoted commas, doubled quotes, newlines and CRLF', async () => {
    // Prepare
    const text = fixture('products.csv');

    // Act
    const { records, errors } = await parseCatalogFile('products.CSV', text);

    // Assess
    assert.deepEqual(errors, []);
    assert.deepEqual(records, [
      {
        product_id: 'P-0001',
        name: 'Lamp, "Eco" edition',
        category: 'home',
        price: '19.99',
        currency: 'USD',
        updated_at: '2024-01-11T00:00:00Z',
      },
      {
        product_id: 'P-0007',
        name: 'Two-line\r\nname',
        category: 'toys',
        price: '5.00',
        currency: 'USD',
        updated_at: '2024-01-11T00:00:00Z',
      },
      {
        product_id: 'P-0008',
        name: 'Plain Puzzle',
        category: 'toys',
        price: '12.30',
        currency: 'USD',
        updated_at: '2024-01-11T00:00:00Z',
      },
    ]);
  });

  it('reports each bad CSV line with its line number while the good lines still parse', async () => {
    // Prepare
    const text = fixture('products-bad.csv');

    // Act
    const { records, errors } = await parseCatalogFile('products-bad.csv', text);

    // Assess
    assert.deepEqual(
      records.map((r) => r.product_id),
      ['P-0001', 'P-0004'],
    );
    assert.deepEqual(errors, [
      { line: 3, reason: 'expected 6 fields as in the header, found 7' },
      { line: 4, reason: 'unexpected text after the closing quote of field 2' },
      { line: 6, reason: 'unterminated quoted field 2' },
    ]);
  });

  it('throws naming the file when a CSV header lacks required columns', async () => {
    // Prepare
    const text = fixture('missing-columns.csv');

    // Act
    const attempt = () => parseCatalogFile('missing-columns.csv', text);

    // Assess
    await assert.rejects(attempt, (error: Error) => {
      assert.ok(error instanceof InputFormatError);
      assert.match(error.message, /^missing-columns\.csv: CSV header lacks category, currency, updated_at/);
      return true;
    });
  });

  it('throws naming the file and the expected formats for an unknown extension', async () => {
    // Prepare
    const fileName = 'landing/catalog/products.xml';

    // Act
    const attempt = () => parseCatalogFile(fileName, '<products/>');

    // Assess
    await assert.rejects(attempt, (error: Error) => {
      assert.ok(error instanceof InputFormatError);
      assert.match(error.message, /unsupported catalog file 'landing\/catalog\/products\.xml'/);
      assert.match(error.message, /\.json .*\.jsonl\/\.ndjson .*\.csv/);
      return true;
    });
  });

  it('throws for a whole file that cannot be parsed', async () => {
    // Prepare
    const truncated = '[{"product_id": "P-0001",';
    const notJson = 'product_id,name\nP-1,Lamp\n';

    // Act / Assess
    await assert.rejects(
      () => parseCatalogFile('truncated.json', truncated),
      /^InputFormatError: truncated\.json is not valid JSON/,
    );
    await assert.rejects(() => parseCatalogFile('object.json', '{}'), /object\.json must hold a JSON array/);
    await assert.rejects(
      () => parseCatalogFile('wrong.ndjson', notJson),
      /wrong\.ndjson: no line holds a product object \(line 1/,
    );
    await assert.rejects(() => parseCatalogFile('empty.csv', ''), /empty\.csv has no readable CSV header/);
  });
});
