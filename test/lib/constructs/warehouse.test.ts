import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CfnWaitConditionHandle, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import { ENV_NAMES, loadConfig, type SnapshotConfig } from '../../../lib/config';
import { Warehouse } from '../../../lib/constructs/warehouse';
import { scaffold, stubFunction, unacknowledgedNagFindings } from '../synth';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- synthesized JSON, asserted field by field
type Json = any;

/** A warehouse, a stand-in for the schema step and two functions: one granted before it is known, one after. */
function writersAroundTheSchemaStep() {
  const { stack, key, bucket, vpc } = scaffold();
  const warehouse = new Warehouse(stack, 'Warehouse', { name: 'cartflow-test', bucket, key, vpc });
  const fn = (id: string) => stubFunction(stack, id);
  const early = fn('Early');
  const unrelated = fn('Unrelated');
  warehouse.grantDataApi(early);
  const schema = new CfnWaitConditionHandle(stack, 'Schema');
  warehouse.writersAfter(schema);
  const late = fn('Late');
  warehouse.grantDataApi(late);
  const id = (c: IConstruct) => stack.resolve(((c.node.defaultChild ?? c) as CfnElement).logicalId) as string;
  const resources = Template.fromStack(stack).toJSON().Resources as Record<string, Json>;
  return { stack, warehouse, resources, schemaId: id(schema), early, late, unrelated, id };
}

describe('Warehouse: the writer role', () => {
  test('every function granted the writer, before or after the schema step is known, is created after it', () => {
    // Prepare + Act
    const { resources, schemaId, early, late, unrelated, id } = writersAroundTheSchemaStep();
    // Assess
    assert.ok(resources[id(early)].DependsOn.includes(schemaId));
    assert.ok(resources[id(late)].DependsOn.includes(schemaId));
    assert.ok(!(resources[id(unrelated)].DependsOn ?? []).includes(schemaId));
    // Only the function waits: its role is named in the writer's trust, which the schema step follows.
    assert.ok(!(resources[id(early.role!)].DependsOn ?? []).includes(schemaId));
  });

  test('trusts only the roles of the functions granted it, not the whole account', () => {
    // Prepare + Act
    const { stack, warehouse, resources, early, late, id } = writersAroundTheSchemaStep();
    const writerRole = resources[id(warehouse.writerRole)];
    // Assess
    const statements = writerRole.Properties.AssumeRolePolicyDocument.Statement as Json[];
    assert.equal(statements.length, 1);
    assert.equal(statements[0].Action, 'sts:AssumeRole');
    assert.deepEqual(statements[0].Condition, {
      ArnEquals: {
        'aws:PrincipalArn': [early.role!.roleArn, late.role!.roleArn].map((a) => stack.resolve(a)),
      },
    });
  });

  test('a warehouse nobody is granted the writer of fails synthesis, naming grantDataApi', () => {
    // Prepare
    const { stack, key, bucket, vpc } = scaffold();
    new Warehouse(stack, 'Warehouse', { name: 'cartflow-test', bucket, key, vpc });
    // Act + Assess
    assert.throws(
      () => Template.fromStack(stack),
      /no function was granted the writer role \(grantDataApi\)/,
    );
  });
});

/** A warehouse alone in a stack, its snapshots scheduled when given (into a dead-letter queue). */
function warehouseWith(snapshots: SnapshotConfig | undefined) {
  const { stack, key, bucket, vpc } = scaffold();
  const warehouse = new Warehouse(stack, 'Warehouse', {
    name: 'cartflow-test',
    bucket,
    key,
    vpc,
    snapshotCopy: snapshots?.copy,
  });
  // A warehouse synthesizes only with a writer (its trust names the writers' roles).
  warehouse.grantDataApi(stubFunction(stack, 'Writer'));
  const deadLetters = new sqs.Queue(stack, 'DeadLetters');
  if (snapshots) warehouse.scheduleSnapshots(snapshots, deadLetters);
  return {
    app: stack.node.root,
    template: Template.fromStack(stack),
    deadLetters: stack.resolve(deadLetters.queueArn),
  };
}

