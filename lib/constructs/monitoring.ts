import { Aws, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { HANDLER_ENV } from '../../lambdas/steps';
import type { AlarmConfig, AlertsConfig, EnvName } from '../config';
import { acknowledgeNag } from '../nag';
import type { BatchPipeline } from './batch-pipeline';
import type { StreamIngest } from './stream-ingest';

/** Namespace and metric names the handlers publish as EMF (lambdas/adapters/observability.ts). */
export const CUSTOM_METRICS = {
  namespace: 'Cartflow',
  qualityGateFailed: 'QualityGateFailed',
  minutesSinceLastLoad: 'MinutesSinceLastLoad',
} as const;

export interface MonitoringProps {
  readonly envName: EnvName;
  readonly pipeline: BatchPipeline;
  /** Encrypts the alert topic; CloudWatch is allowed to use it for alarm notifications. */
  readonly key: kms.IKey;
  /** The batch SLA; the duration alarm fires when a run takes this long. */
  readonly slaMinutes: number;
  readonly alarms: AlarmConfig;
  /**
   * E-mail and HTTPS subscriptions of the alert topic (validated by lib/config.ts).
   * @default no subscription
   */
  readonly alerts?: AlertsConfig;
  /**
   * Dead-letter queue of the EventBridge triggers; any message in it raises an alarm.
   * @default no DLQ alarm
   */
  readonly deadLetterQueue?: sqs.IQueue;
  /**
   * The clickstream ingest: consumer-lag, function-error and on-failure-object alarms, and a dashboard row.
   * @default no stream alarms
   */
  readonly stream?: StreamIngest;
  /**
   * OffsetLag (records) above which the consumer-lag alarm fires; required with `stream`.
   * @default none
   */
  readonly offsetLagThreshold?: number;
}

/** Creates an alarm on `metric` that notifies the alert topic; `options` override the defaults. */
type CreateAlarm = (
  id: string,
  metric: cloudwatch.Metric,
  options?: Partial<cloudwatch.CreateAlarmOptions>,
) => cloudwatch.Alarm;

/** The ARNs of this account's CloudWatch alarms in this region: what may publish to the alert topic. */
const alarmArnPattern = (): string =>
  `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*`;

/** The confused-deputy guard of CloudWatch's grants: only alarms of this account (and region). */
const fromThisAccountsAlarms = () => ({
  StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
  ArnLike: { 'aws:SourceArn': alarmArnPattern() },
});

/**
 * Lets an AWS service publish to the topic encrypted with `key` (SNS then asks KMS for a data key on
 * the publisher's behalf). `conditions` scope it where the service sends source keys to KMS: CloudWatch
 * does; EventBridge does not (AWS documents aws:SourceArn/SourceAccount as unsupported in a key policy
 * for EventBridge targets, so a condition there would drop every notification silently).
 */
function allowTopicKeyUse(
  key: kms.IKey,
  sid: string,
  servicePrincipal: string,
  conditions?: Record<string, Record<string, unknown>>,
): void {
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid,
      principals: [new iam.ServicePrincipal(servicePrincipal)],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions,
    }),
  );
}

