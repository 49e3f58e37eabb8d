import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { acknowledgeNag } from '../nag';
import { Construct } from 'constructs';
import { LAKE } from '../../lambdas/contract';

export interface TriggersProps {
  /** Started daily by the schedule with `{ "time": <event time> }`. */
  readonly batchStateMachine: sfn.IStateMachine;
  /** Started with the S3 "Object Created" event of each new catalog file. */
  readonly catalogStateMachine: sfn.IStateMachine;
  /** The lake bucket (EventBridge notifications must be on). */
  readonly bucket: s3.IBucket;
  /** EventBridge schedule expression, e.g. `cron(0 3 * * ? *)`. */
  readonly scheduleExpression: string;
  /**
   * Key prefix whose new objects start the catalog refresh.
   * @default LAKE.catalogLanding (lambdas/contract.ts)
   */
  readonly catalogPrefix?: string;
  /**
   * Times EventBridge retries a failed StartExecution before the event goes to the DLQ.
   * @default 3
   */
  readonly retryAttempts?: number;
}

/** EventBridge rules that start the pipelines; undeliverable events land in an encrypted DLQ. */
export class Triggers extends Construct {
  readonly deadLetterQueue: sqs.Queue;
  readonly scheduleRule: events.Rule;
  readonly catalogRule: events.Rule;

  constructor(scope: Construct, id: string, props: TriggersProps) {
    super(scope, id);
    const catalogPrefix = props.catalogPrefix ?? LAKE.catalogLanding;
    const retryAttempts = props.retryAttempts ?? 3;
    if (!catalogPrefix.endsWith('/') || catalogPrefix.startsWith('/')) {
      throw new Error(
        `Triggers: catalogPrefix "${catalogPrefix}" must be relative and end with '/', e.g. '${LAKE.catalogLanding}'.`,
      );
    }
    if (!Number.isInteger(retryAttempts) || retryAttempts < 0 || retryAttempts > 185) {
      throw new Error(
        `Triggers: retryAttempts ${retryAttempts} must be an integer from 0 to 185 (EventBridge limit).`,
      );
    }

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      // SQS-managed keys: EventBridge can write without a key policy grant.
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledgeNag(
      this.deadLetterQueue,
      'This queue is the dead-letter queue of the EventBridge targets.',
      'AwsSolutions-SQS3',
    );
    acknowledgeNag(
      this.deadLetterQueue,
      'This queue is itself the last stop: nothing consumes it to fail again (an operator inspects and redrives it), and Monitoring alarms on its first message.',
      'Serverless-SQSRedrivePolicy',
    );
    const targetOptions = {
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts,
      maxEventAge: Duration.hours(6),
    };

    this.scheduleRule = new events.Rule(this, 'DailySchedule', {
      description: 'Starts the daily cartflow batch run',
      schedule: events.Schedule.expression(props.scheduleExpression),
      targets: [
        new targets.SfnStateMachine(props.batchStateMachine, {
          ...targetOptions,
          // ResolveRun derives the business date (the UTC day before) from this instant.
          input: events.RuleTargetInput.fromObject({ time: events.EventField.time }),
        }),
      ],
    });

    this.catalogRule = new events.Rule(this, 'CatalogArrival', {
      description: `Starts the catalog refresh when a file lands under ${catalogPrefix}`,
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: { bucket: { name: [props.bucket.bucketName] }, object: { key: [{ prefix: catalogPrefix }] } },
      },
      targets: [new targets.SfnStateMachine(props.catalogStateMachine, targetOptions)],
    });
  }
}
