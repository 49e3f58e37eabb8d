import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { ENV_NAMES, loadConfig, type EnvName } from '../../lib/config';
import { synthesizeDefinitions, type AslDefinition } from '../../local/synth-definitions';
import {
  BATCH_STEPS,
  CATALOG_FILE_REJECTED_STATE,
  FAILED_EXECUTION_STATUSES,
  MAP_ITERATION_STATES,
  QUALITY_GATE_ERROR,
  SUPERSEDED_STATE,
} from '../../lambdas/steps';

import { allStates, type AslState as State } from './synth';

describe('batch state machine (synthesized ASL)', () => {
  const batch = {} as Record<EnvName, AslDefinition>;
  before(async () => {
    for (const envName of ENV_NAMES) batch[envName] = (await synthesizeDefinitions(envName)).batch;
  });

  test('TimeoutSeconds is the SLA of each environment', () => {
    for (const envName of ENV_NAMES) {
      assert.equal(batch[envName].TimeoutSeconds, loadConfig(envName).slaMinutes * 60);
    }
  });

  test('every Task retries TransientError and Lambda service errors with full jitter and backoff from config', () => {
    for (const envName of ENV_NAMES) {
      // Prepare
      const { retry } = loadConfig(envName);
      // Act
      const taskStates = allStates(batch[envName]).filter(([, s]) => s.Type === 'Task');
      // Assess
      assert.equal(taskStates.length, Object.keys(BATCH_STEPS).length);
      for (const [name, state] of taskStates) {
        assert.equal(state.Retry?.length, 1, `${name} has no Retry`);
        const [retrier] = state.Retry;
        assert.ok(retrier.ErrorEquals.includes('TransientError'), name);
        assert.ok(retrier.ErrorEquals.includes('Lambda.TooManyRequestsException'), name);
        // A function killed at its timeout, a task past its TimeoutSeconds, a warehouse wait cut short.
        for (const timeout of ['Sandbox.Timedout', 'States.Timeout', 'WarehouseTimeoutError']) {
          assert.ok(retrier.ErrorEquals.includes(timeout), `${name} does not retry ${timeout}`);
        }
        assert.equal(retrier.JitterStrategy, 'FULL', name);
        assert.ok(retrier.BackoffRate > 1, name);
        assert.equal(retrier.MaxAttempts, retry.maxAttempts);
        assert.equal(retrier.IntervalSeconds, retry.intervalSeconds);
        assert.equal(retrier.MaxDelaySeconds, retry.maxDelaySeconds);
      }
    }
  });

  test('no state catches but the superseded run: any other failure fails the execution where it stands, for a redrive to resume there', () => {
    // Prepare
    const states = batch.dev.States as Record<string, State>;
    // Act
    const catching = allStates(batch.dev).filter(([, state]) => state.Catch !== undefined);
    // Assess: ResolveRun (the date is held) and PublishDate (it was taken over) catch SupersededRunError alone.
    assert.deepEqual(catching.map(([name]) => name).sort(), ['PublishDate', 'ResolveRun']);
    for (const [name, state] of catching) {
      assert.deepEqual(
        state.Catch,
        [{ ErrorEquals: ['SupersededRunError'], ResultPath: '$.superseded', Next: SUPERSEDED_STATE }],
        name,
      );
    }
    for (const gone of ['NotifyFailure', 'Cleanup', 'RunFailed']) assert.equal(states[gone], undefined, gone);
  });

  test('a superseded run ends in a Succeed state: its execution SUCCEEDS, which the failure rule does not match', () => {
    for (const envName of ENV_NAMES) {
      // Act
      const states = batch[envName].States as Record<string, State>;
      // Assess
      assert.equal(states[SUPERSEDED_STATE].Type, 'Succeed', envName);
      assert.equal((FAILED_EXECUTION_STATUSES as readonly string[]).includes('SUCCEEDED'), false);
      // The claim of the date lasts at most as long as the execution may run.
      assert.equal(states.ResolveRun.Parameters?.timeoutMinutes, loadConfig(envName).slaMinutes);
    }
  });

  test('every Task inside a Map iteration is in MAP_ITERATION_STATES (the failure handler skips their input)', () => {
    // Prepare
    const inMaps = (def: { States: Record<string, State> }): string[] =>
      Object.values(def.States).flatMap((state) =>
        state.Type === 'Map'
          ? allStates(state.ItemProcessor).map(([name]) => name)
          : state.Type === 'Parallel'
            ? (state.Branches as { States: Record<string, State> }[]).flatMap(inMaps)
            : [],
      );
    // Act
    const iterated = inMaps(batch.dev as { States: Record<string, State> });
    // Assess
    assert.deepEqual([...iterated].sort(), [...MAP_ITERATION_STATES].sort());
  });

  test('QualityGate is a Choice on $.validation.passed; LoadTables is a Map over $.validation.tables', () => {
    // Prepare
    const states = batch.prod.States as Record<string, State>;
    // Assess
    assert.equal(states.QualityGate.Type, 'Choice');
    assert.deepEqual(states.QualityGate.Choices, [
      { Variable: '$.validation.passed', BooleanEquals: true, Next: 'LoadTables' },
    ]);
    assert.equal(states.QualityGate.Default, 'QualityGateFailed');
    assert.deepEqual(states.QualityGateFailed, {
      Type: 'Fail',
      Error: 'QualityGateError',
      CausePath: '$.validation.failureReason',
    });
    assert.equal(states.LoadTables.Type, 'Map');
    assert.equal(states.LoadTables.ItemsPath, '$.validation.tables');
    assert.deepEqual(states.LoadTables.ItemSelector, { 'run.$': '$.run', 'item.$': '$$.Map.Item.Value' });
    assert.equal(states.LoadTables.MaxConcurrency, loadConfig('prod').loadMaxConcurrency);
    assert.equal(states.LoadTables.ItemProcessor.StartAt, 'LoadTable');
  });

  test('VolumeChoice splits a day past the config threshold of order lines; otherwise one Transform runs it', () => {
    for (const envName of ENV_NAMES) {
      // Prepare
      const states = batch[envName].States as Record<string, State>;
      const { volume } = loadConfig(envName);
      // Assess
      assert.equal(states.VolumeChoice.Type, 'Choice');
      // Extract's first branch (ExtractOrders) returns [orders, order_items].
      assert.deepEqual(states.VolumeChoice.Choices, [
        {
          Variable: '$.extract[0][1].rows',
          NumericGreaterThan: volume.bucketThresholdLines,
          Next: 'PlanBuckets',
        },
      ]);
      assert.equal(states.VolumeChoice.Default, 'Transform');
      assert.equal(states.PlanBuckets.Type, 'Pass');
      assert.deepEqual(states.PlanBuckets.Parameters, {
        'buckets.$': `States.ArrayRange(0, ${volume.bucketCount - 1}, 1)`,
        count: volume.bucketCount,
      });
      assert.equal(states.PlanBuckets.ResultPath, '$.volume');
      assert.equal(states.PlanBuckets.Next, 'SplitDay');
    }
  });

  test('SplitDay maps Transform → Validate over the buckets at the config concurrency, then MergeBuckets', () => {
    for (const envName of ENV_NAMES) {
      // Prepare
      const states = batch[envName].States as Record<string, State>;
      // Act
      const { ItemProcessor: processor, ...map } = states.SplitDay;
      // Assess
      assert.equal(map.Type, 'Map');
      assert.equal(map.ItemsPath, '$.volume.buckets');
      assert.equal(map.MaxConcurrency, loadConfig(envName).volume.maxConcurrency);
      assert.deepEqual(map.ItemSelector, {
        'run.$': '$.run',
        'extract.$': '$.extract',
        bucket: { 'index.$': '$$.Map.Item.Value', 'count.$': '$.volume.count' },
      });
      assert.equal(map.ResultPath, '$.buckets');
      assert.equal(map.Next, 'MergeBuckets');
      assert.equal(processor.StartAt, 'TransformBucket');
      assert.deepEqual(Object.keys(processor.States), ['TransformBucket', 'ValidateBucket']);
      assert.equal(processor.States.TransformBucket.ResultPath, '$.transform');
      assert.equal(processor.States.TransformBucket.Next, 'ValidateBucket');
      assert.deepEqual(processor.States.ValidateBucket.ResultSelector, {
        'reportKey.$': '$.reportKey',
        'tables.$': '$.tables',
      });
      // No ResultPath: the iteration's output is the selected result alone.
      assert.equal(processor.States.ValidateBucket.ResultPath, undefined);
      assert.equal(processor.States.ValidateBucket.End, true);
      // The same functions as the single path.
      assert.equal(processor.States.TransformBucket.Resource, states.Transform.Resource);
      assert.equal(processor.States.ValidateBucket.Resource, states.Validate.Resource);
      assert.equal(states.MergeBuckets.ResultPath, '$.validation');
      assert.equal(states.MergeBuckets.Next, 'QualityGate');
    }
  });

  test('the order and ResultPaths are the contract the handlers rely on', () => {
    // Prepare
    const states = batch.dev.States as Record<string, State>;
    // Assess
    assert.equal(batch.dev.StartAt, 'EnsureWarehouse');
    const path: Array<[string, string | null | undefined, string]> = [
      // The DDL step's result is dropped: ResolveRun still gets the execution input.
      ['EnsureWarehouse', null, 'ResolveRun'],
      ['ResolveRun', '$.run', 'Extract'],
      ['Extract', '$.extract', 'VolumeChoice'],
      ['Transform', '$.transform', 'Validate'],
      ['Validate', '$.validation', 'QualityGate'],
      ['LoadTables', '$.loads', 'PublishDate'],
      ['PublishDate', '$.publish', 'RecordRun'],
      ['RecordRun', '$.record', 'NotifySuccess'],
      ['NotifySuccess', '$.notify', 'Succeeded'],
    ];
    for (const [name, resultPath, next] of path) {
      assert.equal(states[name].ResultPath, resultPath, name);
      assert.equal(states[name].Next, next, name);
    }
    assert.equal(states.Succeeded.Type, 'Succeed');
    // Tasks get the whole state and their return value lands at ResultPath (no Payload wrapper); the notify
    // step gets it as `state`, next to the execution's context (its ARN and name, for the alert's links);
    // ResolveRun gets the input as `request`, the execution's name (the run id `retry` redrives) and the
    // timeout that bounds its claim of the date.
    const payloads: Record<string, unknown> = {
      NotifySuccess: { 'state.$': '$', 'execution.$': '$$.Execution' },
      ResolveRun: {
        'request.$': '$',
        'executionName.$': '$$.Execution.Name',
        timeoutMinutes: loadConfig('dev').slaMinutes,
      },
    };
    for (const [name, state] of allStates(batch.dev).filter(([, s]) => s.Type === 'Task')) {
      assert.match(state.Resource, /^arn:aws:lambda:/, name);
      const expected = payloads[name];
      assert.deepEqual(state.Parameters, expected, name);
    }
  });
});

