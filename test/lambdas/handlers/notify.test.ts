import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { MemoryLakeStore } from '../../../bench/support/memory-lake';
import { stepAdapters } from '../../../bench/support/step-adapters';
import type { PipelineState } from '../../../lambdas/core/contracts';
import type { ExecutionContext } from '../../../lambdas/core/run-record';
import { step as notifyStep } from '../../../lambdas/handlers/notify';
import { HANDLER_ENV } from '../../../lambdas/contract';

const fixture = async <T>(name: string): Promise<T> =>
  JSON.parse(await readFile(new URL(`../../fixtures/pipeline-state/${name}.json`, import.meta.url), 'utf8'));

/** The notify step over an alert topic that records what it is sent (the SNS edge). */
function notify(env: Record<string, string>) {
  const published: { subject: string; message: string }[] = [];
  const alerts = {
    publish: (subject: string, message: string) => {
      published.push({ subject, message });
      return Promise.resolve();
    },
  };
  const run = notifyStep.make(
    stepAdapters({ lake: new MemoryLakeStore(), alerts }),
    notifyStep.settings(env),
  );
  return { run, published };
}

const PROD_ENV = { [HANDLER_ENV.bucket]: 'cartflow-prod-lake', [HANDLER_ENV.environment]: 'prod' };

describe('notify step', () => {
  it('publishes the success with the execution the task passes and returns the status and subject only', async () => {
    // Prepare
    const { run, published } = notify(PROD_ENV);
    const state = await fixture<PipelineState>('succeeded');
    const execution = await fixture<ExecutionContext>('execution');

    // Act
    const result = await run({ state, execution });

    // Assess
    assert.equal(published.length, 1);
    const [{ subject, message }] = published;
    assert.deepEqual(result, { status: 'SUCCEEDED', subject });
    assert.match(subject, /^cartflow prod SUCCEEDED \d{4}-\d\d-\d\d: [\d,]+ rows loaded/);
    assert.ok(message.includes(`execution ARN:  ${execution.Id}`));
    assert.doesNotMatch(message, /WHAT FAILED/);
  });

  it('names the variable a misconfigured function lacks', () => {
    // Act + Assess
    assert.throws(
      () => notify({ [HANDLER_ENV.bucket]: 'cartflow-prod-lake' }),
      new RegExp(HANDLER_ENV.environment),
    );
  });
});
