import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as pipes from 'aws-cdk-lib/aws-pipes';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { acknowledgeNag } from '../nag';
import { Construct } from 'constructs';
import { LAKE } from '../../lambdas/contract';
import { DEFAULT_CATALOG_DEBOUNCE_SECONDS } from '../config';

export interface TriggersProps {
  /** Started daily by the schedule with `{ "time": <event time> }`. */
  readonly batchStateMachine: sfn.IStateMachine;
  /**
   * Started once per debounce window of catalog arrivals, with the window's S3 "Object Created" events
   * as a JSON array of `{ time }`.
   */
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
   * Catalog files landing within this many seconds of the first start one refresh (config
   * catalogDebounceSeconds): the Pipe's batching window, 1 to 300.
   * @default DEFAULT_CATALOG_DEBOUNCE_SECONDS (lib/config.ts)
   */
  readonly catalogDebounceSeconds?: number;
  /**
   * Times EventBridge retries a failed StartExecution before the event goes to the DLQ.
   * @default 3
   */
  readonly retryAttempts?: number;
}

/**
 * Most arrivals one refresh takes; more in one window start another. Each is a `{"time":"…Z"}` record of
 * 31 characters in the execution input, which Step Functions caps at 262,144: 5,000 fit with room.
 */
export const ARRIVALS_PER_REFRESH = 5_000;

/**
 * EventBridge rules that start the pipelines; undeliverable events land in an encrypted DLQ.
 * Catalog arrivals are debounced: the arrival rule queues each object-created event, and an EventBridge
 * Pipe reads the queue with a batching window, starting one catalog refresh per window of arrivals.
 */
export class Triggers extends Construct {
  readonly deadLetterQueue: sqs.Queue;
  readonly scheduleRule: events.Rule;
  readonly catalogRule: events.Rule;
  /** The catalog arrivals waiting for their debounce window to close. */
  readonly catalogArrivals: sqs.Queue;
  readonly catalogPipe: pipes.CfnPipe;

  constructor(scope: Construct, id: string, props: TriggersProps) {
    super(scope, id);
    const catalogPrefix = props.catalogPrefix ?? LAKE.catalogLanding;
    const retryAttempts = props.retryAttempts ?? 3;
    const debounceSeconds = props.catalogDebounceSeconds ?? DEFAULT_CATALOG_DEBOUNCE_SECONDS;
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
    if (!Number.isInteger(debounceSeconds) || debounceSeconds < 1 || debounceSeconds > 300) {
      throw new Error(
        `Triggers: catalogDebounceSeconds ${debounceSeconds} must be an integer from 1 to 300 (the Pipe's MaximumBatchingWindowInSeconds); set config catalogDebounceSeconds.`,
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

    this.catalogArrivals = new sqs.Queue(this, 'CatalogArrivals', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // The Pipe holds a window's messages in flight until it starts the refresh: the window plus a margin.
      visibilityTimeout: Duration.seconds(debounceSeconds + 60),
      retentionPeriod: Duration.days(4),
      // A batch the Pipe cannot start a refresh for is retried, then kept with the undeliverable events.
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: retryAttempts + 1 },
    });
    this.catalogRule = new events.Rule(this, 'CatalogArrival', {
      description: `Queues each file landing under ${catalogPrefix} for the debounced catalog refresh`,
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: { bucket: { name: [props.bucket.bucketName] }, object: { key: [{ prefix: catalogPrefix }] } },
      },
      targets: [new targets.SqsQueue(this.catalogArrivals, targetOptions)],
    });
    this.catalogPipe = this.debouncePipe(props.catalogStateMachine, debounceSeconds);
  }

  /**
   * The debounce: the Pipe polls the arrivals queue and waits up to `seconds` from the first message of a
   * batch (or ARRIVALS_PER_REFRESH messages), then starts ONE execution with the batch as its input. A
   * Standard workflow takes FIRE_AND_FORGET only; a failed StartExecution leaves the batch in the queue.
   */
  private debouncePipe(stateMachine: sfn.IStateMachine, seconds: number): pipes.CfnPipe {
    const role = new iam.Role(this, 'CatalogPipeRole', {
      assumedBy: new iam.ServicePrincipal('pipes.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: 'Reads catalog arrivals and starts the catalog refresh',
    });
    this.catalogArrivals.grantConsumeMessages(role);
    stateMachine.grantStartExecution(role);
    return new pipes.CfnPipe(this, 'CatalogDebounce', {
      description: `One catalog refresh per ${seconds} s window of arrivals`,
      roleArn: role.roleArn,
      source: this.catalogArrivals.queueArn,
      sourceParameters: {
        sqsQueueParameters: { batchSize: ARRIVALS_PER_REFRESH, maximumBatchingWindowInSeconds: seconds },
      },
      target: stateMachine.stateMachineArn,
      targetParameters: {
        stepFunctionStateMachineParameters: { invocationType: 'FIRE_AND_FORGET' },
        // Per message, not per batch: the S3 event's time (the SQS body is the EventBridge event, parsed).
        inputTemplate: '{"time": "<$.body.time>"}',
      },
    });
  }
}
