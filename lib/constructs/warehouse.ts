import { Lazy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as cr from 'aws-cdk-lib/custom-resources';
import * as redshiftserverless from 'aws-cdk-lib/aws-redshiftserverless';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import {
  acknowledgeDeployTimeFunction,
  acknowledgeNag,
  acknowledgeStackSingletons,
  DEPLOY_HELPER_MEMORY_MB,
  LAMBDA_BASIC_EXECUTION_FINDING,
  s3GrantFindings,
  stackSingletons,
} from '../nag';
import { Construct, type IDependable } from 'constructs';
import { HANDLER_ENV, LAKE } from '../../lambdas/contract';
import {
  BASE_CAPACITY_RPU_ALLOWED,
  isBaseCapacityRpu,
  removalPolicyOf,
  type RemovalChoice,
  type SnapshotConfig,
  type SnapshotCopyConfig,
} from '../config';

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
   * Base capacity in RPUs: 4, or 8 to 512 in steps of 8.
   * @default 8
   */
  readonly baseCapacityRpu?: number;
  /**
   * Prefix COPY may read; must end with '/'.
   * @default LAKE.curated (lambdas/contract.ts)
   */
  readonly curatedPrefix?: string;
  /** The VPC (lib/constructs/network.ts) whose private subnets the workgroup uses. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets of `vpc` for the workgroup: three AZs at least.
   * @default the VPC's private isolated subnets
   */
  readonly subnets?: ec2.SubnetSelection;
  /**
   * `destroy` deletes the namespace (and its data) with the stack.
   * @default 'retain'
   */
  readonly removalPolicy?: RemovalChoice;
  /**
   * Each snapshot of the namespace (scheduleSnapshots) also copied to another region.
   * @default none
   */
  readonly snapshotCopy?: SnapshotCopyConfig;
}

/**
 * Redshift Serverless in private subnets, reached only through the Data API. The pipeline's functions act as
 * one non-admin database user: the IAM identity of a shared writer role (`IAMR:<role name>`); only the
 * DDL/grant step reads the admin secret.
 */
export class Warehouse extends Construct {
  readonly workgroupName: string;
  readonly workgroupArn: string;
  readonly databaseName: string;
  /** The role the namespace assumes for COPY … IAM_ROLE default. */
  readonly copyRole: iam.Role;
  /**
   * ARN of the admin secret Redshift manages for the namespace (username + password): the SecretArn of the
   * DDL/grant step only (grantAdmin).
   */
  readonly adminSecretArn: string;
  /**
   * The role every other warehouse function assumes for the Data API (grantDataApi). With no SecretArn the
   * Data API logs in to Redshift Serverless as the caller's IAM identity, so all of them are one database
   * user, `writerUser`, which owns the stage tables it creates and holds only the grants of
   * writerGrantStatements (lambdas/core/sql.ts).
   */
  readonly writerRole: iam.Role;
  /** The database user of `writerRole`: `IAMR:<role name>`. */
  readonly writerUser: string;
  private readonly key: kms.IKey;
  /** The functions granted the writer (grantDataApi): its trust names their roles, and they wait for the schema. */
  private readonly writers: lambda.Function[] = [];
  /** The deploy-time EnsureWarehouse (writersAfter). */
  private schemaReady?: IDependable;
  private readonly namespace: redshiftserverless.CfnNamespace;