describe('Warehouse scheduled snapshots (recovery.snapshots)', () => {
  for (const envName of ENV_NAMES) {
    test(`${envName}: Scheduler calls CreateSnapshot on the configured schedule with the configured retention`, () => {
      // Prepare
      const { snapshots } = loadConfig(envName).recovery;

      // Act
      const { template, deadLetters } = warehouseWith(snapshots);

      // Assess
      const [schedule] = Object.values<Json>(template.findResources('AWS::Scheduler::Schedule'));
      assert.equal(schedule.Properties.ScheduleExpression, snapshots.scheduleCron);
      assert.equal(schedule.Properties.ScheduleExpressionTimezone, 'Etc/UTC');
      assert.match(
        JSON.stringify(schedule.Properties.Target.Arn),
        /:scheduler:::aws-sdk:redshiftserverless:createSnapshot"/,
      );
      const input = JSON.stringify(schedule.Properties.Target.Input);
      assert.ok(input.includes(`\\"RetentionPeriod\\":${snapshots.retentionDays}}`), input);
      // A new name per run: the schedule's execution id.
      assert.ok(input.includes('\\"SnapshotName\\":\\"cartflow-test-<aws.scheduler.execution-id>\\"'), input);
      assert.ok(input.includes('Namespace.NamespaceName'), 'the namespace of this warehouse');
      const [namespace] = Object.values<Json>(template.findResources('AWS::RedshiftServerless::Namespace'));
      assert.equal(namespace.Properties.SnapshotCopyConfigurations, undefined, 'no copy by default');
      assert.deepEqual(schedule.Properties.Target.RetryPolicy.MaximumRetryAttempts, 3);
      assert.deepEqual(schedule.Properties.Target.DeadLetterConfig, { Arn: deadLetters });
    });
  }

  test("the schedule's role may create snapshots of this namespace only, and is nag-clean", () => {
    // Act
    const { app, template } = warehouseWith(loadConfig('prod').recovery.snapshots);

    // Assess
    const [schedule] = Object.values<Json>(template.findResources('AWS::Scheduler::Schedule'));
    const roleId = schedule.Properties.Target.RoleArn['Fn::GetAtt'][0];
    const role = template.toJSON().Resources[roleId];
    assert.deepEqual(role.Properties.AssumeRolePolicyDocument.Statement[0].Principal, {
      Service: 'scheduler.amazonaws.com',
    });
    const policies = Object.values<Json>(template.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p.Properties.Roles).includes(roleId),
    );
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
    assert.deepEqual(
      statements.map((s: Json) => s.Action),
      ['redshift-serverless:CreateSnapshot', 'sqs:SendMessage'],
    );
    const resources = JSON.stringify(statements[0].Resource);
    assert.match(resources, /Namespace\.NamespaceArn/);
    assert.match(resources, /:snapshot\/\*"/);
    // The scaffold's own key, bucket, queue and stand-in writer function are not under test.
    const findings = unacknowledgedNagFindings(app as Parameters<typeof unacknowledgedNagFindings>[0]);
    assert.deepEqual(
      findings.filter((f) => !/ at Test\/(Key|Bucket|DeadLetters|Writer)\//.test(f)),
      [],
    );
  });

  test('with copy: the namespace copies each snapshot to the region, with its key and retention', () => {
    // Prepare
    const copy = {
      region: 'eu-central-1',
      retentionDays: 7,
      kmsKeyArn: 'arn:aws:kms:eu-central-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
    };

    // Act
    const { template } = warehouseWith({ ...loadConfig('prod').recovery.snapshots, copy });

    // Assess
    const [namespace] = Object.values<Json>(template.findResources('AWS::RedshiftServerless::Namespace'));
    assert.deepEqual(namespace.Properties.SnapshotCopyConfigurations, [
      { DestinationRegion: 'eu-central-1', DestinationKmsKeyId: copy.kmsKeyArn, SnapshotRetentionPeriod: 7 },
    ]);
  });

  test('without snapshots: no schedule (recovery points only)', () => {
    // Act
    const { template } = warehouseWith(undefined);

    // Assess
    template.resourceCountIs('AWS::Scheduler::Schedule', 0);
  });
});
