/**
 * Issue 6 item 10: smaller traps that only show on AWS. Each test reads the synthesized template the
 * way the AWS service would, so a regression fails here instead of on the first deploy.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { CartflowStack } from '../../lib/cartflow-stack';
import { ENV_NAMES, loadConfig, type EnvironmentConfig, type EnvName } from '../../lib/config';
import {
  loadEventsTimeoutSeconds,
  MSK_MAPPING_MAX_TIMEOUT_SECONDS,
  SCHEDULE_JITTER_SECONDS,
} from '../../lib/constructs/stream-ingest';
import { logicalIdOf, synth, synthWithStream, testApp, unacknowledgedNagFindings } from './synth';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation JSON, asserted field by field
type Json = any;

const asList = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

function synthWith(envName: EnvName, change: (c: EnvironmentConfig) => void) {
  const config = loadConfig(envName);
  change(config);
  const app = testApp();
  const stack = new CartflowStack(app, `Cartflow-${envName}`, { config });
  return { app, stack, config, template: Template.fromStack(stack) };
}

/** Logical ids of the functions behind a Kafka (MSK) event-source mapping, with the mapping. */
function kafkaTargets(template: Template): Array<[string, Json]> {
  return Object.values<Json>(template.findResources('AWS::Lambda::EventSourceMapping'))
    .filter((m) => m.Properties.AmazonManagedKafkaEventSourceConfig || m.Properties.Topics)
    .map((m) => [m.Properties.FunctionName.Ref as string, m]);
}

/** `rate(N minutes)` → N * 60 seconds. */
function rateSeconds(expression: string): number {
  const m = /^rate\((\d+) (minute|minutes|hour|hours)\)$/.exec(expression);
  assert.ok(m, `not a rate schedule: ${expression}`);
  return Number(m[1]) * (m[2].startsWith('hour') ? 3600 : 60);
}

/**
 * The rule for reserved concurrency: a function with ReservedConcurrentExecutions = R is only invoked
 * by sources whose peak concurrency is at most R, so its throttle alarm cannot fire by design.
 * - a rate schedule needs 1 if the function ends (timeout + jitter) before the next run and Lambda does
 *   not retry it asynchronously (a retry would overlap the next run);
 * - a Kafka mapping needs one instance per partition.
 * Returns the functions checked.
 */
function assertReservedConcurrencySuffices(
  template: Template,
  config: EnvironmentConfig,
  label: string,
): string[] {
  const functions = template.findResources('AWS::Lambda::Function');
  const rules = Object.values<Json>(template.findResources('AWS::Events::Rule'));
  const invokeConfigs = Object.values<Json>(template.findResources('AWS::Lambda::EventInvokeConfig'));
  const mappings = kafkaTargets(template);
  const alarms = Object.values<Json>(template.findResources('AWS::CloudWatch::Alarm'));
  const checked: string[] = [];
  for (const [fnId, fn] of Object.entries<Json>(functions)) {
    const reserved = fn.Properties.ReservedConcurrentExecutions as number | undefined;
    if (reserved === undefined) continue;
    checked.push(fnId);
    let needed = 0;
    for (const rule of rules) {
      const targets = asList<Json>(rule.Properties.Targets).filter((t) =>
        JSON.stringify(t.Arn).includes(`"${fnId}"`),
      );
      if (targets.length === 0 || !rule.Properties.ScheduleExpression) continue;
      const period = rateSeconds(rule.Properties.ScheduleExpression);
      assert.ok(
        fn.Properties.Timeout + SCHEDULE_JITTER_SECONDS <= period,
        `${label}: ${fnId} runs up to ${fn.Properties.Timeout}s on a ${period}s schedule: runs would overlap`,
      );
      const invokeConfig = invokeConfigs.find((c) => c.Properties.FunctionName.Ref === fnId);
      assert.equal(
        invokeConfig?.Properties.MaximumRetryAttempts,
        0,
        `${label}: ${fnId}: Lambda's async retries would overlap the next scheduled run`,
      );
      assert.ok(
        invokeConfig.Properties.MaximumEventAgeInSeconds <= period,
        `${label}: ${fnId}: stale events expire`,
      );
      needed += 1;
    }
    for (const [target] of mappings) if (target === fnId) needed += config.stream.partitions;
    assert.ok(needed >= 1, `${label}: ${fnId} has reserved concurrency but no trigger this rule knows`);
    assert.ok(reserved >= needed, `${label}: ${fnId}: reserved ${reserved} < ${needed} its triggers need`);
    // The throttle alarm stays: by the rule above it fires only on an invocation outside the design.
    assert.ok(
      alarms.some(
        (a) =>
          a.Properties.MetricName === 'Throttles' &&
          JSON.stringify(a.Properties.Dimensions).includes(`"${fnId}"`),
      ),
      `${label}: ${fnId} keeps its throttle alarm`,
    );
  }
  return checked;
}