describe('catalog state machine (synthesized ASL)', () => {
  let catalog: AslDefinition;
  before(async () => {
    catalog = (await synthesizeDefinitions('prod')).catalog;
  });

  test('the state is the run and the arrival count, whatever the batch: no per-file list can grow it', () => {
    // Prepare
    const states = catalog.States as Record<string, State>;
    // Assess
    assert.equal(catalog.StartAt, 'CatalogRun');
    assert.equal(states.CatalogRun.Type, 'Pass');
    // Parameters replace the whole batch of arrivals; only their count goes on.
    assert.equal(states.CatalogRun.ResultPath, undefined);
    assert.deepEqual(Object.keys(states.CatalogRun.Parameters).sort(), ['catalogArrivals.$', 'run']);
    assert.equal(states.CatalogRun.Parameters['catalogArrivals.$'], 'States.ArrayLength($)');
  });

  test('the admin DDL step runs first and adds nothing to the state; then refresh, load, publish', () => {
    // Prepare
    const states = catalog.States as Record<string, State>;
    // Assess
    const path: Array<[string, string, string | null | undefined, string | undefined]> = [
      ['CatalogRun', 'PrepareWarehouse', undefined, undefined],
      ['PrepareWarehouse', 'RefreshCatalog', null, undefined],
      ['RefreshCatalog', 'CatalogPending', '$.refresh', undefined],
      ['LoadCatalog', 'PublishCatalog', '$.load', '$.refresh'],
    ];
    for (const [name, next, resultPath, inputPath] of path) {
      assert.equal(states[name].Next, next, name);
      assert.equal(states[name].ResultPath, resultPath, name);
      assert.equal(states[name].InputPath, inputPath, name);
    }
    // Nothing pending (an earlier refresh took the files): no load, a success.
    assert.deepEqual(states.CatalogPending.Choices, [
      { Variable: '$.refresh.item', IsPresent: true, Next: 'LoadCatalog' },
      { Variable: '$.refresh.rejected', IsPresent: true, Next: CATALOG_FILE_REJECTED_STATE },
    ]);
    assert.equal(states[states.CatalogPending.Default].Type, 'Succeed');
    assert.equal(states.PublishCatalog.InputPath, '$.refresh');
  });

  test('a file set aside at its gate fails the refresh after the others were published, its notice the cause', () => {
    // Prepare
    const states = catalog.States as Record<string, State>;
    // Assess: published first, then the verdict on the rejected files.
    const verdict = states[states.PublishCatalog.Next];
    assert.equal(verdict.Type, 'Choice');
    assert.deepEqual(verdict.Choices, [
      { Variable: '$.refresh.rejected', IsPresent: true, Next: CATALOG_FILE_REJECTED_STATE },
    ]);
    assert.equal(states[verdict.Default].Type, 'Succeed');
    assert.deepEqual(states[CATALOG_FILE_REJECTED_STATE], {
      Type: 'Fail',
      Error: QUALITY_GATE_ERROR,
      CausePath: '$.refresh.rejected.notice',
    });
  });

  test('every step catches into CleanupCatalog, which drops the stage table and fails either way', () => {
    // Prepare
    const states = catalog.States as Record<string, State>;
    // Assess
    for (const name of ['PrepareWarehouse', 'RefreshCatalog', 'LoadCatalog', 'PublishCatalog']) {
      assert.deepEqual(
        states[name].Catch,
        [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'CleanupCatalog' }],
        name,
      );
    }
    assert.equal(states.CleanupCatalog.Next, 'CatalogRefreshFailed');
    assert.equal(states.CleanupCatalog.Catch[0].Next, 'CatalogRefreshFailed');
    assert.equal(states.CatalogRefreshFailed.Type, 'Fail');
    // The failed step's error and cause, which the Catch put at $.error, are the execution's.
    assert.equal(states.CatalogRefreshFailed.ErrorPath, '$.error.Error');
    assert.equal(states.CatalogRefreshFailed.CausePath, '$.error.Cause');
  });
});