/** The alert topic, the alarms (each notifies the topic) and a dashboard. */
export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { pipeline, alarms: thresholds } = props;
    if (!Number.isInteger(props.slaMinutes) || props.slaMinutes < 1) {
      throw new Error(
        `Monitoring: slaMinutes must be a whole number of minutes >= 1, got ${props.slaMinutes}.`,
      );
    }
    for (const field of ['evaluationPeriods', 'failedExecutionsThreshold'] as const) {
      if (!Number.isInteger(thresholds[field]) || thresholds[field] < 1) {
        throw new Error(`Monitoring: alarms.${field} must be a whole number >= 1, got ${thresholds[field]}.`);
      }
    }

    this.topic = new sns.Topic(this, 'AlertTopic', {
      displayName: `cartflow ${props.envName} alerts`,
      masterKey: props.key,
      enforceSSL: true,
    });
    // An explicit topic policy replaces SNS's default one (the EventBridge target below writes one), so
    // every publisher must be admitted by name. CloudWatch alarms: this account's alarms only.
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromThisAccountsAlarms(),
      }),
    );
    // ... and they publish to the encrypted topic with this key.
    allowTopicKeyUse(
      props.key,
      'CloudWatchAlarmsPublishToEncryptedTopic',
      'cloudwatch.amazonaws.com',
      fromThisAccountsAlarms(),
    );
    for (const email of props.alerts?.emails ?? []) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    }
    if (props.alerts?.httpsEndpoint !== undefined) {
      this.topic.addSubscription(
        new subscriptions.UrlSubscription(props.alerts.httpsEndpoint, {
          protocol: sns.SubscriptionProtocol.HTTPS,
        }),
      );
    }
    // Only the notify step publishes run summaries.
    const notify = pipeline.functions.notify;
    this.topic.grantPublish(notify);
    acknowledgeNag(
      notify,
      'Publishing to the KMS-encrypted alert topic needs kms:GenerateDataKey* on the topic key (CDK topic grant).',
      'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
    );
    notify.addEnvironment(HANDLER_ENV.topicArn, this.topic.topicArn);

    const action = new SnsAction(this.topic);
    const alarm: CreateAlarm = (id, metric, options = {}) => {
      const created = metric.createAlarm(this, id, {
        threshold: 1,
        evaluationPeriods: thresholds.evaluationPeriods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...options,
      });
      created.addAlarmAction(action);
      this.alarms.push(created);
      return created;
    };

    const batch = pipeline.stateMachine;
    const period = Duration.minutes(15);
    alarm('ExecutionsFailed', batch.metricFailed({ period }), {
      threshold: thresholds.failedExecutionsThreshold,
      alarmDescription: 'The daily batch run failed (quality gate or a step); see the NotifyFailure message.',
    });
    alarm('ExecutionsTimedOut', batch.metricTimedOut({ period }), {
      alarmDescription: `The daily batch run hit its ${props.slaMinutes}-minute SLA timeout.`,
    });
    alarm('ExecutionTimeOverSla', batch.metricTime({ period, statistic: cloudwatch.Stats.MAXIMUM }), {
      threshold: props.slaMinutes * 60_000,
      evaluationPeriods: 1,
      alarmDescription: `A batch run took ${props.slaMinutes} minutes or more (the SLA).`,
    });
    alarm('CatalogExecutionsFailed', pipeline.catalogStateMachine.metricFailed({ period }), {
      threshold: thresholds.failedExecutionsThreshold,
      alarmDescription: 'A catalog refresh failed; the landing file was not loaded.',
    });

    for (const [entry, fn] of Object.entries(pipeline.functions)) {
      alarm(`${fn.node.id}Errors`, fn.metricErrors({ period }), {
        alarmDescription: `Lambda ${entry} returned errors (after Step Functions retries they may still have succeeded).`,
      });
      alarm(`${fn.node.id}Throttles`, fn.metricThrottles({ period }), {
        alarmDescription: `Lambda ${entry} was throttled.`,
      });
    }

    const streamWidgets = props.stream ? this.streamAlarms(props, alarm) : [];

    // Powertools Metrics adds the service dimension to the handlers' default environment dimension.
    const dimensionsMap = { service: 'cartflow', environment: props.envName };
    const qualityGateFailed = new cloudwatch.Metric({
      namespace: CUSTOM_METRICS.namespace,
      metricName: CUSTOM_METRICS.qualityGateFailed,
      dimensionsMap,
      statistic: cloudwatch.Stats.SUM,
      period: Duration.hours(1),
    });
    alarm('QualityGateFailed', qualityGateFailed, {
      evaluationPeriods: 1,
      alarmDescription: 'A dataset passed its quarantine threshold; nothing of that date was loaded.',
    });
    const minutesSinceLastLoad = new cloudwatch.Metric({
      namespace: CUSTOM_METRICS.namespace,
      metricName: CUSTOM_METRICS.minutesSinceLastLoad,
      dimensionsMap,
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.days(1),
    });
    alarm('DataFreshness', minutesSinceLastLoad, {
      threshold: thresholds.freshnessMinutes,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      // No datapoint for a day means no run reported at all: that is stale too.
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      alarmDescription: `The last good load is older than ${thresholds.freshnessMinutes} minutes.`,
    });
    if (props.deadLetterQueue) {
      alarm(
        'TriggerDeadLetters',
        props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period }),
        {
          evaluationPeriods: 1,
          alarmDescription: 'EventBridge could not start a pipeline; the event is in the trigger DLQ.',
        },
      );
    }

    const functions = Object.values(pipeline.functions);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: Stack.of(this).stackName,
      defaultInterval: Duration.days(7),
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Batch executions',
        left: [batch.metricStarted(), batch.metricSucceeded(), batch.metricFailed(), batch.metricTimedOut()],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Batch execution time (ms)',
        left: [batch.metricTime({ statistic: cloudwatch.Stats.MAXIMUM })],
        leftAnnotations: [{ value: props.slaMinutes * 60_000, label: 'SLA' }],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Lambda errors',
        left: functions.map((fn) => fn.metricErrors({ label: fn.node.id })),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Lambda duration p99 (ms)',
        left: functions.map((fn) =>
          fn.metricDuration({ label: fn.node.id, statistic: cloudwatch.Stats.p(99) }),
        ),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Lambda throttles',
        left: functions.map((fn) => fn.metricThrottles({ label: fn.node.id })),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Data quality and freshness',
        left: [qualityGateFailed],
        right: [minutesSinceLastLoad],
        width: 12,
      }),
      ...streamWidgets,
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 12 }),
    );
  }

  /** Stream alarms; returns the stream's dashboard widgets. */
  private streamAlarms(props: MonitoringProps, alarm: CreateAlarm): cloudwatch.IWidget[] {
    const stream = props.stream!;
    const threshold = props.offsetLagThreshold;
    if (threshold === undefined || !Number.isInteger(threshold) || threshold < 1) {
      throw new Error(
        `Monitoring: offsetLagThreshold must be a whole number >= 1 with a stream, got ${threshold}.`,
      );
    }
    const period = Duration.minutes(5);
    // OffsetLag: AWS/Lambda, dimension FunctionName, emitted for every Kafka (MSK or self-managed)
    // event-source mapping of the function without extra configuration: records written to the topic
    // and not yet processed by the mapping's consumer group. Maximum, so one lagging partition counts.
    const offsetLag = stream.streamFunction.metric('OffsetLag', {
      statistic: cloudwatch.Stats.MAXIMUM,
      period,
    });
    alarm('StreamOffsetLag', offsetLag, {
      threshold,
      // Pollers scale on lag within ~3 minutes; 15 minutes above the threshold is a real backlog.
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      alarmDescription: `The clickstream consumer is more than ${threshold} records behind the topic for 15 minutes.`,
    });
    const functions = [
      ['stream-to-parquet', stream.streamFunction],
      ['load-events', stream.loadEventsFunction],
    ] as const;
    for (const [entry, fn] of functions) {
      alarm(`${fn.node.id}Errors`, fn.metricErrors({ period }), {
        alarmDescription: `Lambda ${entry} returned errors (the mapping or the schedule retries; see its logs).`,
      });
      alarm(`${fn.node.id}Throttles`, fn.metricThrottles({ period }), {
        alarmDescription: `Lambda ${entry} was throttled.`,
      });
    }

    // On-failure objects. Lambda's own per-mapping counters (ESM MetricsConfig ErrorCount) are opt-in,
    // billed and keyed by the mapping UUID; the objects themselves are the ground truth. The lake sends
    // S3 events to EventBridge, so the rule matching the on-failure prefix sends each object's key to the
    // topic, and its TriggeredRules metric (AWS/Events, RuleName; one per matched event with a target)
    // drives an alarm that stays visible on the dashboard.
    // The SnsTopic target admits events.amazonaws.com on the topic policy and (the topic having a key) on
    // the key policy, without source conditions: KMS receives none from EventBridge (test/lib/alarms.test.ts).
    stream.onFailureRule.addTarget(
      new targets.SnsTopic(this.topic, {
        message: events.RuleTargetInput.fromText(
          `cartflow ${props.envName}: the clickstream mapping gave up on a batch; its records are in s3://${events.EventField.fromPath('$.detail.bucket.name')}/${events.EventField.fromPath('$.detail.object.key')}`,
        ),
      }),
    );
    const onFailureObjects = new cloudwatch.Metric({
      namespace: 'AWS/Events',
      metricName: 'TriggeredRules',
      dimensionsMap: { RuleName: stream.onFailureRule.ruleName },
      statistic: cloudwatch.Stats.SUM,
      period,
    });
    alarm('StreamOnFailureObjects', onFailureObjects, {
      evaluationPeriods: 1,
      alarmDescription: `The clickstream mapping wrote discarded batches under ${stream.onFailurePrefix} of the lake.`,
    });

    return [
      new cloudwatch.GraphWidget({
        title: 'Clickstream consumer lag (records)',
        left: [offsetLag],
        leftAnnotations: [{ value: threshold, label: 'alarm' }],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Clickstream functions: invocations and errors',
        left: functions.map(([entry, fn]) => fn.metricInvocations({ label: entry, period })),
        right: [
          ...functions.map(([entry, fn]) => fn.metricErrors({ label: `${entry} errors`, period })),
          onFailureObjects.with({ label: 'on-failure objects' }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Clickstream functions: duration p99 (ms)',
        left: functions.map(([entry, fn]) =>
          fn.metricDuration({ label: entry, statistic: cloudwatch.Stats.p(99), period }),
        ),
        width: 8,
      }),
    ];
  }
}
