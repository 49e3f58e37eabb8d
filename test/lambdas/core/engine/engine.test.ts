import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Engine, engineSettingsFromEnv, sqlLiteral } from '../../../../lambdas/core/engine/engine';
import { ConfigurationError } from '../../../../lambdas/core/errors';

/** Thrift compact encoding of a PageHeader's first field (1: i32 type): header byte, then zigzag(type). */
const PAGE_TYPE_FIELD = 0x15;
const DATA_PAGE = 0x00; // zigzag(0); DATA_PAGE_V2 (3) would be 0x06
/** The encodings of format v1 (DuckDB's PARQUET_VERSION V2 writes DELTA_BINARY_PACKED and RLE_DICTIONARY). */
const V1_ENCODINGS = new Set(['PLAIN', 'PLAIN_DICTIONARY', 'RLE']);

describe('Engine', () => {
  let dir: string;
  let engine: Engine;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cartflow-engine-'));
    engine = await Engine.open({ memoryLimitMb: 256, tempDirectory: join(dir, 'spill'), threads: 1 });
  });
  after(async () => {
    engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('streams a result in batches of at least the asked size, every row once and in order', async () => {
    // Act
    const batches: { n: number }[][] = [];
    for await (const batch of engine.rowBatches<{ n: number }>(
      'SELECT i::INTEGER AS n FROM range(10000) t(i)',
      3000,
    )) {
      batches.push(batch);
    }

    // Assess
    assert.ok(
      batches.slice(0, -1).every((b) => b.length >= 3000),
      String(batches.map((b) => b.length)),
    );
    assert.ok(batches.length >= 2 && batches.at(-1)!.length > 0);
    assert.deepEqual(
      batches.flat().map((r) => r.n),
      Array.from({ length: 10000 }, (_, i) => i),
    );
  });

  it('opens a second connection once: it reads the database tables, in UTC, while the first runs a statement', async () => {
    // Prepare
    await engine.run(
      'CREATE OR REPLACE TABLE shared AS SELECT 1 AS n; CREATE OR REPLACE TEMP TABLE own AS SELECT 2 AS n',
    );

    // Act
    const second = await engine.second();
    const [count, zone] = await Promise.all([
      second.scalar<bigint>('SELECT count(*) FROM shared'),
      second.scalar<string>("SELECT current_setting('TimeZone')"),
      engine.scalar<bigint>('SELECT sum(i) FROM range(1000000) t(i)'),
    ]);

    // Assess
    assert.equal(await engine.second(), second);
    assert.equal(count, 1n);
    assert.equal(zone, 'UTC');
    await assert.rejects(second.run('SELECT * FROM own'), /own/);
  });

  it('writes Parquet as Redshift COPY reads it: v1 data pages, DECIMAL(12,2) on INT64, UTF-8 strings', async () => {
    // Prepare: enough repeated values that some columns get a dictionary page before their data pages.
    const path = join(dir, 'curated.parquet');
    const select = `SELECT (i % 997)::DECIMAL(12,2) AS total_amount, 'café-' || (i % 7) AS category,
        TIMESTAMP '2024-03-10 00:00:00' + to_seconds(i) AS order_ts, DATE '2024-03-10' AS order_date, i::INTEGER AS n
      FROM range(50000) t(i)`;

    // Act
    const rows = await engine.writeParquet(select, path);

    // Assess
    assert.equal(rows, 50000);
    const file = await readFile(path);
    const chunks = await engine.rows<{ path_in_schema: string; data_page_offset: bigint; encodings: string }>(
      `SELECT path_in_schema, data_page_offset, encodings FROM parquet_metadata(${sqlLiteral(path)})`,
    );
    assert.equal(chunks.length, 5); // one row group
    for (const { path_in_schema, data_page_offset, encodings } of chunks) {
      for (const encoding of encodings.split(', ')) {
        assert.ok(V1_ENCODINGS.has(encoding), `${path_in_schema}: ${encoding} is not a format v1 encoding`);
      }
      const at = Number(data_page_offset);
      assert.deepEqual(
        [file[at], file[at + 1]],
        [PAGE_TYPE_FIELD, DATA_PAGE],
        `${path_in_schema}: not a v1 data page`,
      );
    }
    const schema = await engine.rows<{
      name: string;
      type: string;
      converted_type: string;
      precision: bigint;
    }>(
      `SELECT name, type, converted_type, precision FROM parquet_schema(${sqlLiteral(path)}) WHERE type IS NOT NULL`,
    );
    assert.deepEqual(
      schema.map((c) => [c.name, c.type, c.converted_type]),
      [
        ['total_amount', 'INT64', 'DECIMAL'],
        ['category', 'BYTE_ARRAY', 'UTF8'],
        ['order_ts', 'INT64', 'TIMESTAMP_MICROS'],
        ['order_date', 'INT32', 'DATE'],
        ['n', 'INT32', 'INT_32'],
      ],
    );
  });

  it('reads its memory limit from the function memory, or an explicit setting, and rejects a bad one', () => {
    assert.equal(engineSettingsFromEnv({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '4096' }).memoryLimitMb, 2457);
    assert.equal(engineSettingsFromEnv({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '4096' }).threads, 2);
    assert.equal(engineSettingsFromEnv({ CARTFLOW_ENGINE_MEMORY_MB: '512' }).memoryLimitMb, 512);
    assert.throws(() => engineSettingsFromEnv({ CARTFLOW_ENGINE_MEMORY_MB: 'lots' }), ConfigurationError);
  });

  it('leaves the rest of the function memory to the process outside DuckDB, and refuses a limit that would not', () => {
    // Prepare: prod's function (4,096 MB); bench:scale measured 1,232 MB outside the limit at 20M lines
    const prod = { AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '4096' };
    // Act
    const sized = engineSettingsFromEnv(prod);
    // Assess
    assert.ok(4096 - sized.memoryLimitMb >= 1232);
    assert.equal(engineSettingsFromEnv({ ...prod, CARTFLOW_ENGINE_MEMORY_MB: '2048' }).memoryLimitMb, 2048);
    assert.throws(
      () => engineSettingsFromEnv({ ...prod, CARTFLOW_ENGINE_MEMORY_MB: '4096' }),
      (error: Error) =>
        error instanceof ConfigurationError &&
        /CARTFLOW_ENGINE_MEMORY_MB="4096" must be at most 2457 MB in a function of 4096 MB/.test(
          error.message,
        ),
    );
  });
});
