/**
 * What the batch benchmarks share: a lake kept in a local directory (objects are files, so a day of any
 * size costs the benchmark process no memory and S3 I/O is not part of the figures), the raw/ parts of a
 * generated day written as the extract steps write them, in a child process of the benchmark.
 */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { LakeObject, LakeStore } from '../../lambdas/adapters/ports';
import { conformProduct } from '../../lambdas/core/conform';
import { Engine, sqlLiteral } from '../../lambdas/core/engine/engine';
import { writeRowsParquet } from '../../lambdas/core/engine/table-io';
import { DIRTY_KINDS, generateDay, type DirtySpec } from '../../lambdas/core/generator';
import { layout } from '../../lambdas/core/layout';
import { fromSource } from '../../lambdas/core/source-rows';
import { SOURCES, TABLES } from '../../lambdas/core/tables';

export class DirectoryLakeStore implements LakeStore {
  readonly bucket = 'cartflow-bench';

  constructor(readonly root: string) {}

  private file(key: string): string {
    return join(this.root, key);
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    await mkdir(dirname(this.file(key)), { recursive: true });
    await writeFile(this.file(key), body);
  }

  async get(key: string): Promise<Uint8Array> {
    return readFile(this.file(key));
  }

  async getText(key: string): Promise<string> {
    return readFile(this.file(key), 'utf8');
  }

  async list(prefix: string): Promise<LakeObject[]> {
    const found: LakeObject[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else {
          const key = path.slice(this.root.length + 1);
          if (key.startsWith(prefix)) {
            const { size, mtimeMs } = await stat(path);
            found.push({ key, etag: `"${size}-${mtimeMs}"`, size });
          }
        }
      }
    };
    await walk(this.root);
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async deletePrefix(prefix: string): Promise<number> {
    const objects = await this.list(prefix);
    for (const object of objects) await rm(this.file(object.key));
    return objects.length;
  }

  async download(key: string, path: string): Promise<void> {
    await copyFile(this.file(key), path);
  }

  async upload(key: string, path: string): Promise<void> {
    await mkdir(dirname(this.file(key)), { recursive: true });
    await copyFile(path, this.file(key));
  }

  async uploadIf(key: string, path: string, etag: string | undefined): Promise<boolean> {
    const current = (await this.list(key)).find((o) => o.key === key);
    if (current?.etag !== etag) return false;
    await this.upload(key, path);
    return true;
  }

  async move(from: string, to: string): Promise<void> {
    await mkdir(dirname(this.file(to)), { recursive: true });
    await rename(this.file(from), this.file(to));
  }
}

/**
 * Runs this benchmark script again in a child process, with its arguments and `--setup dataDir`, and
 * returns what the child printed, parsed: the day is generated there, so its memory is not in the
 * parent's peak RSS.
 */
export function setupInChild<T>(dataDir: string): T {
  const stdout = execFileSync(
    process.execPath,
    [...process.execArgv, process.argv[1], ...process.argv.slice(2), '--setup', dataDir],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1024 * 1024 },
  );
  return JSON.parse(stdout) as T;
}

/** Rows per raw part: the extract's chunks are 50,000 rows; a bigger part keeps the file count low here. */
const PART_ROWS = 250_000;

/**
 * Generates a day of about `lines` order lines (with `dirtyShare` planted bad rows, spread over the
 * dirty kinds) and writes its raw/ parts to `lake`, as extract-orders and extract-products would. Holds
 * the generated day in memory: run it in a process of its own when memory is measured.
 */
export async function writeRawDay(
  lake: LakeStore,
  workDir: string,
  options: { date: string; lines: number; dirtyShare: number },
): Promise<{ orders: number; lines: number; products: number; perKind: number }> {
  // makeOrder draws 1..5 lines per order: 3 on average.
  const orders = Math.max(1, Math.round(options.lines / 3));
  const perKind = Math.round((orders * options.dirtyShare) / DIRTY_KINDS.length);
  const dirty: DirtySpec = Object.fromEntries(DIRTY_KINDS.map((kind) => [kind, perKind]));
  const day = generateDay({ date: options.date, orders, seed: 7, dirty });
  const engine = await Engine.open({
    memoryLimitMb: 1024,
    tempDirectory: join(workDir, 'spill'),
    threads: 2,
  });
  try {
    const datasets = [
      ['orders', TABLES.raw_orders, day.orders.map(fromSource(SOURCES.orders))],
      ['order_items', TABLES.raw_order_items, day.items.map(fromSource(SOURCES.order_items))],
      ['products', TABLES.products, day.catalog.map((p) => conformProduct(p).row)],
    ] as const;
    for (const [dataset, def, rows] of datasets) {
      for (let part = 0; part * PART_ROWS < Math.max(rows.length, 1); part++) {
        const path = join(workDir, `raw-${dataset}-${part}.parquet`);
        await writeRowsParquet(engine, def, rows.slice(part * PART_ROWS, (part + 1) * PART_ROWS), path);
        await lake.upload(layout.rawPart(dataset, options.date, part), path);
        await rm(path);
      }
    }
  } finally {
    engine.close();
  }
  return { orders: day.orders.length, lines: day.items.length, products: day.catalog.length, perKind };
}

/**
 * Multiplies a written raw day by `copies` with DuckDB (order ids suffixed per copy, so every copy's
 * orders are distinct): the way to a day bigger than the generator can hold in memory. One part per copy.
 */
export async function replicateRawDay(
  lake: DirectoryLakeStore,
  date: string,
  copies: number,
  workDir: string,
) {
  const engine = await Engine.open({
    memoryLimitMb: 1024,
    tempDirectory: join(workDir, 'spill'),
    threads: 2,
  });
  try {
    for (const dataset of ['orders', 'order_items'] as const) {
      const prefix = layout.rawPrefix(dataset, date);
      const base = (await lake.list(prefix)).map((o) => join(lake.root, o.key));
      const merged = join(workDir, `base-${dataset}.parquet`);
      await engine.writeParquet(`SELECT * FROM read_parquet([${base.map(sqlLiteral).join(', ')}])`, merged);
      await lake.deletePrefix(prefix);
      for (let copy = 0; copy < copies; copy++) {
        const path = join(workDir, `copy-${dataset}-${copy}.parquet`);
        await engine.writeParquet(
          `SELECT * REPLACE (order_id || '-${copy}' AS order_id) FROM read_parquet(${sqlLiteral(merged)})`,
          path,
        );
        await lake.upload(layout.rawPart(dataset, date, copy), path);
        await rm(path);
      }
      await rm(merged);
    }
  } finally {
    engine.close();
  }
}

/** Bytes under a directory (0 when it does not exist). */
export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    try {
      total += (await stat(join(entry.parentPath, entry.name))).size;
    } catch {
      // Spill files come and go while the engine runs.
    }
  }
  return total;
}
