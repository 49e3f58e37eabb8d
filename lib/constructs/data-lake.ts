import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { acknowledgeNag, acknowledgeStackSingletons, LAMBDA_BASIC_EXECUTION_FINDING } from '../nag';
import { Construct } from 'constructs';
import {
  removalPolicyOf,
  type LakeReplicationConfig,
  type LifecycleConfig,
  type RemovalChoice,
} from '../config';
import { EVENT_LOAD_ID_PREFIX, LAKE } from '../../lambdas/contract';

export interface DataLakeProps {
  /** Per-zone lifecycle (days) from the environment config. */
  readonly lifecycle: LifecycleConfig;
  /**
   * `destroy` deletes the bucket, its objects and the key with the stack (dev only).
   * @default 'retain'
   */
  readonly removalPolicy?: RemovalChoice;
  /**
   * Days the server access logs are kept.
   * @default 365
   */
  readonly accessLogsExpireDays?: number;
  /**
   * Every object replicated to a bucket in another region, encrypted there with its key.
   * @default none
   */
  readonly replication?: LakeReplicationConfig;
}

/** One bucket, one prefix per zone (lambdas/contract.ts LAKE), encrypted with a customer key that rotates. */
export class DataLake extends Construct {
  readonly bucket: s3.Bucket;
  /** Encrypts the lake; the stack reuses it for the alert topic and secrets. */
  readonly key: kms.Key;
  /** The role S3 replicates the lake with; undefined without `replication`. */
  readonly replicationRole?: iam.Role;

