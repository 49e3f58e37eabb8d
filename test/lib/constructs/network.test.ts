import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { loadConfig, validateConfig, type SourceNetworkConfig } from '../../../lib/config';
import { Network, SourceNetwork } from '../../../lib/constructs/network';
import { testApp } from '../synth';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- synthesized JSON, asserted field by field
type Json = any;

const NETWORK: SourceNetworkConfig = {
  vpcId: 'vpc-0123456789abcdef0',
  privateSubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'],
  availabilityZones: ['eu-west-1a', 'eu-west-1b'],
  routeTableIds: ['rtb-0aaaaaaaaaaaaaaa1', 'rtb-0bbbbbbbbbbbbbbb2'],
  securityGroupId: 'sg-0123456789abcdef0',
  egress: 'endpoints',
};

/** The endpoint types (and endpoint security groups) SourceNetwork creates for `config`. */
function created(config: SourceNetworkConfig): { endpoints: string[]; securityGroups: number } {
  const stack = new Stack(testApp(), 'Test');
  new SourceNetwork(stack, 'Source', config);
  const template = Template.fromStack(stack);
  const endpoints = Object.values(template.findResources('AWS::EC2::VPCEndpoint')) as Json[];
  return {
    endpoints: endpoints.map(
      (e) => `${e.Properties.VpcEndpointType} ${JSON.stringify(e.Properties.ServiceName)}`,
    ),
    securityGroups: Object.keys(template.findResources('AWS::EC2::SecurityGroup')).length,
  };
}

const SECRETS_MANAGER = /^Interface .*secretsmanager/;
const S3 = /^Gateway .*s3/;

describe('SourceNetwork endpoints', () => {
  test('egress endpoints: both created by default', () => {
    // Act
    const { endpoints, securityGroups } = created(NETWORK);
    // Assess
    assert.equal(endpoints.length, 2);
    assert.ok(endpoints.some((e) => SECRETS_MANAGER.test(e)) && endpoints.some((e) => S3.test(e)));
    assert.equal(securityGroups, 1);
  });

  test('a VPC with its own S3 gateway: only the Secrets Manager endpoint, no route tables needed', () => {
    // Act
    const { endpoints } = created({
      ...NETWORK,
      routeTableIds: undefined,
      createEndpoints: { s3Gateway: false },
    });
    // Assess
    assert.equal(endpoints.length, 1);
    assert.match(endpoints[0], SECRETS_MANAGER);
  });

  test('a VPC with its own Secrets Manager endpoint: only the S3 gateway, no endpoint security group', () => {
    // Act
    const { endpoints, securityGroups } = created({ ...NETWORK, createEndpoints: { secretsManager: false } });
    // Assess
    assert.equal(endpoints.length, 1);
    assert.match(endpoints[0], S3);
    assert.equal(securityGroups, 0);
  });

  test('a VPC with both: nothing created', () => {
    // Act
    const { endpoints, securityGroups } = created({
      ...NETWORK,
      createEndpoints: { s3Gateway: false, secretsManager: false },
    });
    // Assess
    assert.deepEqual(endpoints, []);
    assert.equal(securityGroups, 0);
  });
});

const AZS = ['us-east-1a', 'us-east-1b', 'us-east-1d'];

/** The environment VPC's subnet AZs, and the warnings of its stack. */
function vpcAzs(availabilityZones?: string[], region?: string) {
  const stack = new Stack(testApp(), 'Test', { env: region ? { region } : undefined });
  new Network(stack, 'Network', { availabilityZones });
  const subnets = Object.values(Template.fromStack(stack).findResources('AWS::EC2::Subnet')) as Json[];
  return { azs: subnets.map((s) => s.Properties.AvailabilityZone), stack };
}

describe('Network availability zones', () => {
  test('the configured AZs, exactly: no Fn::GetAZs, no warning', () => {
    // Act
    const { azs, stack } = vpcAzs(AZS);
    // Assess
    assert.deepEqual(azs, AZS);
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('availabilityZones'));
  });

  test("none configured: the region's first three, and synth warns that nothing checked them", () => {
    // Act
    const { azs, stack } = vpcAzs();
    // Assess
    assert.deepEqual(
      azs,
      [0, 1, 2].map((i) => ({ 'Fn::Select': [i, { 'Fn::GetAZs': '' }] })),
    );
    Annotations.fromStack(stack).hasWarning(
      '/Test/Network',
      Match.stringLikeRegexp('No availabilityZones in lib/config.ts.*Redshift Serverless and MSK Serverless'),
    );
  });

  test("AZs of another region than the stack's are refused", () => {
    // Act + Assess
    assert.throws(
      () => vpcAzs(AZS, 'eu-west-1'),
      /availabilityZones .* must be 3 AZs of the stack's region \(eu-west-1\)/,
    );
    assert.doesNotThrow(() => vpcAzs(AZS, 'us-east-1'));
  });

  test('config: three different AZ names of one region, the field named otherwise', () => {
    const withAzs = (availabilityZones: unknown) => () =>
      validateConfig({ ...loadConfig('prod'), availabilityZones: availabilityZones as string[] });
    for (const bad of [
      ['us-east-1a', 'us-east-1b'],
      ['us-east-1a', 'us-east-1b', 'us-east-1b'],
      ['us-east-1a', 'us-east-1b', 'eu-west-1c'],
      ['us-east-1a', 'us-east-1b', 'use1-az3'],
      'us-east-1a',
    ]) {
      assert.throws(withAzs(bad), /"availabilityZones"/, JSON.stringify(bad));
    }
    assert.doesNotThrow(withAzs(AZS));
  });
});
