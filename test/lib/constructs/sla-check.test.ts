/**
 * Issue 13 item 1: no timer wakes Redshift. The scheduled SLA check reads the lake's freshness records; its
 * function can reach neither the Data API nor Redshift Serverless, directly or through a role it may assume.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ENV_NAMES } from '../../../lib/config';
import { scheduledCallsOf, warehouseActionsOf, type CfnResources } from '../../../lib/scheduled-calls';
import { HANDLER_ENV, LAKE } from '../../../lambdas/contract';
import { logicalIdOf, synth } from '../synth';

const WAREHOUSE_ENV: readonly string[] = [
  HANDLER_ENV.workgroup,
  HANDLER_ENV.database,
  HANDLER_ENV.copyRoleArn,
  HANDLER_ENV.warehouseSecretArn,
  HANDLER_ENV.warehouseWriterRoleArn,
  HANDLER_ENV.warehouseWriterUser,
];

for (const envName of ENV_NAMES) {
  describe(`the SLA check of ${envName}`, () => {
    const { stack, template, config } = synth(envName);
    const resources = template.toJSON().Resources as CfnResources;
    const fnId = logicalIdOf(stack, stack.slaCheck!.function);
    const roleId = logicalIdOf(stack, stack.slaCheck!.function.role!);
    const statements = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties?.Roles).includes(roleId))
      .flatMap(
        (r) => r.Properties!.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
      );
    const actions = statements.flatMap((s) => [s.Action].flat());

    test('its role has no redshift-data or redshift-serverless permission, and assumes no role', () => {
      // Act
      const reach = warehouseActionsOf(resources, fnId);

      // Assess
      assert.deepEqual(reach, []);
      assert.deepEqual(
        actions.filter((a) => /^(redshift|sts:|\*)/i.test(a)),
        [],
      );
    });

    test('it carries no warehouse setting and reads only the freshness records of the lake', () => {
      // Act
      const variables = Object.keys(resources[fnId].Properties!.Environment.Variables as object);
      const objectReads = statements.filter((s) =>
        [s.Action].flat().some((a) => a.startsWith('s3:GetObject')),
      );

      // Assess
      assert.deepEqual(
        variables.filter((v) => WAREHOUSE_ENV.includes(v)),
        [],
      );
      assert.ok(variables.includes(HANDLER_ENV.bucket));
      assert.equal(objectReads.length, 1);
      assert.match(JSON.stringify(objectReads[0].Resource), new RegExp(`/${LAKE.freshness}\\*"`));
    });

    test('of the timers, only the nightly run and the events loader (when the stream is on) can reach Redshift; the analysis sees their path', () => {
      // Prepare
      const loaders = config.stream.enabled ? ['load-events'] : [];

      // Act
      const reaching = scheduledCallsOf(resources)
        .filter((c) => c.warehouseActions.length > 0)
        .map((c) => c.entry ?? c.kind);

      // Assess: both reach it only through the writer role they assume (a path the analysis must follow).
      assert.deepEqual(reaching.sort(), [...loaders, 'stateMachine']);
    });
  });
}
