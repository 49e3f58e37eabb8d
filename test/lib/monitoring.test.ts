/**
 * Issue 8 item 4: every alarm of an environment, its threshold from that environment's config and its
 * action the alert topic; the SLA check's schedule and rules from config; the dashboard's rows.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { CartflowStack } from '../../lib/cartflow-stack';
import {
  ConfigError,
  DEFAULT_SLA_CHECK_MINUTES,
  ENV_NAMES,
  freshnessRulesOf,
  loadConfig,
  validateConfig,
  type EnvName,
  type EnvironmentConfig,
} from '../../lib/config';
import { HANDLER_ENV, METRIC } from '../../lambdas/contract';
import { limitMinutes } from '../../lambdas/core/freshness';
import { logicalIdOf, synthWithStream, testApp, unacknowledgedNagFindings, type Synthesized } from './synth';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation JSON, asserted field by field
type Json = any;

const alarmsOf = (template: Template): Json[] =>
  Object.values<Json>(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);

/** Alarms on a metric, optionally with a given dimension value (e.g. the dataset). */
const alarmsOn = (template: Template, metricName: string, dimension?: [string, string]) =>
  alarmsOf(template).filter(
    (a) =>
      a.MetricName === metricName &&
      (dimension === undefined ||
        (a.Dimensions as Json[]).some((d) => d.Name === dimension[0] && d.Value === dimension[1])),
  );

function synthWith(envName: EnvName, change: (c: EnvironmentConfig) => void): Synthesized {
  const config = loadConfig(envName);
  change(config);
  validateConfig(config);
  const app = testApp();
  const stack = new CartflowStack(app, `Cartflow-${envName}`, { config });
  return { app, stack, config, template: Template.fromStack(stack) };
}

/** The function whose description names the handler entry (cartflowFunction: `cartflow <env>: <entry>`). */
const functionOf = (template: Template, entry: string): [string, Json] => {
  const found = Object.entries<Json>(template.findResources('AWS::Lambda::Function')).filter(([, f]) =>
    String(f.Properties.Description).endsWith(`: ${entry}`),
  );
  assert.equal(found.length, 1, `one ${entry} function`);
  return found[0];
};

