import { Aws, Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { AlertsConfig, EnvName } from '../config';
import { acknowledgeNag } from '../nag';

export interface AlertsProps {
  /** Named in the topic's display name. */
  readonly envName: EnvName;
  /** Encrypts the alert topic; CloudWatch is allowed to use it for alarm notifications. */
  readonly key: kms.IKey;
  /**
   * E-mail and HTTPS subscriptions of the alert topic (validated by lib/config.ts).
   * @default no subscription
   */
  readonly alerts?: AlertsConfig;
}

/** The ARNs of this account's CloudWatch alarms in this region: what may publish to the alert topic. */
const alarmArnPattern = (): string =>
  `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*`;

/** The confused-deputy guard of CloudWatch's topic grant: only alarms of this account (and region). */
const fromThisAccountsAlarms = () => ({
  StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
  ArnLike: { 'aws:SourceArn': alarmArnPattern() },
});

/** Lets a function publish to the (KMS-encrypted) alert topic, with the nag finding the grant produces acknowledged. */
export function grantAlertPublish(fn: lambda.IFunction, topic: sns.ITopic): void {
  topic.grantPublish(fn);
  acknowledgeNag(
    fn,
    'Publishing to the KMS-encrypted alert topic needs kms:GenerateDataKey* on the topic key (CDK topic grant).',
    'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
  );
}

/**
 * The environment's alert topic, created before anything that notifies it: the notify step (BatchPipeline),
 * the on-failure rule (StreamIngest) and the alarms (Monitoring) receive it. KMS-encrypted with the lake
 * key; CloudWatch alarms of this account may publish; the configured subscriptions receive.
 */
export class Alerts extends Construct {
  readonly topic: sns.Topic;
  /** Alerts SNS could not deliver to a subscription after its retries; only when there are subscriptions. */
  readonly undeliveredQueue?: sqs.Queue;

  constructor(scope: Construct, id: string, props: AlertsProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'AlertTopic', {
      displayName: `cartflow ${props.envName} alerts`,
      masterKey: props.key,
      enforceSSL: true,
    });
    // An explicit topic policy replaces SNS's default one (an EventBridge target writes one), so every
    // publisher must be admitted by name. CloudWatch alarms: this account's alarms only.
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromThisAccountsAlarms(),
      }),
    );
    // ... and they publish to the encrypted topic with this key. SNS asks KMS for a data key on the
    // publisher's behalf, and AWS documents the CloudWatch grant without aws:SourceAccount/SourceArn
    // conditions ("Enable compatibility between event sources from AWS services and encrypted topics",
    // https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services):
    // KMS is not promised those keys, and a condition on them would deny every alarm notification. Who may
    // publish stays scoped by the topic policy above; the key alone encrypts nothing into the topic.
    props.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublishToEncryptedTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    const emails = props.alerts?.emails ?? [];
    const httpsEndpoint = props.alerts?.httpsEndpoint;
    if (emails.length === 0 && httpsEndpoint === undefined) return;
    // An alert SNS gives up on (endpoint down past its retries, address gone) is kept here, not dropped.
    const deadLetterQueue = new sqs.Queue(this, 'UndeliveredAlerts', {
      // SQS-managed keys: SNS can write without a key policy grant.
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledgeNag(
      deadLetterQueue,
      'This queue is the dead-letter queue of the alert subscriptions: the last stop, read and redriven by an operator.',
      'AwsSolutions-SQS3',
      'Serverless-SQSRedrivePolicy',
    );
    this.undeliveredQueue = deadLetterQueue;
    for (const email of emails) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(email, { deadLetterQueue }));
    }
    if (httpsEndpoint !== undefined) {
      this.topic.addSubscription(
        new subscriptions.UrlSubscription(httpsEndpoint, {
          protocol: sns.SubscriptionProtocol.HTTPS,
          deadLetterQueue,
        }),
      );
    }
  }
}