describe('stream-to-parquet within what an MSK mapping allows', () => {
  for (const envName of ENV_NAMES) {
    test(`${envName}: every function behind a Kafka mapping times out within 14 minutes`, () => {
      const { template, config } = synthWithStream(envName);
      const functions = template.findResources('AWS::Lambda::Function');
      const targets = kafkaTargets(template);
      assert.equal(targets.length, 1);
      for (const [fnId] of targets) {
        const timeout = functions[fnId].Properties.Timeout as number;
        assert.ok(
          timeout <= MSK_MAPPING_MAX_TIMEOUT_SECONDS,
          `${envName}: ${fnId} timeout ${timeout}s > 840s`,
        );
        assert.equal(timeout, Math.min(config.lambdaTimeoutSeconds, MSK_MAPPING_MAX_TIMEOUT_SECONDS));
      }
    });
  }

  test('prod asks 15 minutes of its functions; the stream function gets 14', () => {
    const { template, config } = synth('prod');
    assert.equal(config.lambdaTimeoutSeconds, 900);
    const [[fnId]] = kafkaTargets(template);
    assert.equal(template.findResources('AWS::Lambda::Function')[fnId].Properties.Timeout, 840);
  });
});

/** The reservations an account with a raised concurrency quota may set (README "Lambda concurrency"). */
const reserveBoth = (c: EnvironmentConfig) => {
  c.stream.enabled = true;
  c.reservedConcurrency = { loadEvents: 1, slaCheck: 1 };
};

describe('reserved concurrency and the throttle alarms', () => {
  for (const envName of ENV_NAMES) {
    test(`${envName}: no function reserves concurrency by default, so a new account (quota 10) takes the deploy`, () => {
      // Prepare
      const { template } = synth(envName);
      // Act
      const reserving = Object.entries<Json>(template.findResources('AWS::Lambda::Function')).filter(
        ([, fn]) => fn.Properties.ReservedConcurrentExecutions !== undefined,
      );
      // Assess
      assert.deepEqual(
        reserving.map(([id]) => id),
        [],
      );
    });

    test(`${envName}: a configured reserved concurrency covers what its schedule or mapping needs`, () => {
      // Prepare + Act
      const { stack, template, config } = synthWith(envName, reserveBoth);
      const checked = assertReservedConcurrencySuffices(template, config, envName);
      // Assess
      assert.deepEqual(
        checked.sort(),
        [
          logicalIdOf(stack, stack.slaCheck!.function),
          logicalIdOf(stack, stack.stream!.loadEventsFunction),
        ].sort(),
      );
    });
  }

  test('a 1-minute load interval with 15-minute functions still leaves load-events ending before the next run', () => {
    const { template, config } = synthWith('prod', (c) => {
      reserveBoth(c);
      c.stream.eventsLoadIntervalMinutes = 1;
    });
    assert.equal(loadEventsTimeoutSeconds(config), 60 - SCHEDULE_JITTER_SECONDS);
    assertReservedConcurrencySuffices(template, config, 'prod, 1-minute loads');
  });
});

