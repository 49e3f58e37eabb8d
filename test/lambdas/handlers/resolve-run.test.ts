import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryLakeStore } from '../../../bench/support/memory-lake';
import { stepAdapters } from '../../../bench/support/step-adapters';
import { ConfigurationError } from '../../../lambdas/core/errors';
import { makeResolveRun } from '../../../lambdas/handlers/resolve-run';

/** ResolveRun over a warehouse edge that records its batches. */
function resolveRun() {
  const batches: string[][] = [];
  const warehouse = {
    dialect: 'postgres' as const,
    executeBatch: async (s: string[]) => void batches.push(s),
    query: async () => [],
  };
  return { resolve: makeResolveRun(stepAdapters({ lake: new MemoryLakeStore(), warehouse })), batches };
}

describe('resolve-run', () => {
  it('makes the execution name the run id for every way a run starts', async () => {
    // Prepare: the schedule's generated name, `run`/`backfill`'s date names.
    const { resolve, batches } = resolveRun();
    const starts = [
      {
        request: { time: '2026-03-08T03:00:00Z' },
        executionName: '5f0c2b1e-7d4a-4c3e-9a55-0123456789ab',
        timeoutMinutes: 60,
      },
      { request: { businessDate: '2026-03-07' }, executionName: '2026-03-07', timeoutMinutes: 60 },
      { request: { businessDate: '2026-03-07' }, executionName: '2026-03-07-a2', timeoutMinutes: 60 },
    ];

    // Act
    const runs = await Promise.all(starts.map((s) => resolve(s)));

    // Assess
    assert.deepEqual(
      runs.map((r) => [r.runId, r.businessDate]),
      [
        ['5f0c2b1e-7d4a-4c3e-9a55-0123456789ab', '2026-03-07'],
        ['2026-03-07', '2026-03-07'],
        ['2026-03-07-a2', '2026-03-07'],
      ],
    );
    // Each: its claim of the date, then its RUNNING record.
    assert.equal(batches.length, 6);
  });

  it('refuses a payload without the execution name', async () => {
    // Act + Assess
    await assert.rejects(
      resolveRun().resolve({ request: {} } as never),
      (error: Error) => error instanceof ConfigurationError && /\$\$\.Execution\.Name/.test(error.message),
    );
  });
});
