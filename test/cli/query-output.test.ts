import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { MemoryLakeStore } from '../../bench/support/memory-lake';
import { toCsv } from '../../cli/csv';
import { openDatabase } from '../../local/embedded-postgres';
import { SqlWarehouse } from '../../local/warehouse';

/** Each case: `<name>.sql`, a query, and `<name>.csv`, the exact bytes `cartflow query` prints for it. */
const FIXTURES = new URL('../fixtures/query/', import.meta.url);
const cases = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.sql'))
  .map((f) => f.slice(0, -'.sql'.length))
  .sort();

describe('cartflow query output', () => {
  let warehouse: SqlWarehouse;

  before(async () => {
    warehouse = new SqlWarehouse(await openDatabase({}), new MemoryLakeStore('memory-lake'));
  });

  after(() => warehouse.close());

  for (const name of cases) {
    it(`prints ${name}.sql exactly as ${name}.csv`, async () => {
      // Prepare
      const sql = readFileSync(new URL(`${name}.sql`, FIXTURES), 'utf8');
      const expected = readFileSync(new URL(`${name}.csv`, FIXTURES), 'utf8');

      // Act
      const { columns, rows } = await warehouse.queryArrays(sql);

      // Assess
      assert.equal(toCsv(columns, rows), expected);
    });
  }

  it('has the cases the output promises', () => {
    assert.deepEqual(cases, [
      'aggregates',
      'duplicate-and-unnamed',
      'no-rows',
      'null-and-empty',
      'quoting',
      'several-statements',
      'types',
    ]);
  });
});

describe('toCsv', () => {
  it('quotes a field only for a comma, a quote, CR, LF or emptiness, doubling its quotes', () => {
    // Act
    const csv = toCsv(
      ['plain', 'comma', 'quote', 'cr', 'lf', 'empty', 'null', 'space'],
      [['x', 'a,b', 'say "hi"', 'a\rb', 'a\nb', '', null, ' ']],
    );

    // Assess
    assert.equal(csv, 'plain,comma,quote,cr,lf,empty,null,space\nx,"a,b","say ""hi""","a\rb","a\nb","",, \n');
  });

  it('keeps every column by position and ends each line, the last too, in LF', () => {
    // Act
    const csv = toCsv(
      ['a', 'a', '?column?'],
      [
        [1, 2, 3],
        [null, '', 'z'],
      ],
    );

    // Assess
    assert.equal(csv, 'a,a,?column?\n1,2,3\n,"",z\n');
  });

  it('prints nothing for a statement without columns', () => {
    assert.equal(toCsv([], []), '');
  });
});
