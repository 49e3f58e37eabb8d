import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { CartflowStack } from '../../../lib/cartflow-stack';
import { ENV_NAMES, loadConfig, type EnvironmentConfig } from '../../../lib/config';
import {
  BATCH_LIVE_ALIAS,
  ensureWarehouseTimeoutSeconds,
  PROVIDER_ANSWER_SECONDS,
  PROVIDER_FRAMEWORK_TIMEOUT_SECONDS,
} from '../../../lib/constructs/batch-pipeline';
import { logicalIdOf, synth, testApp } from '../synth';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- synthesized JSON, asserted field by field
type Json = any;
type Resource = { Type: string; Properties: Record<string, Json>; DependsOn?: string[] };

/** The deploy-time EnsureWarehouse of an environment's stack: its custom resource, provider and function. */
function schemaStep(envName: (typeof ENV_NAMES)[number]) {
  const { stack, template, config } = synth(envName);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const [schemaId, ...others] = Object.keys(template.findResources('Custom::WarehouseSchema'));
  assert.equal(others.length, 0);
  const ensureId = logicalIdOf(stack, stack.pipeline.functions['ensure-warehouse']);
  // The framework function: the one whose ARN is the custom resource's ServiceToken.
  const token = resources[schemaId].Properties.ServiceToken as { 'Fn::GetAtt': [string, string] };
  const frameworkId = token['Fn::GetAtt'][0];
  return { stack, config, resources, schemaId, ensureId, frameworkId };
}

describe('BatchPipeline: EnsureWarehouse at deploy', () => {
  test('a Provider invokes ensure-warehouse itself, so its error fails the deploy; no SDK-call resource invokes it', () => {
    // Prepare
    const { resources, schemaId, ensureId, frameworkId } = schemaStep('prod');
    // Act
    const framework = resources[frameworkId];
    const sdkCalls = Object.values(resources).filter((r) => r.Type === 'Custom::AWS');
    // Assess
    assert.equal(framework.Type, 'AWS::Lambda::Function');
    assert.equal(framework.Properties.Handler, 'framework.onEvent');
    assert.deepEqual(framework.Properties.Environment.Variables.USER_ON_EVENT_FUNCTION_ARN, {
      'Fn::GetAtt': [ensureId, 'Arn'],
    });
    assert.match(resources[schemaId].Properties.Schema, /^[0-9a-f]{64}$/);
    // The one AwsCustomResource left looks up the admin secret; none invokes a function.
    assert.equal(sdkCalls.length, 1);
    const call = JSON.stringify(sdkCalls[0].Properties.Create);
    assert.ok(call.includes('GetNamespace') && !/lambda|invoke/i.test(call), call);
  });

  test('the AwsCustomResource singleton may only call GetNamespace, as its nag acknowledgement says', () => {
    // Prepare
    const { resources } = schemaStep('prod');
    // Act
    // Each AwsCustomResource adds its own policy to the stack-wide singleton's role.
    const singletonPolicies = Object.values(resources).filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        (r.Properties.Roles as Json[]).some((role) => String(role.Ref).startsWith('AWS679f53fac')),
    );
    const actions = singletonPolicies.flatMap((r) =>
      (r.Properties.PolicyDocument.Statement as Json[]).flatMap((s) => [s.Action].flat()),
    );
    // Assess
    assert.deepEqual(actions, ['redshift-serverless:GetNamespace']);
  });

  for (const envName of ENV_NAMES) {
    test(`${envName}: the framework outlives ensure-warehouse and CloudFormation waits for its answer`, () => {
      // Prepare
      const { config, resources, schemaId, ensureId, frameworkId } = schemaStep(envName);
      // Act
      const ensureTimeout = resources[ensureId].Properties.Timeout as number;
      const frameworkTimeout = resources[frameworkId].Properties.Timeout as number;
      const serviceTimeout = Number(resources[schemaId].Properties.ServiceTimeout);
      // Assess
      assert.equal(frameworkTimeout, PROVIDER_FRAMEWORK_TIMEOUT_SECONDS);
      assert.equal(ensureTimeout, ensureWarehouseTimeoutSeconds(config));
      assert.ok(ensureTimeout <= config.lambdaTimeoutSeconds);
      assert.ok(ensureTimeout + PROVIDER_ANSWER_SECONDS <= frameworkTimeout);
      assert.equal(serviceTimeout, ensureTimeout + PROVIDER_ANSWER_SECONDS);
    });
  }

  test('prod: its 900 s lambdaTimeoutSeconds is capped for ensure-warehouse alone', () => {
    // Prepare
    const { config, resources, ensureId, stack } = schemaStep('prod');
    const transformId = logicalIdOf(stack, stack.pipeline.functions.transform);
    // Assess
    assert.equal(config.lambdaTimeoutSeconds, 900);
    assert.equal(resources[ensureId].Properties.Timeout, 840);
    assert.equal(resources[transformId].Properties.Timeout, 900);
  });

  test('every function that assumes the writer role is created after the schema step; ensure-warehouse is not', () => {
    // Prepare
    const { stack, resources, schemaId, ensureId, frameworkId } = schemaStep('prod');
    const writerRoleArn = JSON.stringify(stack.resolve(stack.warehouse.writerRole.roleArn));
    // Act: the roles whose policy may assume the writer, then the functions running as those roles.
    const writerRoles = Object.values(resources)
      .filter(
        (r) =>
          r.Type === 'AWS::IAM::Policy' &&
          (r.Properties.PolicyDocument.Statement as Json[]).some(
            (s) =>
              [s.Action].flat().includes('sts:AssumeRole') && JSON.stringify(s.Resource) === writerRoleArn,
          ),
      )
      .flatMap((p) => p.Properties.Roles as Json[])
      .map((role) => JSON.stringify(role));
    const writers = Object.entries(resources).filter(
      ([, r]) =>
        r.Type === 'AWS::Lambda::Function' &&
        writerRoles.includes(JSON.stringify({ Ref: r.Properties.Role['Fn::GetAtt'][0] })),
    );
    // Assess: resolve-run, load-table, publish-date, record-run, cleanup, run-failed and load-events at least.
    assert.ok(writers.length >= 7, `${writers.length} writer functions`);
    for (const [id, fn] of writers)
      assert.ok(fn.DependsOn?.includes(schemaId), `${id} waits for ${schemaId}`);
    for (const id of [ensureId, frameworkId]) assert.ok(!resources[id].DependsOn?.includes(schemaId));
    // The writer role trusts exactly those roles.
    const trust =
      resources[logicalIdOf(stack, stack.warehouse.writerRole)].Properties.AssumeRolePolicyDocument;
    const trusted = (trust.Statement[0].Condition.ArnEquals['aws:PrincipalArn'] as Json[]).map(
      (arn) => arn['Fn::GetAtt'][0] as string,
    );
    assert.deepEqual(trusted.sort(), writerRoles.map((r) => JSON.parse(r).Ref as string).sort());
  });
});

