import { Annotations, Fn, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import {
  removalPolicyOf,
  sourceEndpointsOf,
  VPC_AZ_COUNT,
  type RemovalChoice,
  type SourceNetworkConfig,
} from '../config';

export interface NetworkProps {
  /**
   * CIDR of the VPC.
   * @default '10.40.0.0/16'
   */
  readonly cidr?: string;
  /**
   * Retention of the VPC flow logs.
   * @default RetentionDays.ONE_MONTH
   */
  readonly flowLogRetention?: logs.RetentionDays;
  /**
   * `destroy` deletes the flow log group with the stack.
   * @default 'retain'
   */
  readonly removalPolicy?: RemovalChoice;
  /**
   * Adds an X-Ray interface endpoint, so VPC-attached functions can send traces (the subnets have no NAT).
   * @default false: the VPC functions are not traced
   */
  readonly xrayEndpoint?: boolean;
  /**
   * The VPC's three AZs (config availabilityZones): each must support Redshift Serverless and MSK Serverless.
   * @default the region's first three (Fn::GetAZs), unchecked: synth warns
   */
  readonly availabilityZones?: string[];
}

/**
 * The one VPC of an environment, shared by the warehouse and the stream ingest: private subnets in
 * three AZs, no NAT and no internet route. S3 is reached through a gateway endpoint (COPY with enhanced
 * VPC routing, the stream function, the event-source mapping's on-failure objects).
 */
export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  /** The private subnets everything in the VPC uses. */
  readonly privateSubnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
  /** The X-Ray interface endpoint, when `xrayEndpoint` is set. */
  readonly xrayEndpoint?: ec2.InterfaceVpcEndpoint;
  /** Whether functions in `privateSubnets` reach the X-Ray API (lambda-function.ts traces them only then). */
  readonly xrayReachable: boolean;

  constructor(scope: Construct, id: string, props: NetworkProps = {}) {
    super(scope, id);
    const cidr = props.cidr ?? '10.40.0.0/16';
    if (!/^\d{1,3}(\.\d{1,3}){3}\/(1[6-9]|2[0-4])$/.test(cidr)) {
      throw new Error(`Network: cidr "${cidr}" must be an IPv4 CIDR from /16 to /24, e.g. '10.40.0.0/16'.`);
    }
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(cidr),
      availabilityZones: this.availabilityZones(props.availabilityZones),
      natGateways: 0,
      subnetConfiguration: [{ name: 'private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });
    if (props.xrayEndpoint) {
      // The Lambda X-Ray daemon sends segments over HTTPS to xray.<region>.amazonaws.com.
      const securityGroup = new ec2.SecurityGroup(this, 'XRayEndpointSecurityGroup', {
        vpc: this.vpc,
        description: 'X-Ray API endpoint, HTTPS from inside the VPC',
        allowAllOutbound: false,
      });
      securityGroup.addIngressRule(
        ec2.Peer.ipv4(cidr),
        ec2.Port.tcp(443),
        'X-Ray segments from VPC functions',
      );
      this.xrayEndpoint = this.vpc.addInterfaceEndpoint('XRayEndpoint', {
        service: ec2.InterfaceVpcEndpointAwsService.XRAY,
        subnets: this.privateSubnets,
        securityGroups: [securityGroup],
        open: false,
        privateDnsEnabled: true,
      });
    }
    this.xrayReachable = this.xrayEndpoint !== undefined;
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, 'FlowLogs', {
          retention: props.flowLogRetention ?? logs.RetentionDays.ONE_MONTH,
          removalPolicy: removalPolicyOf(props.removalPolicy),
        }),
      ),
    });
  }

  /**
   * Redshift Serverless needs subnets in three AZs, and not every AZ has it (nor MSK Serverless). The stack is
   * environment-agnostic: the AZs come from config, or else are the region's first three, resolved at deploy
   * time (Fn::GetAZs), which nothing checks.
   */
  private availabilityZones(configured: string[] | undefined): string[] {
    const region = Stack.of(this).region;
    if (configured === undefined) {
      Annotations.of(this).addWarningV2(
        'cartflow:availabilityZones',
        "No availabilityZones in lib/config.ts: the VPC takes the region's first three AZs, unchecked against Redshift Serverless and MSK Serverless support.",
      );
      return Array.from({ length: VPC_AZ_COUNT }, (_, i) => Fn.select(i, Fn.getAzs()));
    }
    const regionKnown = !Token.isUnresolved(region);
    if (
      configured.length !== VPC_AZ_COUNT ||
      (regionKnown && configured.some((az) => az.slice(0, -1) !== region))
    ) {
      throw new Error(
        `Network: availabilityZones ${JSON.stringify(configured)} must be ${VPC_AZ_COUNT} AZs of the stack's region${regionKnown ? ` (${region})` : ''}.`,
      );
    }
    return configured;
  }
}

/**
 * The shop database's network, imported from config by id (Vpc.fromVpcAttributes: no lookup, synth stays
 * offline). A function placed here runs in the database's private subnets with the security group the
 * database admits. With `egress: 'endpoints'` it reaches Secrets Manager through an interface endpoint and
 * S3 through a gateway endpoint, each created here unless the VPC has it (createEndpoints); with `nat`
 * through the VPC's own NAT.
 */
export class SourceNetwork extends Construct {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  /** The group the database admits; imported immutable, so the stack never edits the shop's rules. */
  readonly securityGroup: ec2.ISecurityGroup;
  /** A NAT route reaches the X-Ray API too; the endpoints mode has no X-Ray endpoint, so no tracing there. */
  readonly xrayReachable: boolean;

  constructor(scope: Construct, id: string, config: SourceNetworkConfig) {
    super(scope, id);
    this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: config.vpcId,
      availabilityZones: config.availabilityZones,
      privateSubnetIds: config.privateSubnetIds,
      privateSubnetRouteTableIds: config.routeTableIds,
    });
    this.subnets = { subnets: this.vpc.privateSubnets };
    this.securityGroup = ec2.SecurityGroup.fromSecurityGroupId(
      this,
      'DatabaseClients',
      config.securityGroupId,
      {
        mutable: false,
      },
    );
    this.xrayReachable = config.egress === 'nat';
    // Each endpoint only where the VPC does not have it already (config createEndpoints).
    const create = sourceEndpointsOf(config);
    if (create.secretsManager) {
      const endpointGroup = new ec2.SecurityGroup(this, 'SecretsManagerEndpointSecurityGroup', {
        vpc: this.vpc,
        description: 'cartflow: Secrets Manager endpoint, HTTPS from the extract function only',
        allowAllOutbound: false,
      });
      endpointGroup.addIngressRule(this.securityGroup, ec2.Port.tcp(443), 'HTTPS from the extract function');
      new ec2.InterfaceVpcEndpoint(this, 'SecretsManagerEndpoint', {
        vpc: this.vpc,
        service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
        subnets: this.subnets,
        securityGroups: [endpointGroup],
        open: false,
        privateDnsEnabled: true,
      });
    }
    if (create.s3Gateway) {
      // The extract writes raw/ Parquet to the lake; a gateway endpoint is a route, free of charge.
      new ec2.GatewayVpcEndpoint(this, 'S3Endpoint', {
        vpc: this.vpc,
        service: ec2.GatewayVpcEndpointAwsService.S3,
        subnets: [this.subnets],
      });
    }
  }
}