describe('the topic custom resource and the network it needs', () => {
  for (const envName of ENV_NAMES) {
    test(`${envName}: Custom::KafkaTopic waits for the cluster and the MSK API endpoint its handler calls`, () => {
      const { stack, template } = synthWithStream(envName);
      const stream = stack.stream!;
      const [topic] = Object.values<Json>(template.findResources('Custom::KafkaTopic'));
      const endpointId = logicalIdOf(stack, stream.kafkaApiEndpoint);
      const endpoint = template.findResources('AWS::EC2::VPCEndpoint')[endpointId];
      assert.match(JSON.stringify(endpoint.Properties.ServiceName), /\.kafka"/);
      assert.equal(endpoint.Properties.PrivateDnsEnabled, true);
      const dependsOn = asList<string>(topic.DependsOn);
      assert.ok(dependsOn.includes(endpointId), `DependsOn ${JSON.stringify(dependsOn)} lacks ${endpointId}`);
      // The cluster comes first through the ClusterArn property the handler reads.
      const clusterId = stack.resolve(stream.cluster.logicalId) as string;
      assert.deepEqual(topic.Properties.ClusterArn, { 'Fn::GetAtt': [clusterId, 'Arn'] });

      // The handler runs in the subnets the endpoint serves, with a group the endpoint admits on 443.
      const createTopic = Object.values<Json>(template.findResources('AWS::Lambda::Function')).find((f) =>
        JSON.stringify(f.Properties.Description ?? '').includes('create-topic'),
      );
      assert.ok(createTopic);
      assert.deepEqual(createTopic.Properties.VpcConfig.SubnetIds, endpoint.Properties.SubnetIds);
      const [clientSg] = createTopic.Properties.VpcConfig.SecurityGroupIds;
      const endpointSgId = endpoint.Properties.SecurityGroupIds[0]['Fn::GetAtt'][0] as string;
      const ingress = template.findResources('AWS::EC2::SecurityGroupIngress');
      const inline =
        template.findResources('AWS::EC2::SecurityGroup')[endpointSgId].Properties.SecurityGroupIngress ?? [];
      const rules = [...inline, ...Object.values<Json>(ingress).map((i) => i.Properties)].filter(
        (r) => r.GroupId === undefined || JSON.stringify(r.GroupId).includes(endpointSgId),
      );
      assert.ok(
        rules.some(
          (r) => r.FromPort === 443 && JSON.stringify(r.SourceSecurityGroupId) === JSON.stringify(clientSg),
        ),
        'the endpoint admits the create-topic function on 443',
      );
    });
  }
});

describe('X-Ray: reachable from the VPC or off there', () => {
  const xrayEndpoints = (template: Template) =>
    Object.values<Json>(template.findResources('AWS::EC2::VPCEndpoint')).filter((e) =>
      JSON.stringify(e.Properties.ServiceName).includes('.xray'),
    );

  const assertTracingMatchesReachability = (template: Template, label: string, expectEndpoint: boolean) => {
    const endpoints = xrayEndpoints(template);
    assert.equal(endpoints.length, expectEndpoint ? 1 : 0, `${label}: X-Ray endpoints`);
    let inVpc = 0;
    for (const [fnId, fn] of Object.entries<Json>(template.findResources('AWS::Lambda::Function'))) {
      const mode = fn.Properties.TracingConfig?.Mode as string | undefined;
      const vpcConfig = fn.Properties.VpcConfig;
      // CDK's own framework functions (custom-resource provider, bucket notifications) set no tracing.
      const ours = JSON.stringify(fn.Properties.Description ?? '').includes('cartflow');
      if (!ours) continue;
      if (!vpcConfig) {
        assert.equal(mode, 'Active', `${label}: ${fnId} (no VPC) is traced`);
        continue;
      }
      inVpc += 1;
      if (expectEndpoint) {
        assert.equal(mode, 'Active', `${label}: ${fnId} reaches the X-Ray endpoint, so it is traced`);
        assert.deepEqual(vpcConfig.SubnetIds, endpoints[0].Properties.SubnetIds);
      } else {
        assert.notEqual(mode, 'Active', `${label}: ${fnId} has no route to X-Ray, so it is not traced`);
      }
    }
    assert.ok(inVpc >= 2, `${label}: create-topic and stream-to-parquet run in the VPC`);
  };

  for (const envName of ENV_NAMES) {
    test(`${envName}: VPC functions are traced exactly when config.xrayVpcEndpoint adds the endpoint`, () => {
      const { template, config } = synthWithStream(envName);
      assertTracingMatchesReachability(template, envName, config.xrayVpcEndpoint === true);
    });
  }

  test('prod has the endpoint, open on 443 to the VPC only', () => {
    const { template } = synth('prod');
    const [endpoint] = xrayEndpoints(template);
    assert.equal(endpoint.Properties.PrivateDnsEnabled, true);
    const sgId = endpoint.Properties.SecurityGroupIds[0]['Fn::GetAtt'][0] as string;
    const sg = template.findResources('AWS::EC2::SecurityGroup')[sgId].Properties;
    assert.deepEqual(
      sg.SecurityGroupIngress.map((r: Json) => [r.CidrIp, r.FromPort, r.ToPort]),
      [['10.40.0.0/16', 443, 443]],
    );
  });

  test('switching the endpoint on in dev traces its VPC functions, nag-clean', () => {
    const { app, template } = synthWith('dev', (c) => {
      c.stream.enabled = true;
      c.xrayVpcEndpoint = true;
    });
    assertTracingMatchesReachability(template, 'dev with endpoint', true);
    assert.deepEqual(unacknowledgedNagFindings(app), []);
  });
});
