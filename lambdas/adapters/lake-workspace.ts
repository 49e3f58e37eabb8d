/**
 * A step's working directory: lake objects are streamed to local files for the engine to read, and the
 * files it writes are streamed back. Nothing is held whole in memory; `dispose` frees the disk (/tmp on
 * Lambda is kept between invocations of one execution environment).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Engine, type EngineSettings } from '../core/engine/engine';
import type { LakeStore } from './ports';

const PARALLEL_TRANSFERS = 8;

export class LakeWorkspace {
  /** Files fetched so far: numbers every local name, so keys with equal base names never collide. */
  private fetched = 0;

  private constructor(
    private readonly lake: LakeStore,
    readonly directory: string,
  ) {}

  static async open(lake: LakeStore, root: string): Promise<LakeWorkspace> {
    await mkdir(root, { recursive: true });
    return new LakeWorkspace(lake, await mkdtemp(join(root, 'step-')));
  }

  /** A local path for a file the step writes. */
  path(name: string): string {
    return join(this.directory, name);
  }

  /** Downloads the given keys; returns their local paths in the same order. */
  async fetch(keys: readonly string[]): Promise<string[]> {
    const first = this.fetched;
    this.fetched += keys.length;
    const paths = keys.map((key, i) => this.path(`in-${first + i}-${key.slice(key.lastIndexOf('/') + 1)}`));
    for (let start = 0; start < keys.length; start += PARALLEL_TRANSFERS) {
      await Promise.all(
        keys
          .slice(start, start + PARALLEL_TRANSFERS)
          .map((key, i) => this.lake.download(key, paths[start + i])),
      );
    }
    return paths;
  }

  /** Downloads every object under `prefix` whose key ends with `suffix`, in key order. */
  async fetchPrefix(prefix: string, suffix = '.parquet'): Promise<string[]> {
    const keys = (await this.lake.list(prefix)).map((o) => o.key).filter((key) => key.endsWith(suffix));
    keys.sort();
    return this.fetch(keys);
  }

  async publish(path: string, key: string, contentType = 'application/vnd.apache.parquet'): Promise<void> {
    await this.lake.upload(key, path, contentType);
  }

  async dispose(): Promise<void> {
    await rm(this.directory, { recursive: true, force: true });
  }
}

/**
 * Runs `work` with a fresh workspace under `directory` and an engine of its own; closes the engine and
 * frees the disk whatever happens (also when the engine fails to open).
 */
export async function withEngine<T>(
  lake: LakeStore,
  directory: string,
  settings: EngineSettings,
  work: (engine: Engine, workspace: LakeWorkspace) => Promise<T>,
): Promise<T> {
  const workspace = await LakeWorkspace.open(lake, directory);
  try {
    const engine = await Engine.open(settings);
    try {
      return await work(engine, workspace);
    } finally {
      engine.close();
    }
  } finally {
    await workspace.dispose();
  }
}
