import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CfnWaitConditionHandle, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import { Warehouse } from '../../../lib/constructs/warehouse';
import { scaffold } from '../synth';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- synthesized JSON, asserted field by field
type Json = any;

/** A warehouse, a stand-in for the schema step and two functions: one granted before it is known, one after. */
function writersAroundTheSchemaStep() {
  const { stack, key, bucket, vpc } = scaffold();
  const warehouse = new Warehouse(stack, 'Warehouse', { name: 'cartflow-test', bucket, key, vpc });
  const fn = (id: string) =>
    new lambda.Function(stack, id, {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => {};'),
    });
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
