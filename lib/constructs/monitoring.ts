import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { LAKE, METRIC, METRICS_NAMESPACE, METRICS_SERVICE } from '../../lambdas/contract';
import { DATASETS } from '../../lambdas/core/model';
import type { AlarmConfig, EnvName } from '../config';

/** The batch side's metric sources: the two state machines and the step functions by handler entry. */
export interface BatchMetricSources {
  readonly stateMachine: sfn.IStateMachine;
  readonly catalogStateMachine: sfn.IStateMachine;
  /** Handler entry → function (errors and throttles alarms, dashboard graphs). */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
}

/** The clickstream's metric sources. */
export interface StreamMetricSources {
  /** The event-source mapping's target: its OffsetLag is the consumer lag. */
  readonly consumer: lambda.IFunction;
  /** Handler entry → function (errors and throttles alarms, dashboard graphs). */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /** The rule matching every on-failure object; its TriggeredRules count them. */
  readonly onFailureRule: events.IRule;
  /** Where those objects land (alarm description). */
  readonly onFailurePrefix: string;
  /** OffsetLag (records) above which the consumer-lag alarm fires. */
  readonly offsetLagThreshold: number;
}

/** The freshness SLAs: what the scheduled SLA check (lib/constructs/sla-check.ts) publishes and allows. */
export interface FreshnessSources {
  /** Dataset → the age (minutes) its rule allows: the threshold of its freshness alarm. */
  readonly limits: Readonly<Record<string, number>>;
  /** How often the check publishes DataAgeMinutes: the alarms' period. */
  readonly period: Duration;
  /**
   * Consecutive checks over the limit before a dataset's alarm fires (config sla.breachedChecks).
   * @default 1
   */
  readonly breachedChecks?: number;
  /** The check itself: errors and throttles alarms (a check that fails publishes nothing, which breaches too). */
  readonly checkFunction: lambda.IFunction;
}

export interface MonitoringProps {
  readonly envName: EnvName;
  /** The alert topic (lib/constructs/alerts.ts): every alarm notifies it. */
  readonly topic: sns.ITopic;
  /** The batch SLA; the duration alarm fires when a run takes this long. */
  readonly slaMinutes: number;
  readonly alarms: AlarmConfig;
  /** The batch and catalog state machines and step functions: execution, errors and throttles alarms. */
  readonly batch: BatchMetricSources;
  /**
   * Freshness per dataset: an alarm per dataset on its age, and a dashboard row.
   * @default no freshness alarms
   */
  readonly freshness?: FreshnessSources;
  /**
   * Dead-letter queue of the EventBridge triggers; any message in it raises an alarm.
   * @default no DLQ alarm
   */
  readonly deadLetterQueue?: sqs.IQueue;
  /**
   * The clickstream: consumer-lag, function-error and on-failure-object alarms, and a dashboard row.
   * @default no stream alarms
   */
  readonly stream?: StreamMetricSources;
}

/** `order_items` → `OrderItems`: a dataset's part of its alarm's construct id. */
const constructIdPart = (dataset: string): string =>
  dataset.replace(/(^|_)(\w)/g, (_, _sep: string, c: string) => c.toUpperCase());

/** Creates an alarm on `metric` that notifies the alert topic; `options` override the defaults. */
type CreateAlarm = (
  id: string,
  metric: cloudwatch.Metric,
  options?: Partial<cloudwatch.CreateAlarmOptions>,
) => cloudwatch.Alarm;

/**
 * The alarms (each notifies the alert topic) and a dashboard, over metric sources: it depends on no other
 * construct of lib/constructs, only on what they expose.
 */
