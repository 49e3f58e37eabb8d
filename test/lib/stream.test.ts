import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { ENV_NAMES, loadConfig } from '../../lib/config';
import { DuckDbLayer } from '../../lib/constructs/duckdb-layer';
import { StreamIngest } from '../../lib/constructs/stream-ingest';
import { Warehouse } from '../../lib/constructs/warehouse';
import { logicalIdOf, scaffold, synth, synthWithStream } from './synth';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- synthesized JSON, asserted field by field
type Json = any;
type Resource = { Type: string; Properties: Record<string, Json>; DependsOn?: string[] };
type Statement = { Action: string | string[]; Resource: Json; Condition?: Json };

const actionsOf = (s: Statement) => [s.Action].flat();

/** Every statement of the inline policies attached to the role of `fn`. */
function statementsOfRole(
  template: { findResources(type: string): Record<string, unknown> },
  roleId: string,
) {
  return (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

describe('StreamIngest', () => {
  test('MSK Serverless with IAM client auth in the private subnets of the shared VPC', () => {
    // Prepare
    const { stack, template } = synth('prod');
    const clusterSg = logicalIdOf(stack, stack.stream!.clusterSecurityGroup);
    // Act
    const cluster = Object.values(template.findResources('AWS::MSK::ServerlessCluster'))[0] as Resource;
    const workgroup = Object.values(
      template.findResources('AWS::RedshiftServerless::Workgroup'),
    )[0] as Resource;
    // Assess
    template.resourceCountIs('AWS::EC2::VPC', 1);
    assert.deepEqual(cluster.Properties.ClientAuthentication, { Sasl: { Iam: { Enabled: true } } });
    const [vpcConfig] = cluster.Properties.VpcConfigs;
    assert.deepEqual(vpcConfig.SecurityGroups, [{ 'Fn::GetAtt': [clusterSg, 'GroupId'] }]);
    // The same private subnets as the warehouse.
    assert.deepEqual(vpcConfig.SubnetIds, workgroup.Properties.SubnetIds);
    for (const subnet of vpcConfig.SubnetIds as Array<{ Ref: string }>) {
      const props = template.toJSON().Resources[subnet.Ref].Properties;
      assert.equal(props.MapPublicIpOnLaunch, false);
    }
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
  });

  test('9098 reaches the cluster only from the client security group and the mapping pollers', () => {
    // Prepare
    const { stack, template } = synthWithStream('dev');
    const clusterSg = logicalIdOf(stack, stack.stream!.clusterSecurityGroup);
    const clientSg = logicalIdOf(stack, stack.stream!.clientSecurityGroup);
    // Act
    const ingress = (Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')) as Resource[])
      .map((r) => r.Properties)
      .filter((p) => JSON.stringify(p.GroupId).includes(clusterSg));
    const sg = template.toJSON().Resources[clusterSg] as Resource;
    // Assess
    assert.equal(sg.Properties.SecurityGroupIngress, undefined);
    assert.equal(ingress.length, 2);
    for (const rule of ingress) {
      assert.equal(rule.FromPort, 9098);
      assert.equal(rule.ToPort, 9098);
      assert.equal(rule.CidrIp, undefined);
    }
    const sources = ingress.map((r) => r.SourceSecurityGroupId['Fn::GetAtt'][0]).sort();
    assert.deepEqual(sources, [clientSg, clusterSg].sort());
  });

  for (const envName of ENV_NAMES) {
    test(`${envName}: the mapping takes batch size, window, starting position, retries and pollers from config, with an S3 on-failure destination`, () => {
      // Prepare
      const { stack, template, config } = synthWithStream(envName);
      const { stream } = config;
      // Assess
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: stack.resolve(stack.stream!.clusterArn),
        Topics: [stream.topic],
        BatchSize: stream.batchSize,
        MaximumBatchingWindowInSeconds: stream.maxBatchingWindowSeconds,
        StartingPosition: stream.startingPosition,
        MaximumRetryAttempts: stream.retryAttempts,
        ProvisionedPollerConfig: {
          MinimumPollers: stream.pollers.minimum,
          MaximumPollers: stream.pollers.maximum,
        },
        AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: stack.stream!.consumerGroupId },
        DestinationConfig: {
          OnFailure: {
            Destination: { 'Fn::GetAtt': [logicalIdOf(stack, stack.dataLake.bucket), 'Arn'] },
          },
        },
      });
    });
  }

  test('the mapping waits for the topic, which a retained custom resource creates', () => {
    // Prepare
    const { template } = synth('prod');
    const [[topicId, topic]] = Object.entries(template.findResources('Custom::KafkaTopic')) as Array<
      [string, Resource & { DeletionPolicy?: string }]
    >;
    const mapping = Object.values(template.findResources('AWS::Lambda::EventSourceMapping'))[0] as Resource;
    // Assess
    assert.equal(topic.Properties.Topic, 'clickstream');
    assert.equal(topic.Properties.Partitions, loadConfig('prod').stream.partitions);
    assert.equal(topic.DeletionPolicy, 'Retain');
    assert.ok(mapping.DependsOn?.includes(topicId));
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'cartflow prod: create-topic',
      VpcConfig: Match.objectLike({ SubnetIds: Match.anyValue() }),
    });
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Interface',
      ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['.kafka'])]) }),
    });
  });

  test('Kafka permissions are scoped to the cluster, topic and group ARNs; none on "*"', () => {
    // Prepare
    const { stack, template } = synth('prod');
    const roleId = logicalIdOf(stack, stack.stream!.streamFunction.role!);
    const clusterArn = stack.resolve(stack.stream!.clusterArn);
    // Act
    const allStatements = (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[]).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Statement[],
    );
    const statements = statementsOfRole(template, roleId);
    const granted = (action: string) => statements.filter((s) => actionsOf(s).includes(action));
    // Assess
    for (const s of allStatements) {
      if (actionsOf(s).some((a) => a.startsWith('kafka'))) {
        assert.notEqual(s.Resource, '*', JSON.stringify(s));
        assert.ok(!actionsOf(s).includes('kafka-cluster:*'), JSON.stringify(s));
      }
    }
    for (const action of ['kafka-cluster:Connect', 'kafka-cluster:DescribeClusterDynamicConfiguration']) {
      assert.deepEqual(
        granted(action).map((s) => s.Resource),
        [clusterArn],
        action,
      );
    }
    for (const [action, kind] of [
      ['kafka-cluster:DescribeTopic', ':topic/'],
      ['kafka-cluster:ReadData', ':topic/'],
      ['kafka-cluster:DescribeGroup', ':group/'],
      ['kafka-cluster:AlterGroup', ':group/'],
    ] as const) {
      const [statement] = granted(action);
      assert.ok(statement, action);
      const resource = JSON.stringify(statement.Resource);
      assert.ok(resource.includes(kind), `${action}: ${resource}`);
      assert.ok(resource.includes('cartflow-prod/'), resource);
    }
    assert.ok(JSON.stringify(granted('kafka-cluster:ReadData')[0].Resource).includes('/clickstream'));
    assert.ok(
      JSON.stringify(granted('kafka-cluster:AlterGroup')[0].Resource).includes(stack.stream!.consumerGroupId),
    );
  });

  test('stream-to-parquet writes only events/, quarantine/clickstream/ and the on-failure prefix', () => {
    // Prepare
    const { stack, template } = synth('staging');
    const roleId = logicalIdOf(stack, stack.stream!.streamFunction.role!);
    const bucketArn = JSON.stringify({ 'Fn::GetAtt': [logicalIdOf(stack, stack.dataLake.bucket), 'Arn'] });
    // Act
    const objectResources = statementsOfRole(template, roleId)
      .filter((s) => actionsOf(s).some((a) => a.startsWith('s3:Put') || a.startsWith('s3:DeleteObject')))
      .flatMap((s) => [s.Resource].flat())
      .map((r) => JSON.stringify(r))
      // Bucket-level actions (GetBucket*, List*) share the statement; objects are the prefixed ARNs.
      .filter((r) => r !== bucketArn);
    // Assess
    assert.ok(objectResources.length > 0);
    for (const resource of objectResources) {
      assert.match(resource, /\/(events\/\*|quarantine\/clickstream\/\*|aws\/lambda\/\*)"/);
    }
  });

  test('load-events runs on the configured rate, reads events/, writes only its manifests and state, closes arrival hours after the stream timeout and uses the Data API', () => {
    // Prepare
    const { stack, template, config } = synth('prod');
    const fnId = logicalIdOf(stack, stack.stream!.loadEventsFunction);
    const roleId = logicalIdOf(stack, stack.stream!.loadEventsFunction.role!);
    // Act
    const statements = statementsOfRole(template, roleId);
    // Assess
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: `rate(${config.stream.eventsLoadIntervalMinutes} minutes)`,
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] } })],
    });
    // The Data API as the warehouse's writer user: it assumes the writer role, never reads the admin secret.
    assert.ok(
      statements.some(
        (s) =>
          actionsOf(s).includes('sts:AssumeRole') &&
          JSON.stringify(s.Resource) === JSON.stringify(stack.resolve(stack.warehouse.writerRole.roleArn)),
      ),
    );
    assert.ok(!statements.some((s) => actionsOf(s).includes('secretsmanager:GetSecretValue')));
    const writes = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:Put')));
    assert.equal(writes.length, 1);
    assert.match(JSON.stringify(writes[0].Resource), /\/events\/_manifests\/\*/);
    // Its position, under state/ (no lifecycle rule).
    assert.match(JSON.stringify(writes[0].Resource), /\/state\/events\/\*/);
    const fn = template.toJSON().Resources[fnId] as Resource;
    // An arrival hour closes once the stream function's timeout and a minute of clock margin have passed.
    const streamFn = template.toJSON().Resources[
      logicalIdOf(stack, stack.stream!.streamFunction)
    ] as Resource;
    assert.equal(
      fn.Properties.Environment.Variables.EVENTS_ARRIVAL_CLOSE_SECONDS,
      String(streamFn.Properties.Timeout + 60),
    );
    // The stream function fails a batch whose notice it wrote later than that allows (off AWS, no timeout does).
    assert.equal(
      streamFn.Properties.Environment.Variables.EVENTS_ARRIVAL_CLOSE_SECONDS,
      fn.Properties.Environment.Variables.EVENTS_ARRIVAL_CLOSE_SECONDS,
    );
    // No reservation unless configured (lib/config.ts reservedConcurrency): overlapping runs are safe.
    assert.equal(fn.Properties.ReservedConcurrentExecutions, undefined);
    assert.ok(fn.Properties.Timeout <= config.stream.eventsLoadIntervalMinutes * 60);
    for (const name of [
      'LAKE_BUCKET',
      'REDSHIFT_WORKGROUP',
      'REDSHIFT_DATABASE',
      'REDSHIFT_WRITER_ROLE_ARN',
      'CARTFLOW_ENV',
    ]) {
      assert.ok(name in fn.Properties.Environment.Variables, name);
    }
  });

  test('stream alarms (lag, errors, on-failure objects) notify the alert topic', () => {
    // Prepare
    const { stack, template, config } = synth('prod');
    const topicRef = { Ref: logicalIdOf(stack, stack.alerts.topic) };
    const streamFn = { Ref: logicalIdOf(stack, stack.stream!.streamFunction) };
    const loadFn = { Ref: logicalIdOf(stack, stack.stream!.loadEventsFunction) };
    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'OffsetLag',
      Dimensions: [{ Name: 'FunctionName', Value: streamFn }],
      Threshold: config.stream.offsetLagThreshold,
      AlarmActions: [topicRef],
    });
    for (const fn of [streamFn, loadFn]) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: fn }],
        AlarmActions: [topicRef],
      });
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Events',
      MetricName: 'TriggeredRules',
      Dimensions: [{ Name: 'RuleName', Value: { Ref: logicalIdOf(stack, stack.stream!.onFailureRule) } }],
      AlarmActions: [topicRef],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: Match.objectLike({ object: { key: [{ prefix: 'aws/lambda/' }] } }),
      },
      Targets: [Match.objectLike({ Arn: topicRef })],
    });
  });

  test('rejects a cluster name MSK would refuse', () => {
    // Prepare
    const { stack, key, bucket, vpc } = scaffold();
    const warehouse = new Warehouse(stack, 'Warehouse', { name: 'cartflow-test', bucket, key, vpc });
    // Act + Assess
    assert.throws(
      () =>
        new StreamIngest(stack, 'Stream', {
          config: loadConfig('dev'),
          vpc,
          bucket,
          warehouse,
          alertTopic: new sns.Topic(stack, 'Alerts'),
          engine: new DuckDbLayer(stack, 'DuckDb'),
          clusterName: '1-bad_name',
        }),
      /clusterName "1-bad_name" must be 1-64 letters/,
    );
  });
});
