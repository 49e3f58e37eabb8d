import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { loadConfig } from '../../lib/config';
import { BatchPipeline } from '../../lib/constructs/batch-pipeline';
import { DataLake } from '../../lib/constructs/data-lake';
import { DuckDbLayer } from '../../lib/constructs/duckdb-layer';
import { Triggers } from '../../lib/constructs/triggers';
import { Warehouse } from '../../lib/constructs/warehouse';
import { scaffold, stubFunction, testApp } from './synth';

describe('construct props validation', () => {
  test('DataLake rejects a Standard-IA transition before 30 days and says what to set', () => {
    // Prepare
    const { stack } = scaffold();
    const lifecycle = { ...loadConfig('dev').lifecycle, rawToIaDays: 10 };
    // Act + Assess
    assert.throws(
      () => new DataLake(stack, 'Lake', { lifecycle }),
      /rawToIaDays is 10.*set it to 30 or more/,
    );
  });

  test('Warehouse rejects a base capacity off the 8-RPU step', () => {
    // Prepare
    const { stack, key, bucket, vpc } = scaffold();
    // Act + Assess
    assert.throws(
      () =>
        new Warehouse(stack, 'Warehouse', { name: 'cartflow-test', bucket, key, vpc, baseCapacityRpu: 12 }),
      /baseCapacityRpu 12 must be 4, or 8 to 512 in steps of 8/,
    );
  });

  test('Warehouse takes the 4-RPU base Redshift Serverless offers, and nothing between 4 and 8', () => {
    // Prepare
    const { stack, key, bucket, vpc } = scaffold();
    // Act
    const warehouse = new Warehouse(stack, 'Warehouse', {
      name: 'cartflow-test',
      bucket,
      key,
      vpc,
      baseCapacityRpu: 4,
    });
    warehouse.grantDataApi(stubFunction(stack, 'Writer'));
    // Assess
    Template.fromStack(stack).hasResourceProperties('AWS::RedshiftServerless::Workgroup', {
      BaseCapacity: 4,
    });
    assert.throws(
      () => new Warehouse(stack, 'Other', { name: 'cartflow-other', bucket, key, vpc, baseCapacityRpu: 6 }),
      /baseCapacityRpu 6 must be 4, or 8/,
    );
  });

  test('Warehouse rejects a name Redshift would refuse', () => {
    const { stack, key, bucket, vpc } = scaffold();
    assert.throws(
      () => new Warehouse(stack, 'Warehouse', { name: 'Cartflow_Dev', bucket, key, vpc }),
      /lower-case/,
    );
  });

  test('BatchPipeline names the missing handler file', () => {
    // Prepare
    const { stack, key, bucket, vpc } = scaffold();
    const warehouse = new Warehouse(stack, 'Warehouse', { name: 'cartflow-test', bucket, key, vpc });
    const sourceSecret = new secretsmanager.Secret(stack, 'Source');
    // Act + Assess
    assert.throws(
      () =>
        new BatchPipeline(stack, 'Pipeline', {
          config: loadConfig('dev'),
          bucket,
          warehouse,
          sourceSecret,
          alertTopic: new sns.Topic(stack, 'Alerts'),
          engine: new DuckDbLayer(stack, 'DuckDb'),
          handlersDir: '/nonexistent',
        }),
      /\/nonexistent\/ensure-warehouse\.ts is missing/,
    );
  });

  test('Triggers rejects a catalog prefix without a trailing slash', () => {
    // Prepare
    const { stack, key, bucket, vpc } = scaffold();
    const warehouse = new Warehouse(stack, 'Warehouse', { name: 'cartflow-test', bucket, key, vpc });
    const pipeline = new BatchPipeline(stack, 'Pipeline', {
      config: loadConfig('dev'),
      bucket,
      warehouse,
      sourceSecret: new secretsmanager.Secret(stack, 'Source'),
      alertTopic: new sns.Topic(stack, 'Alerts'),
      engine: new DuckDbLayer(stack, 'DuckDb'),
    });
    // Act + Assess
    assert.throws(
      () =>
        new Triggers(stack, 'Triggers', {
          batchStateMachine: pipeline.stateMachine,
          catalogStateMachine: pipeline.catalogStateMachine,
          bucket,
          scheduleExpression: 'cron(0 3 * * ? *)',
          catalogPrefix: 'landing/catalog',
        }),
      /must be relative and end with '\/'/,
    );
  });

  test('Triggers rejects a debounce window the Pipe cannot batch over, naming the config setting', () => {
    // Prepare
    const stack = new Stack(testApp(), 'Test');
    const bucket = new s3.Bucket(stack, 'Bucket');
    const machine = (id: string) =>
      new sfn.StateMachine(stack, id, {
        definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, `${id}Pass`)),
      });
    const props = {
      batchStateMachine: machine('Batch'),
      catalogStateMachine: machine('Catalog'),
      bucket,
      scheduleExpression: 'cron(0 3 * * ? *)',
    };
    // Act + Assess
    for (const seconds of [0, 301, 1.5]) {
      assert.throws(
        () => new Triggers(stack, `Triggers${seconds}`, { ...props, catalogDebounceSeconds: seconds }),
        /catalogDebounceSeconds .* 1 to 300 .*set config catalogDebounceSeconds/,
      );
    }
  });
});