describe('BatchPipeline: the batch published as versions behind the alias the schedule starts', () => {
  /** The version, the alias and the daily schedule's target of a synthesized stack. */
  function versioning(template: Template) {
    const resources = template.toJSON().Resources as Record<string, Resource & Json>;
    const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
    const [[versionId, version], ...moreVersions] = ofType('AWS::StepFunctions::StateMachineVersion');
    const [[aliasId, alias], ...moreAliases] = ofType('AWS::StepFunctions::StateMachineAlias');
    assert.deepEqual([moreVersions, moreAliases], [[], []]);
    const [, schedule] = Object.entries(resources).find(
      ([id, r]) => r.Type === 'AWS::Events::Rule' && id.includes('DailySchedule'),
    )!;
    const target = schedule.Properties.Targets[0] as Json;
    const role = Object.values(resources).find(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        (r.Properties.Roles as Json[]).some((x) => x.Ref === target.RoleArn['Fn::GetAtt'][0]),
    )!;
    return { resources, versionId, version, aliasId, alias, target, role };
  }

  test('each deploy publishes the definition as a version, kept when replaced; the schedule starts the live alias', () => {
    // Prepare
    const { stack, template } = synth('prod');
    const machineId = logicalIdOf(stack, stack.pipeline.stateMachine);

    // Act
    const { versionId, version, aliasId, alias, target, role } = versioning(template);

    // Assess
    assert.deepEqual(version.Properties.StateMachineArn, { Ref: machineId });
    assert.deepEqual(version.Properties.StateMachineRevisionId, {
      'Fn::GetAtt': [machineId, 'StateMachineRevisionId'],
    });
    assert.equal(version.UpdateReplacePolicy, 'Retain');
    assert.equal(alias.Properties.Name, BATCH_LIVE_ALIAS);
    // Unpinned (config.batchLiveVersion unset), the alias follows the version this deploy published.
    assert.deepEqual(alias.Properties.RoutingConfiguration, [
      { StateMachineVersionArn: { 'Fn::GetAtt': [versionId, 'Arn'] }, Weight: 100 },
    ]);
    assert.deepEqual(target.Arn, { Ref: aliasId });
    assert.deepEqual(role.Properties.PolicyDocument.Statement, [
      { Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: aliasId } },
    ]);
  });

  test('a pinned batchLiveVersion keeps the alias, and so the schedule, on that version while a deploy publishes a new one', () => {
    // Prepare
    const config: EnvironmentConfig = { ...loadConfig('dev'), batchLiveVersion: 7 };
    const stack = new CartflowStack(testApp(), 'Cartflow-dev', { config });
    const machineId = logicalIdOf(stack, stack.pipeline.stateMachine);

    // Act
    const { version, alias, aliasId, target } = versioning(Template.fromStack(stack));

    // Assess
    assert.ok(version, 'the new definition is still published');
    assert.deepEqual(alias.Properties.RoutingConfiguration, [
      { StateMachineVersionArn: { 'Fn::Join': ['', [{ Ref: machineId }, ':7']] }, Weight: 100 },
    ]);
    assert.deepEqual(target.Arn, { Ref: aliasId });
  });
});
