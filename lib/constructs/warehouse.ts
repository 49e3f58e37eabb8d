import { Fn, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as redshiftserverless from 'aws-cdk-lib/aws-redshiftserverless';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { acknowledgeNag, s3GrantFindings } from '../nag';
import { Construct } from 'constructs';

export interface WarehouseProps {
  /** Namespace and workgroup name: 3-64 characters, lower-case letters, digits and '-'. */
  readonly name: string;
  /** The data lake; COPY reads the curated prefix from it. */
  readonly bucket: s3.IBucket;
  /** Encrypts the namespace and the admin secret Redshift manages. */
  readonly key: kms.IKey;
  /**
   * Database created in the namespace.
   * @default 'cartflow'
   */
  readonly databaseName?: string;
  /**
   * Base capacity in RPUs: 8 to 512 in steps of 8.
   * @default 8
   */
  readonly baseCapacityRpu?: number;
  /**
   * Prefix COPY may read; must end with '/'.
   * @default 'curated/'
   */
  readonly curatedPrefix?: string;
  /**
   * CIDR of the VPC the workgroup lives in.
   * @default '10.40.0.0/16'
   */
  readonly vpcCidr?: string;
  /**
   * Retention of the VPC flow logs.
   * @default RetentionDays.ONE_MONTH
   */
  readonly flowLogRetention?: logs.RetentionDays;
  /**
   * `destroy` deletes the namespace (and its data) with the stack.
   * @default 'retain'
   */
  readonly removalPolicy?: 'retain' | 'destroy';
}

/** Redshift Serverless in private isolated subnets, reached only through the Data API. */
export class Warehouse extends Construct {
  readonly workgroupName: string;
  readonly workgroupArn: string;
  readonly databaseName: string;
  /** The role the namespace assumes for COPY … IAM_ROLE default. */
  readonly copyRole: iam.Role;
  readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string, props: WarehouseProps) {
    super(scope, id);
    const databaseName = props.databaseName ?? 'cartflow';
    const baseCapacity = props.baseCapacityRpu ?? 8;
    const curatedPrefix = props.curatedPrefix ?? 'curated/';
    if (!/^[a-z0-9-]{3,64}$/.test(props.name)) {
      throw new Error(`Warehouse: name "${props.name}" must be 3-64 lower-case letters, digits or '-'.`);
    }
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(databaseName)) {
      throw new Error(
        `Warehouse: databaseName "${databaseName}" must be lower-case letters, digits and _, starting with a letter or _.`,
      );
    }
    if (!Number.isInteger(baseCapacity) || baseCapacity < 8 || baseCapacity > 512 || baseCapacity % 8 !== 0) {
      throw new Error(`Warehouse: baseCapacityRpu ${baseCapacity} must be 8 to 512 in steps of 8.`);
    }
    if (!curatedPrefix.endsWith('/') || curatedPrefix.startsWith('/')) {
      throw new Error(
        `Warehouse: curatedPrefix "${curatedPrefix}" must be relative and end with '/', e.g. 'curated/'.`,
      );
    }
    const removalPolicy = props.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    // Redshift Serverless needs subnets in three AZs. The stack is environment-agnostic, so the AZs
    // are resolved at deploy time (Fn::GetAZs) and synth needs no account lookup.
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.vpcCidr ?? '10.40.0.0/16'),
      availabilityZones: [0, 1, 2].map((i) => Fn.select(i, Fn.getAzs())),
      natGateways: 0,
      subnetConfiguration: [{ name: 'warehouse', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      // With enhanced VPC routing, COPY reaches S3 through this endpoint.
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, 'FlowLogs', {
          retention: props.flowLogRetention ?? logs.RetentionDays.ONE_MONTH,
          removalPolicy,
        }),
      ),
    });

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: this.vpc,
      description: 'cartflow Redshift Serverless workgroup; no ingress, reached through the Data API',
      // Isolated subnets: the only route out is the S3 gateway endpoint.
      allowAllOutbound: true,
    });

    this.copyRole = new iam.Role(this, 'CopyRole', {
      assumedBy: new iam.CompositePrincipal(
        new iam.ServicePrincipal('redshift.amazonaws.com'),
        new iam.ServicePrincipal('redshift-serverless.amazonaws.com'),
      ),
      description: 'Assumed by the cartflow Redshift namespace for COPY from the curated zone',
    });
    // Also grants kms:Decrypt on the lake key.
    props.bucket.grantRead(this.copyRole, `${curatedPrefix}*`);
    acknowledgeNag(
      this.copyRole,
      `COPY reads every Parquet part under ${curatedPrefix} (one prefix per table and date); the wildcards are the CDK read grant scoped to that prefix.`,
      ...s3GrantFindings(props.bucket, `${curatedPrefix}*`, 'read'),
    );

    const namespace = new redshiftserverless.CfnNamespace(this, 'Namespace', {
      namespaceName: props.name,
      dbName: databaseName,
      adminUsername: 'cartflow_admin',
      // Redshift generates, stores (Secrets Manager, our key) and rotates the admin password:
      // no password ever passes through the template or CloudFormation.
      manageAdminPassword: true,
      adminPasswordSecretKmsKeyId: props.key.keyArn,
      kmsKeyId: props.key.keyArn,
      iamRoles: [this.copyRole.roleArn],
      defaultIamRoleArn: this.copyRole.roleArn,
      logExports: ['userlog', 'connectionlog', 'useractivitylog'],
    });
    namespace.applyRemovalPolicy(removalPolicy);

    const workgroup = new redshiftserverless.CfnWorkgroup(this, 'Workgroup', {
      workgroupName: props.name,
      namespaceName: namespace.attrNamespaceNamespaceName,
      baseCapacity,
      enhancedVpcRouting: true,
      publiclyAccessible: false,
      subnetIds: this.vpc.isolatedSubnets.map((s) => s.subnetId),
      securityGroupIds: [securityGroup.securityGroupId],
      configParameters: [
        { parameterKey: 'require_ssl', parameterValue: 'true' },
        { parameterKey: 'enable_user_activity_logging', parameterValue: 'true' },
      ],
    });
    workgroup.applyRemovalPolicy(removalPolicy);

    this.workgroupName = props.name;
    this.workgroupArn = workgroup.attrWorkgroupWorkgroupArn;
    this.databaseName = databaseName;
  }

  /**
   * Lets `grantee` run SQL through the Redshift Data API with temporary IAM credentials
   * (database user `IAMR:<role name>`), on this workgroup only.
   */
  grantDataApi(grantee: iam.IGrantable): void {
    const principal = grantee.grantPrincipal;
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'RedshiftDataApiOnWorkgroup',
        actions: ['redshift-data:ExecuteStatement', 'redshift-data:BatchExecuteStatement'],
        resources: [this.workgroupArn],
      }),
    );
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'RedshiftServerlessCredentials',
        actions: ['redshift-serverless:GetCredentials'],
        resources: [this.workgroupArn],
      }),
    );
    // Statement ids have no ARN; the condition limits these calls to the caller's own statements.
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'RedshiftDataApiOwnStatements',
        actions: [
          'redshift-data:DescribeStatement',
          'redshift-data:GetStatementResult',
          'redshift-data:CancelStatement',
        ],
        resources: ['*'],
        conditions: { StringEquals: { 'redshift-data:statement-owner-iam-userid': '${aws:userid}' } },
      }),
    );
    if (Construct.isConstruct(grantee)) {
      acknowledgeNag(
        grantee,
        'Data API statement ids have no ARN, so Describe/GetStatementResult/Cancel need Resource "*"; the statement-owner-iam-userid condition limits them to statements this role started.',
        'AwsSolutions-IAM5[Resource::*]',
      );
    }
  }
}
