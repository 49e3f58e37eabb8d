import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { HANDLER_ENV, LAKE } from '../../lambdas/contract';
import {
  FRESHNESS_DATASETS,
  freshnessRulesProblem,
  limitMinutes,
  type FreshnessDataset,
  type FreshnessRules,
} from '../../lambdas/core/freshness';
import { MONITORING_HANDLERS } from '../../lambdas/steps';
import type { EnvironmentConfig } from '../config';
import { acknowledgeNag } from '../nag';
import {
  cartflowFunction,
  DEFAULT_HANDLERS_DIR,
  grantLake,
  POWERTOOLS_ENVIRONMENT,
  requireHandlerFile,
} from './lambda-function';

/** The SLA check reads one small freshness record per dataset from the lake: a minute is plenty. */
const CHECK_TIMEOUT = Duration.seconds(60);
/** It holds no data: the smallest memory that starts Node and the SDK quickly. */
const CHECK_MEMORY_MB = 256;

export interface SlaCheckProps {
  /** The environment's validated config: function defaults, log retention, envName. */
  readonly config: EnvironmentConfig;
  /** The rules to measure (lib/config.ts freshnessRulesOf): one DataAgeMinutes per dataset with a rule. */
  readonly rules: FreshnessRules;
  /** How often the check runs; the period of the freshness alarms. Whole minutes, 1 to 60. */
  readonly interval: Duration;
  /**
   * The lake bucket: the check reads only its freshness records (LAKE.freshness). It gets no warehouse
   * access at all: a timer that queried Redshift Serverless would wake it (and bill its 60-second minimum)
   * every `interval`.
   */
  readonly bucket: s3.IBucket;
  /**
   * Where EventBridge puts a schedule event it could not deliver.
   * @default no dead-letter queue
   */
  readonly deadLetterQueue?: sqs.IQueue;
  /**
   * Directory holding the handler entries.
   * @default lambdas/handlers of this repository
   */
  readonly handlersDir?: string;
}

/**
 * The scheduled freshness SLA check (lambdas/handlers/sla-check.ts): every `interval`, it measures each
 * dataset's age from the lake's freshness records (written by record-run and load-events) with the code
 * `cartflow status` uses and publishes DataAgeMinutes per dataset, which
 * Monitoring alarms on. Exposes each dataset's limit, so the alarms and the check share one number.
 */
export class SlaCheck extends Construct {
  readonly function: NodejsFunction;
  readonly schedule: events.Rule;
  /** Dataset → the age (minutes) its rule allows: its alarm threshold. */
  readonly limits: Readonly<Partial<Record<FreshnessDataset, number>>>;

  constructor(scope: Construct, id: string, props: SlaCheckProps) {
    super(scope, id);
    const problem = freshnessRulesProblem(props.rules);
    if (problem) {
      throw new Error(
        `SlaCheck: rule ${problem.field || 'rules'} is ${JSON.stringify(problem.value)}; allowed: ${problem.allowed}.`,
      );
    }
    const minutes = props.interval.toMinutes({ integral: false });
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 60) {
      throw new Error(`SlaCheck: interval must be whole minutes from 1 to 60, got ${minutes} minutes.`);
    }
    this.limits = Object.fromEntries(
      FRESHNESS_DATASETS.flatMap((d) => {
        const rule = props.rules[d];
        return rule ? [[d, limitMinutes(rule)]] : [];
      }),
    );
    const handlersDir = props.handlersDir ?? DEFAULT_HANDLERS_DIR;
    const entry = MONITORING_HANDLERS.SlaCheck;
    requireHandlerFile('SlaCheck', handlersDir, entry, 'fix MONITORING_HANDLERS in lambdas/steps.ts');

    this.function = cartflowFunction(this, {
      config: props.config,
      handlersDir,
      entry,
      memorySize: CHECK_MEMORY_MB,
      timeout: CHECK_TIMEOUT,
      environment: {
        [HANDLER_ENV.bucket]: props.bucket.bucketName,
        [HANDLER_ENV.environment]: props.config.envName,
        [HANDLER_ENV.slaRules]: JSON.stringify(props.rules),
        ...POWERTOOLS_ENVIRONMENT,
      },
      // None by default (a new account's quota admits no reservation); two overlapping checks would
      // only publish the same measurement twice.
      reservedConcurrentExecutions: props.config.reservedConcurrency?.slaCheck,
    });
    grantLake(this.function, props.bucket, 'read', `${LAKE.freshness}*`);
    // The next check is the retry: a late one would publish an age for a moment already past.
    this.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: props.interval });
    acknowledgeNag(
      this.function,
      'A failed check needs no dead-letter record: the next scheduled check measures again, the missing DataAgeMinutes datapoints breach the freshness alarms, and the Errors alarm reports the failure.',
      'Serverless-LambdaDLQ',
    );
    acknowledgeNag(
      this.function.node.findChild('EventInvokeConfig'),
      'No on-failure destination on purpose: the next scheduled check is the retry, and the Errors alarm reports the failure.',
      'Serverless-LambdaAsyncFailureDestination',
    );

    this.schedule = new events.Rule(this, 'Schedule', {
      description: `Measures each dataset's freshness against its SLA every ${minutes} minutes`,
      schedule: events.Schedule.rate(props.interval),
      targets: [
        new targets.LambdaFunction(this.function, {
          retryAttempts: 2,
          maxEventAge: props.interval,
          deadLetterQueue: props.deadLetterQueue,
        }),
      ],
    });
  }
}
