import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HANDLER_ENV } from '../../../lambdas/contract';
import { FAULT_MODES, FAULT_STEPS, faultSwitch, withFaults } from '../../../lambdas/adapters/fault-injection';
import { ConfigurationError, TransientError } from '../../../lambdas/core/errors';
import type { Adapters, Step } from '../../../lambdas/adapters/ports';
import { BATCH_STEPS, STREAM_HANDLERS } from '../../../lambdas/steps';

const env = (value?: string) => ({ [HANDLER_ENV.fault]: value });

/** A step of its own that counts its invocations: the side effect the fault comes after. */
function countingStep(name: Step<void, void, number>['name']) {
  let calls = 0;
  const step: Step<void, void, number> = {
    name,
    settings: () => undefined,
    make: () => async () => ++calls,
  };
  return { step, calls: () => calls };
}

const build = <S, O>(step: Step<S, void, O>, value: string) => {
  const faulty = withFaults(step);
  return faulty.make({} as Adapters, faulty.settings(env(value)));
};

describe('the fault switch (CARTFLOW_FAULT)', () => {
  test('unset or empty means no fault', () => {
    assert.equal(faultSwitch({}), undefined);
    assert.equal(faultSwitch(env('')), undefined);
    assert.equal(faultSwitch(env('  ')), undefined);
  });

  test('names a handler entry and a mode', () => {
    assert.deepEqual(faultSwitch(env('load-table:crash')), { step: 'load-table', mode: 'crash' });
    assert.deepEqual(faultSwitch(env(' stream-to-parquet:kill ')), {
      step: 'stream-to-parquet',
      mode: 'kill',
    });
    for (const entry of [...Object.values(BATCH_STEPS), STREAM_HANDLERS.LoadEvents]) {
      assert.ok(FAULT_STEPS.includes(entry), entry);
    }
    assert.deepEqual([...FAULT_MODES], ['fail-once', 'timeout', 'crash', 'kill']);
  });

  for (const [value, problem] of [
    ['transform', 'is not <step>:<mode>'],
    ['transform:crash:now', 'is not <step>:<mode>'],
    ['transfrom:crash', 'names no step "transfrom"'],
    ['create-topic:crash', 'names no step "create-topic"'],
    ['transform:explode', 'names no mode "explode"'],
  ]) {
    test(`"${value}" is refused with the variable, the problem and what is accepted`, () => {
      assert.throws(
        () => faultSwitch(env(value)),
        (error: Error) =>
          error instanceof ConfigurationError &&
          error.message.startsWith(`CARTFLOW_FAULT="${value}" ${problem}: expected <step>:<mode>`) &&
          error.message.includes('load-table, publish-date') &&
          error.message.includes('mode one of fail-once, timeout, crash, kill'),
      );
    });
  }

  test('a step the switch does not name runs unchanged', async () => {
    const { step, calls } = countingStep('validate');
    const handle = build(step, 'transform:crash');
    assert.equal(await handle(), 1);
    assert.equal(await handle(), 2);
    assert.equal(calls(), 2);
  });

  test('fail-once: the first invocation does its work, then fails transiently; the next succeeds', async () => {
    const { step, calls } = countingStep('transform');
    const handle = build(step, 'transform:fail-once');
    await assert.rejects(handle(), (error: Error) => {
      assert.ok(error instanceof TransientError);
      assert.equal(error.name, 'TransientError');
      assert.match(error.message, /^CARTFLOW_FAULT=transform:fail-once: injected after the handler returned/);
      return true;
    });
    assert.equal(calls(), 1, 'the side effect happened before the fault');
    assert.equal(await handle(), 2);
    assert.equal(await handle(), 3);
  });

  for (const [mode, name] of [
    ['timeout', 'Sandbox.Timedout'],
    ['crash', 'Runtime.ExitError'],
  ]) {
    test(`${mode}: every invocation does its work, then ends as Lambda reports it (${name})`, async () => {
      const { step, calls } = countingStep('publish-date');
      const handle = build(step, `publish-date:${mode}`);
      for (let i = 1; i <= 2; i++) {
        await assert.rejects(
          handle(),
          (error: Error) => error.name === name && /publish-date/.test(error.message),
        );
        assert.equal(calls(), i);
      }
    });
  }

  test('an invalid value fails when the settings are parsed, before any invocation', () => {
    const { step, calls } = countingStep('transform');
    assert.throws(() => withFaults(step).settings(env('transform:sometimes')), ConfigurationError);
    assert.equal(calls(), 0);
  });
});
