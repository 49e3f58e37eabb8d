import { Duration } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { acknowledgeNag, acknowledgeStackSingletons, LAMBDA_BASIC_EXECUTION_FINDING } from '../nag';
import { Construct } from 'constructs';
import { removalPolicyOf, type LifecycleConfig, type RemovalChoice } from '../config';
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
}

/** One bucket, one prefix per zone (lambdas/contract.ts LAKE), encrypted with a customer key that rotates. */
export class DataLake extends Construct {
  readonly bucket: s3.Bucket;
  /** Encrypts the lake; the stack reuses it for the alert topic and secrets. */
  readonly key: kms.Key;

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
    });

    // eventBridgeEnabled adds the CDK's stack-wide BucketNotificationsHandler function.
    acknowledgeStackSingletons(
      this,
      'BucketNotificationsHandler',
      'CDK-provided handler that turns on EventBridge notifications for the bucket; it only needs basic Lambda logging.',
      LAMBDA_BASIC_EXECUTION_FINDING,
    );
  }
}