export class Monitoring extends Construct {
  readonly topic: sns.ITopic;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { batch: pipeline, alarms: thresholds } = props;
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
    this.topic = props.topic;

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
      alarmDescription: 'The daily batch run failed (quality gate or a step); see the run-failed notice.',
    });
    alarm('ExecutionsTimedOut', batch.metricTimedOut({ period }), {
      alarmDescription: `The daily batch run hit its ${props.slaMinutes}-minute SLA timeout.`,
    });
    const runDurationMinutes = thresholds.runDurationMinutes ?? props.slaMinutes;
    alarm('ExecutionTimeOverSla', batch.metricTime({ period, statistic: cloudwatch.Stats.MAXIMUM }), {
      threshold: runDurationMinutes * 60_000,
      evaluationPeriods: 1,
      alarmDescription: `A batch run took ${runDurationMinutes} minutes or more (alarms.runDurationMinutes; the hard SLA is ${props.slaMinutes}).`,
    });
    alarm('CatalogExecutionsFailed', pipeline.catalogStateMachine.metricFailed({ period }), {
      threshold: thresholds.failedExecutionsThreshold,
      alarmDescription: `A catalog refresh failed: a step failed (its files stay in ${LAKE.catalogLanding}), or a file failed its quality gate and was set aside under ${LAKE.catalogRejected} (the refresh's notice names it).`,
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
    const dimensionsMap = { service: METRICS_SERVICE, environment: props.envName };
    const qualityGateFailed = new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: METRIC.qualityGateFailed,
      dimensionsMap,
      statistic: cloudwatch.Stats.SUM,
      period: Duration.hours(1),
    });
    alarm('QualityGateFailed', qualityGateFailed, {
      evaluationPeriods: 1,
      alarmDescription: 'A dataset passed its quarantine threshold; nothing of that date was loaded.',
    });
    const freshnessWidgets = props.freshness ? this.freshnessAlarms(props, alarm, dimensionsMap) : [];
    if (props.deadLetterQueue) {
      alarm(
        'TriggerDeadLetters',
        props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period }),
        {
          evaluationPeriods: 1,
          alarmDescription:
            'EventBridge could not start a pipeline or a warehouse snapshot; the event is in the trigger DLQ.',
        },
      );
    }

    const functions = Object.values(pipeline.functions);
    const allFunctions = [
      ...functions,
      ...Object.values(props.stream?.functions ?? {}),
      ...(props.freshness ? [props.freshness.checkFunction] : []),
    ];
    const perDataset = (metricName: string, dataset: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { ...dimensionsMap, dataset },
        statistic: cloudwatch.Stats.SUM,
        period: Duration.hours(1),
        label: dataset,
      });
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
        leftAnnotations: [
          { value: props.slaMinutes * 60_000, label: 'SLA (timeout)' },
          { value: runDurationMinutes * 60_000, label: 'duration alarm' },
        ],
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
        title: 'Rows loaded per dataset',
        left: DATASETS.map((dataset) => perDataset(METRIC.rowsLoaded, dataset)),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Quality: gate failures and quarantined rows',
        left: [qualityGateFailed.with({ label: 'quality gate failures' })],
        right: DATASETS.map((dataset) =>
          perDataset(METRIC.quarantinedRows, dataset).with({ label: `${dataset} quarantined` }),
        ),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Errors per minute (all functions)',
        left: allFunctions.map((fn) => fn.metricErrors({ label: fn.node.id, period: Duration.minutes(1) })),
        width: 8,
      }),
      ...freshnessWidgets,
      ...streamWidgets,
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 12 }),
    );
  }

  /** An alarm per dataset on its DataAgeMinutes; returns the freshness row of the dashboard. */
  private freshnessAlarms(
    props: MonitoringProps,
    alarm: CreateAlarm,
    dimensionsMap: Record<string, string>,
  ): cloudwatch.IWidget[] {
    const freshness = props.freshness!;
    const breachedChecks = freshness.breachedChecks ?? 1;
    if (!Number.isInteger(breachedChecks) || breachedChecks < 1) {
      throw new Error(
        `Monitoring: freshness.breachedChecks must be a whole number >= 1, got ${breachedChecks}.`,
      );
    }
    const entries = Object.entries(freshness.limits);
    if (entries.length === 0)
      throw new Error('Monitoring: freshness.limits names no dataset; leave freshness out instead.');
    const period = freshness.period;
    const widgets: cloudwatch.IWidget[] = [];
    for (const [dataset, limit] of entries) {
      if (!(Number.isFinite(limit) && limit > 0)) {
        throw new Error(
          `Monitoring: freshness.limits.${dataset} must be a number of minutes > 0, got ${limit}.`,
        );
      }
      const age = new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: METRIC.dataAgeMinutes,
        dimensionsMap: { ...dimensionsMap, dataset },
        statistic: cloudwatch.Stats.MAXIMUM,
        period,
      });
      alarm(`Freshness${constructIdPart(dataset)}`, age, {
        threshold: limit,
        evaluationPeriods: breachedChecks,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        // The check publishes no age for a dataset without data, and nothing at all when it fails: both
        // mean the data is not known to be fresh.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        alarmDescription: `${dataset} is older than its freshness SLA (${limit} minutes), or has no data, or the SLA check did not run. Runbook: docs/runbooks/sla-breach.md.`,
      });
      widgets.push(
        new cloudwatch.GraphWidget({
          title: `Freshness: ${dataset} (minutes)`,
          left: [age.with({ label: `${dataset} age` })],
          leftAnnotations: [{ value: limit, label: 'SLA' }],
          width: 6,
        }),
      );
    }
    const check = freshness.checkFunction;
    alarm(`${check.node.id}Errors`, check.metricErrors({ period }), {
      alarmDescription:
        'The freshness SLA check failed; the freshness alarms see no data until it runs again.',
    });
    alarm(`${check.node.id}Throttles`, check.metricThrottles({ period }), {
      alarmDescription: 'The freshness SLA check was throttled.',
    });
    return widgets;
  }

  /** Stream alarms; returns the stream's dashboard widgets. */
  private streamAlarms(props: MonitoringProps, alarm: CreateAlarm): cloudwatch.IWidget[] {
    const stream = props.stream!;
    const threshold = stream.offsetLagThreshold;
    if (threshold === undefined || !Number.isInteger(threshold) || threshold < 1) {
      throw new Error(
        `Monitoring: offsetLagThreshold must be a whole number >= 1 with a stream, got ${threshold}.`,
      );
    }
    const period = Duration.minutes(5);
    // OffsetLag: AWS/Lambda, dimension FunctionName, emitted for every Kafka (MSK or self-managed)
    // event-source mapping of the function without extra configuration: records written to the topic
    // and not yet processed by the mapping's consumer group. Maximum, so one lagging partition counts.
    const offsetLag = stream.consumer.metric('OffsetLag', {
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
    const functions = Object.entries(stream.functions);
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
    // S3 events to EventBridge, and the rule matching the on-failure prefix (StreamIngest, which also sends
    // each object's key to the alert topic) counts them: its TriggeredRules metric (AWS/Events, RuleName;
    // one per matched event with a target) drives an alarm that stays visible on the dashboard.
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

    const dimensionsMap = { service: METRICS_SERVICE, environment: props.envName };
    const perMinute = (metricName: string, label: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap,
        statistic: cloudwatch.Stats.SUM,
        period: Duration.minutes(1),
        label,
      });
    return [
      new cloudwatch.GraphWidget({
        title: 'Clickstream events per minute',
        left: [
          perMinute(METRIC.eventsWritten, 'written to the lake'),
          perMinute(METRIC.eventsLoaded, 'loaded into the warehouse'),
        ],
        right: [
          perMinute(METRIC.eventsQuarantined, 'quarantined'),
          perMinute(METRIC.duplicatesDropped, 'duplicates dropped'),
        ],
        width: 12,
      }),
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
