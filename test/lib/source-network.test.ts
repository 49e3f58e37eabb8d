import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { CartflowStack } from '../../lib/cartflow-stack';
import { loadConfig, validateConfig, type SourceNetworkConfig } from '../../lib/config';
import { synth, testApp, unacknowledgedNagFindings } from './synth';

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

/** The prod stack with the source database's network configured. */
function synthWithNetwork(network: SourceNetworkConfig) {
  const app = testApp();
  const config = { ...loadConfig('prod'), sourceNetwork: network };
  const stack = new CartflowStack(app, 'Cartflow-prod', { config });
  return { app, stack, template: Template.fromStack(stack) };
}

const extractOrders = (template: Template): Json =>
  Object.values(template.findResources('AWS::Lambda::Function')).find(
    (f) => (f as Json).Properties.Description === 'cartflow prod: extract-orders',
  );

describe('the source database network (ExtractOrders)', () => {
  test('a configured network: the extract runs in its subnets and security group, endpoints created, nag clean', () => {
    // Act
    const { app, template } = synthWithNetwork(NETWORK);
    const fn = extractOrders(template);

    // Assess
    assert.deepEqual(fn.Properties.VpcConfig, {
      SubnetIds: NETWORK.privateSubnetIds,
      SecurityGroupIds: [NETWORK.securityGroupId],
    });
    assert.equal(fn.Properties.Environment.Variables.NODE_EXTRA_CA_CERTS, '/var/runtime/ca-cert.pem');
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcId: NETWORK.vpcId,
      VpcEndpointType: 'Interface',
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.secretsmanager']] },
      SubnetIds: NETWORK.privateSubnetIds,
      PrivateDnsEnabled: true,
    });
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcId: NETWORK.vpcId,
      VpcEndpointType: 'Gateway',
      RouteTableIds: NETWORK.routeTableIds,
    });
    // The endpoint admits HTTPS from the extract's group only; the shop's group itself is never edited.
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
      SourceSecurityGroupId: NETWORK.securityGroupId,
    });
    assert.equal(Object.keys(template.findResources('AWS::EC2::SecurityGroupEgress')).length, 0);
    assert.deepEqual(unacknowledgedNagFindings(app), []);
  });

  test("with a NAT nothing is created in the shop's VPC", () => {
    // Act
    const { template } = synthWithNetwork({ ...NETWORK, egress: 'nat', routeTableIds: undefined });

    // Assess
    assert.deepEqual(extractOrders(template).Properties.VpcConfig.SecurityGroupIds, [
      NETWORK.securityGroupId,
    ]);
    const endpoints = Object.values(template.findResources('AWS::EC2::VPCEndpoint')) as Json[];
    assert.ok(endpoints.every((e) => e.Properties.VpcId !== NETWORK.vpcId));
  });

  test("sourceNetwork 'public' (prod says so): outside any VPC, still with the Amazon CA bundle", () => {
    // Act
    const fn = extractOrders(synth('prod').template);

    // Assess
    assert.equal(fn.Properties.VpcConfig, undefined);
    assert.equal(fn.Properties.Environment.Variables.NODE_EXTRA_CA_CERTS, '/var/runtime/ca-cert.pem');
  });

  test('an invalid network is refused with the field named', () => {
    const withNetwork = (change: Partial<SourceNetworkConfig>) => () =>
      validateConfig({ ...loadConfig('prod'), sourceNetwork: { ...NETWORK, ...change } });
    assert.throws(withNetwork({ vpcId: 'vpc-xyz' }), /"sourceNetwork\.vpcId"/);
    assert.throws(withNetwork({ privateSubnetIds: [] }), /"sourceNetwork\.privateSubnetIds"/);
    assert.throws(withNetwork({ availabilityZones: ['eu-west-1a'] }), /"sourceNetwork\.availabilityZones"/);
    assert.throws(withNetwork({ securityGroupId: 'default' }), /"sourceNetwork\.securityGroupId"/);
    assert.throws(withNetwork({ egress: 'vpn' as never }), /"sourceNetwork\.egress"/);
    // The S3 gateway endpoint is a route in each subnet's route table.
    assert.throws(withNetwork({ routeTableIds: undefined }), /"sourceNetwork\.routeTableIds"/);
    assert.doesNotThrow(withNetwork({ egress: 'nat', routeTableIds: undefined }));
  });

  test('createEndpoints: only with egress endpoints, booleans only; without the S3 gateway no route tables', () => {
    const withNetwork = (change: Partial<SourceNetworkConfig>) => () =>
      validateConfig({ ...loadConfig('prod'), sourceNetwork: { ...NETWORK, ...change } });
    const endpoints = /"sourceNetwork\.createEndpoints"/;
    assert.throws(withNetwork({ egress: 'nat', createEndpoints: { s3Gateway: false } }), endpoints);
    assert.throws(withNetwork({ createEndpoints: { s3Gateway: 'no' as never } }), endpoints);
    assert.throws(withNetwork({ createEndpoints: { s3: false } as never }), endpoints);
    assert.throws(
      withNetwork({ routeTableIds: undefined, createEndpoints: { secretsManager: false } }),
      /"sourceNetwork\.routeTableIds"/,
    );
    assert.doesNotThrow(withNetwork({ routeTableIds: undefined, createEndpoints: { s3Gateway: false } }));
  });
});
