/** The scratch space of a suite that runs steps over an in-memory lake. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { MemoryLakeStore } from '../../bench/support/memory-lake';
import { Engine } from '../../lambdas/core/engine/engine';

export interface Workspace {
  /** A fresh temp directory, removed after the suite. */
  dir: string;
  /** An engine to read what the steps wrote (128 MB, one thread, spilling under `dir`). */
  engine: Engine;
  lake: MemoryLakeStore;
}

/**
 * Registers the suite's before and after hooks that open and close a workspace (call it in a `describe`);
 * its fields are set once the suite's first before hook has run.
 */
export function useWorkspace(prefix: string): Workspace {
  const workspace = {} as Workspace;
  before(async () => {
    workspace.dir = await mkdtemp(join(tmpdir(), prefix));
    workspace.engine = await Engine.open({
      memoryLimitMb: 128,
      tempDirectory: join(workspace.dir, 'spill'),
      threads: 1,
    });
    workspace.lake = new MemoryLakeStore();
  });
  after(async () => {
    workspace.engine.close();
    await rm(workspace.dir, { recursive: true, force: true });
  });
  return workspace;
}