for (const envName of ENV_NAMES) {
  describe(`monitoring of ${envName}`, () => {
    const { stack, config, template } = synthWithStream(envName);
    const topic = { Ref: logicalIdOf(stack, stack.alerts.topic) };

    test('a freshness alarm per dataset: threshold = the rule’s limit, missing data breaches, the alert topic acts', () => {
      // Prepare
      const rules = freshnessRulesOf(config);
      const interval = (config.sla.checkIntervalMinutes ?? DEFAULT_SLA_CHECK_MINUTES) * 60;

      // Act
      const freshness = alarmsOn(template, METRIC.dataAgeMinutes);

      // Assess
      assert.equal(freshness.length, Object.keys(rules).length);
      for (const [dataset, rule] of Object.entries(rules)) {
        const [alarm] = alarmsOn(template, METRIC.dataAgeMinutes, ['dataset', dataset]);
        assert.ok(alarm, `${dataset} has a freshness alarm`);
        assert.equal(alarm.Threshold, limitMinutes(rule));
        assert.equal(alarm.ComparisonOperator, 'GreaterThanThreshold');
        assert.equal(alarm.TreatMissingData, 'breaching');
        assert.equal(alarm.Period, interval);
        assert.equal(alarm.EvaluationPeriods, config.sla.breachedChecks ?? 1);
        assert.deepEqual(alarm.AlarmActions, [topic]);
        assert.ok((alarm.Dimensions as Json[]).some((d) => d.Name === 'environment' && d.Value === envName));
      }
    });

    test('run duration, quality gate, OffsetLag and on-failure objects: thresholds from config, the alert topic acts', () => {
      // Act
      const [duration] = alarmsOn(template, 'ExecutionTime');
      const [quality] = alarmsOn(template, METRIC.qualityGateFailed);
      const [lag] = alarmsOn(template, 'OffsetLag');
      const [onFailure] = alarmsOn(template, 'TriggeredRules');

      // Assess
      assert.equal(duration.Threshold, (config.alarms.runDurationMinutes ?? config.slaMinutes) * 60_000);
      assert.equal(quality.Threshold, 1);
      assert.equal(lag.Threshold, config.stream.offsetLagThreshold);
      assert.equal(onFailure.Threshold, 1);
      for (const alarm of [duration, quality, lag, onFailure]) assert.deepEqual(alarm.AlarmActions, [topic]);
    });

    test('errors and throttles alarms on every function the stack runs, the SLA check and run-failed included', () => {
      // Prepare
      const functions = Object.keys(template.findResources('AWS::Lambda::Function')).filter((id) =>
        functionIds(stack).includes(id),
      );

      // Act
      const onFunction = (metric: string) =>
        new Set(
          alarmsOn(template, metric).map(
            (a) => (a.Dimensions as Json[]).find((d) => d.Name === 'FunctionName').Value.Ref as string,
          ),
        );

      // Assess
      assert.ok(functions.includes(functionOf(template, 'sla-check')[0]));
      assert.ok(functions.includes(functionOf(template, 'run-failed')[0]));
      for (const metric of ['Errors', 'Throttles']) {
        assert.deepEqual([...onFunction(metric)].sort(), [...functions].sort(), metric);
      }
      for (const a of [...alarmsOn(template, 'Errors'), ...alarmsOn(template, 'Throttles')]) {
        assert.deepEqual(a.AlarmActions, [topic]);
      }
    });

    test('the SLA check runs on the configured schedule with the environment’s rules', () => {
      // Prepare
      const [id, fn] = functionOf(template, 'sla-check');
      const minutes = config.sla.checkIntervalMinutes ?? DEFAULT_SLA_CHECK_MINUTES;

      // Act
      const rules = Object.values<Json>(template.findResources('AWS::Events::Rule')).filter((r) =>
        (r.Properties.Targets as Json[]).some((t) => t.Arn['Fn::GetAtt']?.[0] === id),
      );

      // Assess
      assert.deepEqual(
        JSON.parse(fn.Properties.Environment.Variables[HANDLER_ENV.slaRules]),
        freshnessRulesOf(config),
      );
      assert.equal(fn.Properties.MemorySize, 256);
      assert.deepEqual(fn.Properties.TracingConfig, { Mode: 'Active' });
      assert.equal(rules.length, 1);
      assert.equal(rules[0].Properties.ScheduleExpression, `rate(${minutes} minutes)`);
      assert.ok(rules[0].Properties.Targets[0].DeadLetterConfig, 'an undeliverable schedule event is kept');
    });

    test('the dashboard shows runs, durations, rows loaded, quality, freshness per dataset, events and errors per minute', () => {
      // Act
      const [dashboard] = Object.values<Json>(template.findResources('AWS::CloudWatch::Dashboard'));
      const body = JSON.stringify(stack.resolve(dashboard.Properties.DashboardBody));

      // Assess
      for (const title of [
        'Batch executions',
        'Batch execution time (ms)',
        'Rows loaded per dataset',
        'Quality: gate failures and quarantined rows',
        'Errors per minute (all functions)',
        'Clickstream events per minute',
        ...Object.keys(freshnessRulesOf(config)).map((d) => `Freshness: ${d} (minutes)`),
      ]) {
        assert.ok(body.includes(title), `${envName} dashboard lacks "${title}"`);
      }
      for (const metric of [METRIC.rowsLoaded, METRIC.dataAgeMinutes, METRIC.eventsWritten]) {
        assert.ok(body.includes(metric), `${envName} dashboard lacks ${metric}`);
      }
    });
  });
}

/** Logical ids of the stack's own cartflow functions (not CDK's deploy-time singletons). */
function functionIds(stack: CartflowStack): string[] {
  const fns = [
    ...Object.values(stack.pipeline.functions),
    ...(stack.stream ? [stack.stream.streamFunction, stack.stream.loadEventsFunction] : []),
    ...(stack.slaCheck ? [stack.slaCheck.function] : []),
    stack.failedRuns.function,
  ];
  return fns.map((fn) => logicalIdOf(stack, fn));
}