  constructor(scope: Construct, id: string, props: DataLakeProps) {
    super(scope, id);
    const { lifecycle } = props;
    const accessLogsExpireDays = props.accessLogsExpireDays ?? 365;
    if (!Number.isInteger(accessLogsExpireDays) || accessLogsExpireDays < 1) {
      throw new Error(
        `DataLake: accessLogsExpireDays must be a whole number of days >= 1, got ${accessLogsExpireDays}.`,
      );
    }
    if (lifecycle.rawToIaDays < 30) {
      throw new Error(
        `DataLake: lifecycle.rawToIaDays is ${lifecycle.rawToIaDays}; S3 moves objects to Standard-IA after 30 days at the earliest, set it to 30 or more.`,
      );
    }
    if (lifecycle.rawToGlacierDays < lifecycle.rawToIaDays + 30) {
      throw new Error(
        `DataLake: lifecycle.rawToGlacierDays (${lifecycle.rawToGlacierDays}) must be at least rawToIaDays + 30 (${lifecycle.rawToIaDays + 30}): objects stay 30 days in Standard-IA.`,
      );
    }

    const destroy = props.removalPolicy === 'destroy';
    const removalPolicy = removalPolicyOf(props.removalPolicy);

    this.key = new kms.Key(this, 'Key', {
      description: 'cartflow data lake, alerts and secrets',
      enableKeyRotation: true,
      removalPolicy,
    });

    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      // The S3 log delivery service cannot write to SSE-KMS buckets.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(accessLogsExpireDays) }],
      removalPolicy,
      autoDeleteObjects: destroy,
    });
    acknowledgeNag(
      accessLogs,
      'This is the access-log bucket itself; logging it into itself would loop.',
      'AwsSolutions-S1',
    );

    const replication = props.replication && this.replicationOf(props.replication, this.key);
    const days = Duration.days;
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      // One data key per bucket instead of per object: far fewer KMS calls on large loads.
      bucketKeyEnabled: true,
      versioned: true,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Object-created events on landing/ start the catalog refresh (Triggers).
      eventBridgeEnabled: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'lake/',
      lifecycleRules: [
        {
          id: 'all-housekeeping',
          abortIncompleteMultipartUploadAfter: days(7),
          noncurrentVersionExpiration: days(lifecycle.noncurrentExpireDays),
        },
        // archive/: catalog files a refresh merged, kept as long as raw data. catalog/ (the current catalog,
        // one object) and state/ (the loaders' positions) have no rule: they must outlive any quiet spell.
        ...[LAKE.raw, LAKE.events, LAKE.archive].map((prefix) => ({
          id: `${prefix.slice(0, -1)}-tiering`,
          prefix,
          transitions: [
            { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: days(lifecycle.rawToIaDays) },
            {
              storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
              transitionAfter: days(lifecycle.rawToGlacierDays),
            },
          ],
          expiration: lifecycle.rawExpireDays === undefined ? undefined : days(lifecycle.rawExpireDays),
        })),
        { id: 'staged-expiry', prefix: LAKE.staged, expiration: days(lifecycle.stagedExpireDays) },
        // COPY manifests and ledger files of the events load: only needed while a load runs and for forensics.
        // Not the compacted files (`rebuild` reloads them): they follow events/.
        {
          id: 'events-manifests-expiry',
          prefix: `${LAKE.eventManifests}${EVENT_LOAD_ID_PREFIX}`,
          expiration: days(lifecycle.stagedExpireDays),
        },
        // Batches the stream mapping gave up on: full payloads, kept as long as quarantined rows; so are
        // catalog files rejected at their gate (and their reports), left there to be fixed and resubmitted.
        ...[LAKE.quarantine, LAKE.quality, LAKE.streamOnFailure, LAKE.rejected].map((prefix) => ({
          id: `${prefix.slice(0, -1).replace('/', '-')}-retention`,
          prefix,
          expiration: days(lifecycle.quarantineExpireDays),
        })),
      ],
      removalPolicy,
      autoDeleteObjects: destroy,
      ...replication,
    });
    if (replication && props.replication) {
      this.replicationRole = replication.replicationRole as iam.Role;
      this.grantReplicationSource(this.replicationRole, props.replication.destinationBucketArn);
    }

    // eventBridgeEnabled adds the CDK's stack-wide BucketNotificationsHandler function.
    acknowledgeStackSingletons(
      this,
      'BucketNotificationsHandler',
      'CDK-provided handler that turns on EventBridge notifications for the bucket; it only needs basic Lambda logging.',
      LAMBDA_BASIC_EXECUTION_FINDING,
    );
  }

  /**
   * One rule over the whole bucket. Deletions are not replicated (no delete markers, and S3 never replicates
   * lifecycle expirations): the replica is the copy of record when the lake loses an object. A role of our
   * own, not the CDK's (a fixed name per account, delete and owner-override rights we do not use).
   */
  private replicationOf(
    { destinationBucketArn, kmsKeyArn }: LakeReplicationConfig,
    key: kms.IKey,
  ): Pick<s3.BucketProps, 'replicationRole' | 'replicationRules'> {
    const destination = s3.Bucket.fromBucketArn(this, 'ReplicaBucket', destinationBucketArn);
    const replicaKey = kms.Key.fromKeyArn(this, 'ReplicaKey', kmsKeyArn);
    const role = new iam.Role(this, 'ReplicationRole', {
      assumedBy: new iam.ServicePrincipal('s3.amazonaws.com'),
      description: `cartflow: replicates the lake to ${destination.bucketName}`,
    });
    const region = (arn: string) => arn.split(':')[3];
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DestinationWriteReplicas',
        actions: ['s3:ReplicateObject', 's3:ReplicateTags'],
        resources: [destination.arnForObjects('*')],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DestinationKeyEncrypt',
        actions: ['kms:Encrypt', 'kms:GenerateDataKey'],
        resources: [kmsKeyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${region(kmsKeyArn)}.amazonaws.com` } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SourceKeyDecrypt',
        actions: ['kms:Decrypt'],
        resources: [key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` } },
      }),
    );
    return {
      replicationRole: role,
      replicationRules: [
        {
          id: 'lake-replica',
          destination,
          kmsKey: replicaKey,
          sseKmsEncryptedObjects: true,
          deleteMarkerReplication: false,
          priority: 0,
        },
      ],
    };
  }

  /** The replication role reads this bucket's object versions (after the bucket exists). */
  private grantReplicationSource(role: iam.Role, destinationBucketArn: string): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SourceReplicationConfiguration',
        actions: ['s3:GetReplicationConfiguration', 's3:ListBucket'],
        resources: [this.bucket.bucketArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SourceReadVersions',
        actions: [
          's3:GetObjectVersionForReplication',
          's3:GetObjectVersionAcl',
          's3:GetObjectVersionTagging',
        ],
        resources: [this.bucket.arnForObjects('*')],
      }),
    );
    acknowledgeNag(
      role,
      'Replication copies every object of the lake into the replica bucket: object ARNs of the two buckets, no other resource.',
      `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket)}.Arn>/*]`,
      `AwsSolutions-IAM5[Resource::${destinationBucketArn}/*]`,
    );
  }
}
