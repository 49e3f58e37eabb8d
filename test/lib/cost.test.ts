/**
 * Issue 6 item 9: the cost of an idle environment. The stream can be switched off per environment
 * (no MSK, no mapping, no load-events schedule, no stream alarms); pollers come from config; the
 * estimate README shows is computed from config and the synthesized template.
 * (An idle load-events run makes no warehouse call: test/lambdas/handlers/load-events.test.ts.)
 * Issue 13 item 1: every scheduled call that can reach Redshift, read off the template, is billed; the SLA
 * check reads the lake and is not; the DuckDB functions are priced at x86_64; the README table is checked.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { CartflowStack } from '../../lib/cartflow-stack';
import { DEFAULT_SLA_CHECK_MINUTES, ENV_NAMES, loadConfig, type EnvName } from '../../lib/config';
import {
  estimateMonthlyCost,
  IDLE_BATCH_WAREHOUSE_MINUTES,
  PRICES,
  stackCountsOf,
  totalOf,
  type StackCounts,
} from '../../lib/cost-estimate';
import { batchSecondsPerLine } from '../../lib/engine-capacity';
import type { CfnResources, ScheduledCall } from '../../lib/scheduled-calls';
import { synth, synthWithStream, testApp, unacknowledgedNagFindings } from './synth';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation JSON, asserted field by field
type Json = any;

function synthStreamOff(envName: EnvName) {
  const config = loadConfig(envName);
  config.stream.enabled = false;
  const app = testApp();
  const stack = new CartflowStack(app, `Cartflow-${envName}`, { config });
  return { app, stack, config, template: Template.fromStack(stack) };
}

const countsOf = (template: Template): StackCounts =>
  stackCountsOf(template.toJSON().Resources as CfnResources);

/** The README's cost table rows (`| env | … |`), as written. */
const readmeRows = (): string[] =>
  readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => ENV_NAMES.some((env) => line.startsWith(`| ${env} | $`)));

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

  test('dev starts with the stream off (no MSK cluster, no pollers); staging and prod run it', () => {
    // Act
    const enabled = ENV_NAMES.map((envName) => [envName, loadConfig(envName).stream.enabled]);
    // Assess
    assert.deepEqual(enabled, [
      ['dev', false],
      ['staging', true],
      ['prod', true],
    ]);
    synth('dev').template.resourceCountIs('AWS::MSK::ServerlessCluster', 0);
    synth('dev').template.resourceCountIs('AWS::Lambda::EventSourceMapping', 0);
  });

  for (const envName of ENV_NAMES) {
    test(`${envName}: stream on, with the configured pollers and partitions`, () => {
      const { template, config } = synthWithStream(envName);
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

  const idle = { orders: 0, events: 0 };
  const redshiftOf = (lines: ReturnType<typeof estimateMonthlyCost>) =>
    lines.find((l) => l.item.startsWith('Redshift'))!.usd;
  /** USD a month of `minutesPerDay` of the workgroup at base capacity. */
  const warehouseUsd = (minutesPerDay: number, rpu: number) =>
    Math.round((minutesPerDay / 60) * 30.4 * rpu * PRICES.redshiftRpuHour * 100) / 100;

  test('idle: Redshift is billed only for the timers that can reach it (the nightly run), never for the SLA check', () => {
    for (const envName of ENV_NAMES) {
      // Prepare
      const { template, config } = synth(envName);
      const counts = countsOf(template);
      const unreachable = {
        ...counts,
        scheduledCalls: counts.scheduledCalls.filter((c) => c.warehouseActions.length === 0),
      };

      // Act
      const lines = estimateMonthlyCost(config, idle, counts);
      const withoutWarehouseTimers = estimateMonthlyCost(config, idle, unreachable);

      // Assess
      const rpu = config.redshift.baseCapacityRpu;
      assert.equal(redshiftOf(lines), warehouseUsd(IDLE_BATCH_WAREHOUSE_MINUTES, rpu), envName);
      assert.equal(redshiftOf(withoutWarehouseTimers), 0, envName);
      assert.ok(
        unreachable.scheduledCalls.some((c) => c.entry === 'sla-check'),
        'the SLA check is a timer',
      );
    }
  });

  test('a timer that can query the warehouse (the SLA check with Data API access) is billed at every run', () => {
    for (const envName of ENV_NAMES) {
      // Prepare: the SLA check as it was before issue 13, allowed to assume the warehouse writer role.
      const config = loadConfig(envName);
      const stack = new CartflowStack(testApp(), `Cartflow-${envName}`, { config });
      stack.warehouse.grantDataApi(stack.slaCheck!.function);
      const checksPerDay = (24 * 60) / (config.sla.checkIntervalMinutes ?? DEFAULT_SLA_CHECK_MINUTES);

      // Act
      const lines = estimateMonthlyCost(config, idle, countsOf(Template.fromStack(stack)));

      // Assess
      const rpu = config.redshift.baseCapacityRpu;
      assert.equal(
        redshiftOf(lines),
        Math.round(
          (warehouseUsd(IDLE_BATCH_WAREHOUSE_MINUTES, rpu) + warehouseUsd(checksPerDay, rpu)) * 100,
        ) / 100,
        envName,
      );
      console.log(`${envName}: idle Redshift with a warehouse-querying SLA check: $${redshiftOf(lines)}`);
    }
  });

  test('the DuckDB functions are priced at the architecture they deploy with (x86_64)', () => {
    for (const envName of ENV_NAMES) {
      // Prepare
      const { template, config } = synth(envName);
      const counts = countsOf(template);
      const lambdaOf = (c: StackCounts) =>
        estimateMonthlyCost(config, volume, c).find((l) => l.item.startsWith('Lambda ('))!;

      // Act
      const deployed = lambdaOf(counts);
      const onArm = lambdaOf({ ...counts, engineArchitecture: 'arm64' });

      // Assess
      assert.equal(counts.engineArchitecture, 'x86_64');
      assert.match(deployed.item, /DuckDB on x86_64/);
      assert.ok(deployed.usd > onArm.usd, `${envName}: x86 $${deployed.usd} > arm64 $${onArm.usd}`);
    }
  });

  test('switching the stream off removes MSK and its pollers', () => {
    for (const envName of ENV_NAMES) {
      const { template, config } = synthWithStream(envName);
      const on = estimateMonthlyCost(config, idle, countsOf(template));
      const off = synthStreamOff(envName);
      const idleOff = estimateMonthlyCost(off.config, idle, countsOf(off.template));
      assert.ok(!idleOff.some((l) => l.item.startsWith('MSK') || l.item.includes('pollers')));
      assert.ok(totalOf(idleOff) < totalOf(on) - 500, `${envName}: the stream costs > $500/month idle`);
      assert.ok(totalOf(estimateMonthlyCost(config, volume, countsOf(template))) > totalOf(on));
    }
  });

  test('the README table is the estimate (idle and at 20,000 orders + 2,000,000 events a day)', () => {
    const rows: string[] = [];
    for (const envName of ENV_NAMES) {
      const { template, config } = synthWithStream(envName);
      const off = synthStreamOff(envName);
      const cell = (c: typeof config, t: Template, v: typeof volume) =>
        `$${totalOf(estimateMonthlyCost(c, v, countsOf(t))).toLocaleString('en-US')}`;
      rows.push(
        `| ${envName} | ${cell(config, template, { orders: 0, events: 0 })} | ${cell(config, template, volume)} | ` +
          `${cell(off.config, off.template, { orders: 0, events: 0 })} | ${cell(off.config, off.template, { ...volume, events: 0 })} |`,
      );
      if (process.env.COST_DETAIL) {
        console.log(
          envName,
          'idle',
          estimateMonthlyCost(config, { orders: 0, events: 0 }, countsOf(template)),
        );
        console.log(envName, 'busy', estimateMonthlyCost(config, volume, countsOf(template)));
      }
    }
    console.log(rows.join('\n'));
    assert.deepEqual(readmeRows(), rows, 'README.md "Cost" table: paste the rows printed above');
  });
});

describe('cost of the recovery options', () => {
  const busy = { orders: 20_000, events: 2_000_000 };
  const counts: StackCounts = {
    alarms: 0,
    secrets: 0,
    keys: 1,
    interfaceEndpoints: 0,
    scheduledCalls: [],
    engineArchitecture: 'x86_64',
  };
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

describe('the batch run in the estimate', () => {
  test('its Transform and Validate take the seconds per order line bench:scale measured', () => {
    // Prepare: one nightly run that reaches no warehouse, nothing else
    const config = loadConfig('prod');
    config.stream.enabled = false;
    const run: ScheduledCall = {
      rule: 'nightly',
      perDay: 1,
      kind: 'stateMachine',
      target: 'Batch',
      warehouseActions: [],
    };
    const counts: StackCounts = {
      alarms: 0,
      secrets: 0,
      keys: 0,
      interfaceEndpoints: 0,
      scheduledCalls: [run],
      engineArchitecture: 'x86_64',
    };
    const lambdaUsd = (orders: number) =>
      estimateMonthlyCost(config, { orders, events: 0 }, counts).find((l) => l.item.startsWith('Lambda ('))!
        .usd;

    // Act: a million orders a day more
    const added = lambdaUsd(1_000_000) - lambdaUsd(0);

    // Assess: 3M lines × the measured seconds per line, at prod's engine memory on x86_64, for 30.4 days
    const expected =
      3_000_000 * batchSecondsPerLine() * (config.engine.memoryMb / 1024) * PRICES.lambdaGbSecondX86 * 30.4;
    assert.ok(Math.abs(added - expected) < 0.02, `added $${added}, expected $${expected.toFixed(2)}`);
  });
});
