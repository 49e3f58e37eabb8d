import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runStateMachine } from '../../local/step-functions';
import type { AslDefinition } from '../../local/synth-definitions';

/** A Map of one Task over three items, one at a time, without Retry or Catch. */
const mapOf = (maxConcurrency: number): AslDefinition => ({
  StartAt: 'LoadTables',
  States: {
    LoadTables: {
      Type: 'Map',
      MaxConcurrency: maxConcurrency,
      ItemsPath: '$.tables',
      ItemProcessor: {
        ProcessorConfig: { Mode: 'INLINE' },
        StartAt: 'LoadTable',
        States: {
          LoadTable: {
            Type: 'Task',
            Resource: 'arn:aws:lambda:us-east-1:000000000000:function:Load',
            End: true,
          },
        },
      },
      End: true,
    },
  },
});

describe('runStateMachine', () => {
  test('starts no queued Map iteration once an iteration failed the execution', async () => {
    // Prepare
    const started: string[] = [];
    const handlers = {
      LoadTable: async (table: unknown) => {
        started.push(String(table));
        if (table === 'a') throw Object.assign(new Error('COPY a failed'), { name: 'LoadError' });
        return { table };
      },
    };

    // Act
    const outcome = await runStateMachine(mapOf(1), { tables: ['a', 'b', 'c'] }, { handlers });
    await new Promise((resolve) => setTimeout(resolve, 100));

    // Assess
    assert.equal(outcome.status, 'FAILED');
    assert.deepEqual(outcome.error, { name: 'LoadError', message: 'COPY a failed' });
    assert.deepEqual(started, ['a']);
  });

  test('runs every iteration of a Map that succeeds', async () => {
    // Prepare
    const handlers = { LoadTable: async (table: unknown) => ({ table }) };

    // Act
    const outcome = await runStateMachine(mapOf(2), { tables: ['a', 'b', 'c'] }, { handlers });

    // Assess
    assert.equal(outcome.status, 'SUCCEEDED');
    assert.deepEqual(outcome.output, [{ table: 'a' }, { table: 'b' }, { table: 'c' }]);
  });
});
