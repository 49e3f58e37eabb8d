/**
 * Issue 6 item 9: the cost of an idle environment. The stream can be switched off per environment
 * (no MSK, no mapping, no load-events schedule, no stream alarms); pollers come from config; the
 * estimate README shows is computed from config and the synthesized template.
 * (An idle load-events run makes no warehouse call: test/lambdas/handlers/load-events.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { CartflowStack } from '../../lib/cartflow-stack';
import { ENV_NAMES, loadConfig, type EnvName } from '../../lib/config';
import { estimateMonthlyCost, totalOf, type StackCounts } from '../../lib/cost-estimate';
import { synth, testApp, unacknowledgedNagFindings } from './synth';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation JSON, asserted field by field
type Json = any;

function synthStreamOff(envName: EnvName) {
  const config = loadConfig(envName);
  config.stream.enabled = false;
  const app = testApp();
  const stack = new CartflowStack(app, `Cartflow-${envName}`, { config });
  return { app, stack, config, template: Template.fromStack(stack) };
}

const countsOf = (template: Template): StackCounts => ({
  alarms: Object.keys(template.findResources('AWS::CloudWatch::Alarm')).length,
  secrets:
    Object.keys(template.findResources('AWS::SecretsManager::Secret')).length +
    // Redshift Serverless keeps the admin password in a secret it manages (ManageAdminPassword).
    Object.values<Json>(template.findResources('AWS::RedshiftServerless::Namespace')).filter(
      (n) => n.Properties.ManageAdminPassword,
    ).length,
  keys: Object.keys(template.findResources('AWS::KMS::Key')).length,
  interfaceEndpoints: Object.values<Json>(template.findResources('AWS::EC2::VPCEndpoint')).filter(
    (e) => e.Properties.VpcEndpointType === 'Interface',
  ).length,
});

describe('the stream switch', () => {
  test('stream.enabled false: no MSK, no mapping, no load-events schedule, no stream alarms, nag-clean', () => {
    const { app, stack, template } = synthStreamOff('prod');
    assert.equal(stack.stream, undefined);
    for (const type of [
      'AWS::MSK::ServerlessCluster',
      'AWS::Lambda::EventSourceMapping',
      'Custom::KafkaTopic',
    ]) {
      template.resourceCountIs(type, 0);
    }
    // The SLA check keeps its rate schedule: batch datasets still have SLAs without the stream.
    const schedules = Object.values<Json>(template.findResources('AWS::Events::Rule'))
      .filter((r) => /^rate\(/.test(r.Properties.ScheduleExpression ?? ''))
      .map((r) => String(r.Properties.Description));
    assert.equal(schedules.length, 1, `rate schedules: ${schedules.join('; ')}`);
    assert.match(schedules[0], /freshness/);
    const functions = Object.values<Json>(template.findResources('AWS::Lambda::Function')).map((f) =>
      JSON.stringify(f.Properties.Description ?? ''),
    );
    assert.ok(!functions.some((d) => /load-events|stream-to-parquet|create-topic/.test(d)));
    const alarms = Object.values<Json>(template.findResources('AWS::CloudWatch::Alarm'));
    assert.ok(!alarms.some((a) => a.Properties.MetricName === 'OffsetLag'));
    assert.ok(!alarms.some((a) => /clickstream/i.test(a.Properties.AlarmDescription ?? '')));
    assert.ok(
      !Object.values<Json>(template.findResources('AWS::EC2::VPCEndpoint')).some((e) =>
        JSON.stringify(e.Properties.ServiceName).includes('.kafka'),
      ),
    );
    assert.deepEqual(
      Object.keys(template.findOutputs('*')).filter((k) => k.startsWith('Kafka')),
      [],
    );
    assert.deepEqual(unacknowledgedNagFindings(app), []);
  });

  for (const envName of ENV_NAMES) {
    test(`${envName}: stream on by default, with the configured pollers and partitions`, () => {
      const { template, config } = synth(envName);
      assert.equal(config.stream.enabled, true);
      template.resourceCountIs('AWS::MSK::ServerlessCluster', 1);
      const [mapping] = Object.values<Json>(template.findResources('AWS::Lambda::EventSourceMapping'));
      assert.deepEqual(mapping.Properties.ProvisionedPollerConfig, {
        MinimumPollers: config.stream.pollers.minimum,
        MaximumPollers: config.stream.pollers.maximum,
      });
    });
  }
});

describe('monthly cost estimate', () => {
  const volume = { orders: 20_000, events: 2_000_000 };

  test('idle: no Redshift (nothing to load), and switching the stream off removes MSK and its pollers', () => {
    for (const envName of ENV_NAMES) {
      const { template, config } = synth(envName);
      const idle = estimateMonthlyCost(config, { orders: 0, events: 0 }, countsOf(template));
      assert.equal(idle.find((l) => l.item.startsWith('Redshift'))!.usd, 0);
      const off = synthStreamOff(envName);
      const idleOff = estimateMonthlyCost(off.config, { orders: 0, events: 0 }, countsOf(off.template));
      assert.ok(!idleOff.some((l) => l.item.startsWith('MSK') || l.item.includes('pollers')));
      assert.ok(totalOf(idleOff) < totalOf(idle) - 500, `${envName}: the stream costs > $500/month idle`);
      assert.ok(totalOf(estimateMonthlyCost(config, volume, countsOf(template))) > totalOf(idle));
    }
  });

  test('prints the README table (idle and at 20,000 orders + 2,000,000 events a day)', () => {
    const rows: string[] = [];
    for (const envName of ENV_NAMES) {
      const { template, config } = synth(envName);
      const off = synthStreamOff(envName);
      const cell = (c: typeof config, t: Template, v: typeof volume) =>
        `$${totalOf(estimateMonthlyCost(c, v, countsOf(t)))}`;
      rows.push(
        `| ${envName} | ${cell(config, template, { orders: 0, events: 0 })} | ${cell(config, template, volume)} | ` +
          `${cell(off.config, off.template, { orders: 0, events: 0 })} | ${cell(off.config, off.template, { ...volume, events: 0 })} |`,
      );
      if (process.env.COST_DETAIL)
        console.log(envName, estimateMonthlyCost(config, volume, countsOf(template)));
    }
    console.log(rows.join('\n'));
    assert.equal(rows.length, 3);
  });
});

describe('cost of the recovery options', () => {
  const busy = { orders: 20_000, events: 2_000_000 };
  const counts: StackCounts = { alarms: 0, secrets: 0, keys: 1, interfaceEndpoints: 0 };
  const item = (lines: ReturnType<typeof estimateMonthlyCost>, start: string) =>
    lines.find((l) => l.item.startsWith(start));

  test('lake replication is a line only when configured; snapshots are a line in every environment', () => {
    for (const envName of ENV_NAMES) {
      // Prepare
      const config = loadConfig(envName);
      const replicated = loadConfig(envName);
      replicated.recovery.lakeReplication = {
        destinationBucketArn: 'arn:aws:s3:::lake-replica',
        kmsKeyArn: 'arn:aws:kms:eu-central-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
      };

      // Act
      const off = estimateMonthlyCost(config, busy, counts);
      const on = estimateMonthlyCost(replicated, busy, counts);

      // Assess
      assert.equal(item(off, 'S3 cross-region replication'), undefined);
      assert.ok(item(on, 'S3 cross-region replication')!.usd > 0);
      assert.match(
        item(off, 'Redshift snapshots')!.item,
        new RegExp(`kept ${config.recovery.snapshots.retentionDays} d`),
      );
      if (process.env.COST_DETAIL)
        console.log(envName, item(on, 'S3 cross-region'), item(on, 'Redshift snapshots'));
    }
  });
});