  constructor(scope: Construct, id: string, props: WarehouseProps) {
    super(scope, id);
    const databaseName = props.databaseName ?? 'cartflow';
    const baseCapacity = props.baseCapacityRpu ?? 8;
    const curatedPrefix = props.curatedPrefix ?? LAKE.curated;
    // 57: the writer role is named `<name>-writer` and IAM role names stop at 64 characters.
    if (!/^[a-z0-9-]{3,57}$/.test(props.name)) {
      throw new Error(`Warehouse: name "${props.name}" must be 3-57 lower-case letters, digits or '-'.`);
    }
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(databaseName)) {
      throw new Error(
        `Warehouse: databaseName "${databaseName}" must be lower-case letters, digits and _, starting with a letter or _.`,
      );
    }
    if (!isBaseCapacityRpu(baseCapacity)) {
      throw new Error(`Warehouse: baseCapacityRpu ${baseCapacity} must be ${BASE_CAPACITY_RPU_ALLOWED}.`);
    }
    if (!curatedPrefix.endsWith('/') || curatedPrefix.startsWith('/')) {
      throw new Error(
        `Warehouse: curatedPrefix "${curatedPrefix}" must be relative and end with '/', e.g. '${LAKE.curated}'.`,
      );
    }
    const removalPolicy = removalPolicyOf(props.removalPolicy);

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
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
    this.allowCopyFrom(props.bucket, curatedPrefix);

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
      snapshotCopyConfigurations: props.snapshotCopy && [
        {
          destinationRegion: props.snapshotCopy.region,
          destinationKmsKeyId: props.snapshotCopy.kmsKeyArn,
          snapshotRetentionPeriod: props.snapshotCopy.retentionDays,
        },
      ],
    });
    namespace.applyRemovalPolicy(removalPolicy);
    this.namespace = namespace;

    const workgroup = new redshiftserverless.CfnWorkgroup(this, 'Workgroup', {
      workgroupName: props.name,
      namespaceName: namespace.attrNamespaceNamespaceName,
      baseCapacity,
      enhancedVpcRouting: true,
      publiclyAccessible: false,
      subnetIds: props.vpc.selectSubnets(props.subnets ?? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED })
        .subnetIds,
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
    this.key = props.key;

    // Named, lower-case: the database user name derives from it and the DDL step grants to it before synth
    // could know a generated name. Only the roles of the functions granted it (grantDataApi) may assume it:
    // they are created after this role, so the trust names them by aws:PrincipalArn, resolved at synth.
    const writerRoleName = `${props.name}-writer`;
    this.writerRole = new iam.Role(this, 'WriterRole', {
      roleName: writerRoleName,
      assumedBy: new iam.PrincipalWithConditions(new iam.AccountRootPrincipal(), {
        ArnEquals: {
          'aws:PrincipalArn': Lazy.list({ produce: () => this.writers.map((fn) => fn.role!.roleArn) }),
        },
      }),
      description: `cartflow ${props.name}: the warehouse functions' Data API identity (database user IAMR:${writerRoleName})`,
    });
    this.node.addValidation({
      validate: () =>
        this.writers.length > 0 ? [] : ['Warehouse: no function was granted the writer role (grantDataApi).'],
    });
    this.writerUser = `IAMR:${writerRoleName}`;
    this.allowDataApi(this.writerRole);
    this.writerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'RedshiftServerlessIamLogin',
        actions: ['redshift-serverless:GetCredentials'],
        resources: [this.workgroupArn],
      }),
    );

    // CloudFormation does not return the managed admin secret's ARN (CfnNamespace has no
    // attrNamespaceAdminPasswordSecretArn: aws/aws-cdk#29930, waiting on CloudFormation), and its name ends
    // in a random suffix. GetNamespace returns it; the call runs when the resource is created or its
    // parameters change (a new namespace), not on every deploy: a rotation keeps the secret's ARN.
    const getNamespace: cr.AwsSdkCall = {
      service: 'redshift-serverless',
      action: 'GetNamespace',
      parameters: { namespaceName: namespace.attrNamespaceNamespaceName },
      physicalResourceId: cr.PhysicalResourceId.of(`${props.name}-admin-secret`),
      outputPaths: ['namespace.adminPasswordSecretArn'],
    };
    const adminSecret = new cr.AwsCustomResource(this, 'AdminSecretArn', {
      onCreate: getNamespace,
      onUpdate: getNamespace,
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [namespace.attrNamespaceNamespaceArn] }),
      installLatestAwsSdk: false,
      memorySize: DEPLOY_HELPER_MEMORY_MB,
    });
    this.adminSecretArn = adminSecret.getResponseField('namespace.adminPasswordSecretArn');
    // AwsCustomResource runs in a stack-wide singleton function (id AWS679f53fac002430cb0da5b7982bd2287).
    acknowledgeStackSingletons(
      this,
      'AWS679f53fac',
      'CDK AwsCustomResource singleton: AWSLambdaBasicExecutionRole only writes its logs; its policy allows redshift-serverless:GetNamespace on this namespace only (the stack has no other AwsCustomResource: the schema step runs through a Provider).',
      LAMBDA_BASIC_EXECUTION_FINDING,
    );
    for (const singleton of stackSingletons(this, 'AWS679f53fac')) {
      acknowledgeDeployTimeFunction(singleton, 'The CDK AwsCustomResource singleton');
    }
  }

  /**
   * A manual snapshot of the namespace on `snapshots.scheduleCron`, kept `retentionDays` (without it, only
   * Redshift's own recovery points: every 30 minutes, kept 24 hours). EventBridge Scheduler calls
   * CreateSnapshot itself (a universal target, no function): each snapshot is named after the schedule's
   * execution id, so every run makes a new one. Its role may create snapshots of this namespace only; a call
   * that still fails after its retries goes to `deadLetterQueue`.
   */
  scheduleSnapshots(snapshots: SnapshotConfig, deadLetterQueue?: sqs.IQueue): scheduler.Schedule {
    const { namespace } = this;
    const name = this.workgroupName;
    const stack = Stack.of(this);
    // A role of its own rather than the stack's shared Scheduler role: it holds this one permission.
    const role = new iam.Role(this, 'SnapshotRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: `cartflow ${name}: EventBridge Scheduler creates the warehouse's scheduled snapshots`,
    });
    const snapshotArns = stack.formatArn({
      service: 'redshift-serverless',
      resource: 'snapshot',
      resourceName: '*',
    });
    const target = new schedulerTargets.Universal({
      service: 'redshiftserverless',
      action: 'createSnapshot',
      role,
      // The IAM prefix is redshift-serverless, not the SDK's service name the default policy would use.
      policyStatements: [
        new iam.PolicyStatement({
          actions: ['redshift-serverless:CreateSnapshot'],
          resources: [namespace.attrNamespaceNamespaceArn, snapshotArns],
        }),
      ],
      input: scheduler.ScheduleTargetInput.fromObject({
        NamespaceName: namespace.attrNamespaceNamespaceName,
        SnapshotName: `${name}-${scheduler.ContextAttribute.executionId}`,
        RetentionPeriod: snapshots.retentionDays,
      }),
      retryAttempts: 3,
      deadLetterQueue,
    });
    const schedule = new scheduler.Schedule(this, 'SnapshotSchedule', {
      schedule: scheduler.ScheduleExpression.expression(snapshots.scheduleCron),
      target,
      description: `cartflow ${name}: manual snapshot of the warehouse, kept ${snapshots.retentionDays} days`,
    });
    acknowledgeNag(
      role,
      'A snapshot ARN ends in the id Redshift assigns when it creates the snapshot, so the new one can only be named by snapshot/*; the namespace ARN limits CreateSnapshot to this warehouse.',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:redshift-serverless:<AWS::Region>:<AWS::AccountId>:snapshot/*]',
    );
    return schedule;
  }

  /** The environment variables a function needs to reach the warehouse through the Data API as the writer. */
  dataApiEnvironment(): Record<string, string> {
    return {
      [HANDLER_ENV.workgroup]: this.workgroupName,
      [HANDLER_ENV.database]: this.databaseName,
      [HANDLER_ENV.copyRoleArn]: this.copyRole.roleArn,
      [HANDLER_ENV.warehouseWriterRoleArn]: this.writerRole.roleArn,
    };
  }

  /** Added to the DDL/grant step's environment: it acts as the admin and grants to the writer user. */
  adminEnvironment(): Record<string, string> {
    return {
      [HANDLER_ENV.warehouseSecretArn]: this.adminSecretArn,
      [HANDLER_ENV.warehouseWriterUser]: this.writerUser,
    };
  }

  /** Lets the namespace's COPY role read a prefix of the lake (the curated zone always; others on request). */
  allowCopyFrom(bucket: s3.IBucket, prefix: string): void {
    // Also grants kms:Decrypt on the lake key.
    bucket.grantRead(this.copyRole, `${prefix}*`);
    acknowledgeNag(
      this.copyRole,
      `COPY reads the Parquet objects (and manifests) under ${prefix}; the wildcards are the CDK read grant scoped to that prefix.`,
      ...s3GrantFindings(bucket, `${prefix}*`, 'read'),
    );
  }

  /**
   * Lets `fn` run SQL through the Data API as the writer user: it may only assume the writer role, whose
   * trust admits its role, and it is created only after the schema step (writersAfter).
   */
  grantDataApi(fn: lambda.Function): void {
    if (!fn.role) throw new Error(`Warehouse: ${fn.node.path} has no role to grant the writer to.`);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'AssumeWarehouseWriter',
        actions: ['sts:AssumeRole'],
        resources: [this.writerRole.roleArn],
      }),
    );
    this.writers.push(fn);
    if (this.schemaReady) this.waitForSchema(fn, this.schemaReady);
  }

  /**
   * Every function granted the writer, before or after this call, is created only once `schemaStep` (the
   * deploy-time EnsureWarehouse) has succeeded: the writer role's first login would make Redshift Serverless
   * create its user with no grants. The function resource alone waits: its role is in the writer's trust.
   */
  writersAfter(schemaStep: IDependable): void {
    this.schemaReady = schemaStep;
    for (const fn of this.writers) this.waitForSchema(fn, schemaStep);
  }

  private waitForSchema(fn: lambda.Function, schemaStep: IDependable): void {
    fn.node.defaultChild!.node.addDependency(schemaStep);
  }

  /**
   * Lets `grantee` (the DDL/grant step only) run SQL as the namespace admin: it may read the managed admin
   * secret (and decrypt it with the namespace key, through Secrets Manager only).
   */
  grantAdmin(grantee: iam.IGrantable): void {
    const principal = grantee.grantPrincipal;
    this.allowDataApi(grantee);
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'RedshiftAdminSecret',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [this.adminSecretArn],
      }),
    );
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'RedshiftAdminSecretKey',
        actions: ['kms:Decrypt'],
        resources: [this.key.keyArn],
        conditions: {
          StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` },
        },
      }),
    );
  }

  /** The Data API on this workgroup, and on the caller's own statements. */
  private allowDataApi(grantee: iam.IGrantable): void {
    const principal = grantee.grantPrincipal;
    principal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'RedshiftDataApiOnWorkgroup',
        actions: ['redshift-data:ExecuteStatement', 'redshift-data:BatchExecuteStatement'],
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