describe('SLA settings change the synthesized rules and alarms', () => {
  test('another deadline, interval and breach count: new thresholds, schedule and periods; nag stays clean', () => {
    // Prepare
    const { app, template } = synthWith('staging', (c) => {
      c.sla.datasets = { ...c.sla.datasets, orders: { loadedBy: '07:15' } };
      c.sla.checkIntervalMinutes = 10;
      c.sla.breachedChecks = 3;
    });

    // Act
    const [orders] = alarmsOn(template, METRIC.dataAgeMinutes, ['dataset', 'orders']);
    const [items] = alarmsOn(template, METRIC.dataAgeMinutes, ['dataset', 'order_items']);

    // Assess
    assert.equal(orders.Threshold, 24 * 60 + 7 * 60 + 15);
    assert.equal(items.Threshold, 24 * 60 + 6 * 60);
    assert.deepEqual([orders.Period, orders.EvaluationPeriods], [600, 3]);
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
    assert.deepEqual(unacknowledgedNagFindings(app), []);
  });

  test('with the stream off there is no events freshness alarm and the check is not given the events rule', () => {
    // Act
    const { template } = synthWith('dev', (c) => (c.stream.enabled = false));

    // Assess
    assert.deepEqual(
      alarmsOn(template, METRIC.dataAgeMinutes).map(
        (a) => (a.Dimensions as Json[]).find((d) => d.Name === 'dataset').Value,
      ),
      ['products', 'orders', 'order_items'],
    );
    const [, fn] = functionOf(template, 'sla-check');
    assert.equal(fn.Properties.Environment.Variables[HANDLER_ENV.slaRules].includes('events'), false);
  });

  test('without any rule there is no SLA check and no freshness alarm', () => {
    // Act
    const { stack, template } = synthWith('dev', (c) => (c.sla.datasets = {}));

    // Assess
    assert.equal(stack.slaCheck, undefined);
    assert.equal(alarmsOn(template, METRIC.dataAgeMinutes).length, 0);
  });
});

describe('SLA config validation says what to change', () => {
  const cases: Array<[string, (c: EnvironmentConfig) => void, string, RegExp]> = [
    [
      'a malformed deadline',
      (c) => (c.sla.datasets = { orders: { loadedBy: '6am' } }),
      'sla.datasets.orders.loadedBy',
      /HH:MM/,
    ],
    [
      'a deadline before the scheduled run can finish',
      (c) => (c.sla.datasets = { orders: { loadedBy: '03:30' } }),
      'sla.datasets.orders.loadedBy',
      /04:00 or later: the run starts at 03:00 \(scheduleCron\) and may take slaMinutes \(60\)/,
    ],
    [
      'an events age the load interval cannot meet',
      (c) => {
        c.stream.enabled = true;
        c.sla.datasets = { events: { maxAgeMinutes: 15 } };
      },
      'sla.datasets.events.maxAgeMinutes',
      /more than stream.eventsLoadIntervalMinutes \(15\)/,
    ],
    [
      'an unknown dataset',
      (c) => (c.sla.datasets = { clicks: { maxAgeMinutes: 30 } } as never),
      'sla.datasets.clicks',
      /rules only for/,
    ],
    [
      'a check interval past an hour',
      (c) => (c.sla.checkIntervalMinutes = 90),
      'sla.checkIntervalMinutes',
      /1 to 60/,
    ],
    ['zero breached checks', (c) => (c.sla.breachedChecks = 0), 'sla.breachedChecks', /1 to 24/],
    [
      'a duration alarm past the timeout',
      (c) => (c.alarms.runDurationMinutes = 61),
      'alarms.runDurationMinutes',
      /an integer from 1 to 60/,
    ],
  ];
  for (const [name, change, field, allowed] of cases) {
    test(`rejects ${name}, naming ${field}`, () => {
      // Prepare
      const config = loadConfig('dev');
      change(config);

      // Act + Assess
      assert.throws(
        () => validateConfig(config),
        (e: unknown) => e instanceof ConfigError && e.field === field && allowed.test(e.message),
      );
    });
  }

  test('events may wait up to the load interval when the stream is off', () => {
    const config = loadConfig('dev');
    config.stream.enabled = false;
    config.sla.datasets = { events: { maxAgeMinutes: 15 } };
    assert.doesNotThrow(() => validateConfig(config));
  });
});
