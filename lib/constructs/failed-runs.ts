import { Duration, Stack, type CfnElement } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { HANDLER_ENV, LAKE } from '../../lambdas/contract';
import { FAILED_EXECUTION_STATUSES, FAILURE_HANDLERS } from '../../lambdas/steps';
import type { EnvironmentConfig } from '../config';
import { acknowledgeNag } from '../nag';
import { grantAlertPublish } from './alerts';
import {
  cartflowFunction,
  DEFAULT_HANDLERS_DIR,
  grantLake,
  POWERTOOLS_ENVIRONMENT,
  requireHandlerFile,
} from './lambda-function';
import type { Warehouse } from './warehouse';

export interface FailedRunsProps {
  /** The environment's validated config: function defaults, log retention, envName. */
  readonly config: EnvironmentConfig;
  /** The batch state machine whose failed, timed-out and aborted executions are handled. */
  readonly stateMachine: sfn.StateMachine;
  /** The lake bucket: the failed run's report goes next to its quality JSON. */
  readonly bucket: s3.IBucket;
  /** The warehouse the run is recorded in (ops.pipeline_run), as the writer user. */
  readonly warehouse: Warehouse;
  /** Where the failure notification goes. */
  readonly alertTopic: sns.ITopic;
  /** Where an event the rule could not deliver, or an invocation that failed every retry, is kept. */
  readonly deadLetterQueue: sqs.IQueue;
  /**
   * Times EventBridge retries delivering the event (and Lambda retries the asynchronous invocation).
   * @default 2
   */
  readonly retryAttempts?: number;
  /**
   * Directory holding the handler entries.
   * @default lambdas/handlers of this repository
   */
  readonly handlersDir?: string;
}

/**
 * The batch run's failure path, outside the state machine: an EventBridge rule on the state machine's
 * "Execution Status Change" to FAILED, TIMED_OUT or ABORTED invokes lambdas/handlers/run-failed.ts, which
 * records the run, writes its report and notifies. The state machine has no Catch, so a failed execution
 * stops at the failed state and RedriveExecution resumes from there; an execution timeout or abort, which
 * no Catch ever saw, is handled the same way.
 */
export class FailedRuns extends Construct {
  readonly function: NodejsFunction;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: FailedRunsProps) {
    super(scope, id);
    const retryAttempts = props.retryAttempts ?? 2;
    if (!Number.isInteger(retryAttempts) || retryAttempts < 0 || retryAttempts > 2) {
      throw new Error(
        `FailedRuns: retryAttempts ${retryAttempts} must be an integer from 0 to 2 (Lambda's asynchronous retries).`,
      );
    }
    const handlersDir = props.handlersDir ?? DEFAULT_HANDLERS_DIR;
    const entry = FAILURE_HANDLERS.RunFailed;
    requireHandlerFile('FailedRuns', handlersDir, entry, 'fix FAILURE_HANDLERS in lambdas/steps.ts');
    const { config, bucket, warehouse } = props;

    this.function = cartflowFunction(this, {
      config,
      handlersDir,
      entry,
      environment: {
        [HANDLER_ENV.bucket]: bucket.bucketName,
        ...warehouse.dataApiEnvironment(),
        [HANDLER_ENV.environment]: config.envName,
        [HANDLER_ENV.topicArn]: props.alertTopic.topicArn,
        ...POWERTOOLS_ENVIRONMENT,
      },
    });
    // The report samples the date's quarantine and lands next to the quality JSON.
    grantLake(this.function, bucket, 'read', `${LAKE.quarantine}*`);
    grantLake(this.function, bucket, 'readWrite', `${LAKE.quality}*.html`);
    warehouse.grantDataApi(this.function);
    grantAlertPublish(this.function, props.alertTopic);
    // Only this state machine's executions: by name, not by ARN token, so the function does not depend
    // on the state machine (which never references it either).
    const { partition, region, account } = Stack.of(this);
    const executions = `arn:${partition}:states:${region}:${account}:execution:${props.stateMachine.stateMachineName}:*`;
    this.function.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['states:GetExecutionHistory'], resources: [executions] }),
    );
    acknowledgeNag(
      this.function,
      "GetExecutionHistory of the batch state machine's executions only: their ARNs end in the execution name, unknown until it runs.",
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<${Stack.of(this).getLogicalId(props.stateMachine.node.defaultChild as CfnElement)}.Name>:*]`,
    );
    // An invocation that fails every retry is kept with the undeliverable events, which Monitoring alarms on.
    this.function.configureAsyncInvoke({
      retryAttempts,
      maxEventAge: Duration.hours(6),
      onFailure: new destinations.SqsDestination(props.deadLetterQueue),
    });
    acknowledgeNag(
      this.function,
      'Invoked asynchronously by EventBridge only: its on-failure destination (the same dead-letter queue as the rule target) keeps an event that failed every retry, and Monitoring alarms on that queue.',
      'Serverless-LambdaDLQ',
    );

    this.rule = new events.Rule(this, 'ExecutionFailed', {
      description: 'A batch execution failed, timed out or was aborted: record, report and notify',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: [...FAILED_EXECUTION_STATUSES],
          stateMachineArn: [props.stateMachine.stateMachineArn],
        },
      },
      targets: [
        new targets.LambdaFunction(this.function, {
          deadLetterQueue: props.deadLetterQueue,
          retryAttempts,
          maxEventAge: Duration.hours(6),
        }),
      ],
    });
  }
}
