import { Fn } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { removalPolicyOf, type RemovalChoice } from '../config';

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

  constructor(scope: Construct, id: string, props: NetworkProps = {}) {
    super(scope, id);
    const cidr = props.cidr ?? '10.40.0.0/16';
    if (!/^\d{1,3}(\.\d{1,3}){3}\/(1[6-9]|2[0-4])$/.test(cidr)) {
      throw new Error(`Network: cidr "${cidr}" must be an IPv4 CIDR from /16 to /24, e.g. '10.40.0.0/16'.`);
    }
    // Redshift Serverless needs subnets in three AZs. The stack is environment-agnostic, so the AZs
    // are resolved at deploy time (Fn::GetAZs) and synth needs no account lookup.
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(cidr),
      availabilityZones: [0, 1, 2].map((i) => Fn.select(i, Fn.getAzs())),
      natGateways: 0,
      subnetConfiguration: [{ name: 'private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, 'FlowLogs', {
          retention: props.flowLogRetention ?? logs.RetentionDays.ONE_MONTH,
          removalPolicy: removalPolicyOf(props.removalPolicy),
        }),
      ),
    });
  }
}
