import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { SourceNetworkConfig } from '../../../lib/config';
import { SourceNetwork } from '../../../lib/constructs/network';
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
