import { createHash } from 'node:crypto';
import { CfnDeletionPolicy, CustomResource, Duration, Stack } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import * as cr from 'aws-cdk-lib/custom-resources';
import {
  acknowledgeDeployTimeFunction,
  acknowledgeNag,
  DEPLOY_HELPER_MEMORY_MB,
  LAMBDA_BASIC_EXECUTION_FINDING,
  nagArnRef,
  type S3GrantKind,
} from '../nag';
import { Construct } from 'constructs';
import { RETRYABLE_ERRORS, SupersededRunError } from '../../lambdas/core/errors';
import { warehouseDdl, writerGrantStatements } from '../../lambdas/core/sql';
import {
  BATCH_STEPS,
  CATALOG_FILE_REJECTED_STATE,
  CATALOG_STEPS,
  QUALITY_GATE_ERROR,
  QUALITY_GATE_FAILED_STATE,
  SUPERSEDED_STATE,
  type BatchStateName,
  type HandlerEntry,
} from '../../lambdas/steps';
import { HANDLER_ENV, LAKE } from '../../lambdas/contract';
import { qualitySettingsOf, removalPolicyOf, sourceNetworkOf, type EnvironmentConfig } from '../config';
import type { DuckDbLayer } from './duckdb-layer';
import { grantAlertPublish } from './alerts';
import { SourceNetwork } from './network';
import {
  cartflowFunction,
  DEFAULT_HANDLERS_DIR,
  grantLake,
  POWERTOOLS_ENVIRONMENT,
  requireHandlerFile,
  type CartflowFunctionProps,
} from './lambda-function';
import type { Warehouse } from './warehouse';

/** Construct ids of the two state machines (local/synth-definitions.ts finds them by these). */
export const BATCH_STATE_MACHINE_ID = 'StateMachine';
export const CATALOG_STATE_MACHINE_ID = 'CatalogStateMachine';

/** The Lambda service's own transient errors, retried together with TransientError. */
const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

/**
 * How long the custom-resource Provider framework waits for its onEvent handler: its function's fixed
 * timeout (aws-cdk-lib custom-resources Provider, FRAMEWORK_HANDLER_TIMEOUT). It cannot be configured
 * without an isComplete handler (totalTimeout), which a synchronous step does not need.
 */
export const PROVIDER_FRAMEWORK_TIMEOUT_SECONDS = 15 * 60;

/** What the framework needs around the call: its log lines and the PUT of the answer to CloudFormation. */
export const PROVIDER_ANSWER_SECONDS = 60;

/**
 * ensure-warehouse's timeout: config.lambdaTimeoutSeconds, capped so that the deploy-time framework outlives
 * it and reports its error (or its timeout) to CloudFormation.
 */
export const ensureWarehouseTimeoutSeconds = (config: EnvironmentConfig): number =>
  Math.min(config.lambdaTimeoutSeconds, PROVIDER_FRAMEWORK_TIMEOUT_SECONDS - PROVIDER_ANSWER_SECONDS);

/** The steps that run DuckDB: they get the engine layer, memory and /tmp (cartflowFunction `engine`). */
export const ENGINE_ENTRIES: ReadonlySet<HandlerEntry> = new Set([
  'extract-orders',
  'extract-products',
  'transform',
  'validate',
  'merge-buckets',
]);

export interface BatchPipelineProps {
  readonly config: EnvironmentConfig;
  /** DuckDB's native binding, for the ENGINE_ENTRIES functions. */
  readonly engine: DuckDbLayer;
  /** The data lake bucket (lambdas/core/layout.ts decides the keys). */
  readonly bucket: s3.IBucket;
  readonly warehouse: Warehouse;
  /** Connection of the shop's PostgreSQL: JSON with host, port, dbname, username, password. */
  readonly sourceSecret: secretsmanager.ISecret;
  /** The alert topic (lib/constructs/alerts.ts): the notify step publishes run summaries to it. */
  readonly alertTopic: sns.ITopic;
  /**
   * Directory holding `<entry>.ts` for every entry of BATCH_STEPS.
   * @default lambdas/handlers of this repository
   */
  readonly handlersDir?: string;
}

/** The name of the batch state machine's alias that the daily schedule starts. */
export const BATCH_LIVE_ALIAS = 'live';

/** The daily batch workflow and the catalog refresh, one NodejsFunction per handler entry. */
export class BatchPipeline extends Construct {
  /** The batch state machine; started by its ARN, an execution runs the newest definition. */
  readonly stateMachine: sfn.StateMachine;
  /** The batch definition as this deploy published it: a new version whenever the definition changed. */
  readonly batchVersion: sfn.CfnStateMachineVersion;
  /** `live`: the version the daily schedule runs (config.batchLiveVersion, else the newest). */
  readonly liveAlias: sfn.CfnStateMachineAlias;
  /** The live alias as a state machine to start (the schedule's target). */
  readonly liveBatch: sfn.IStateMachine;
  readonly catalogStateMachine: sfn.StateMachine;
  readonly functions: Record<HandlerEntry, NodejsFunction>;
  /** EnsureWarehouse at deploy: no function that acts as the writer is created before it succeeds. */
  readonly warehouseSchema: CustomResource;
  private readonly config: EnvironmentConfig;

  constructor(scope: Construct, id: string, props: BatchPipelineProps) {
    super(scope, id);
    const { config, bucket, warehouse, sourceSecret } = props;
    this.config = config;
    const handlersDir = props.handlersDir ?? DEFAULT_HANDLERS_DIR;
    const entries = [...new Set([...Object.values(BATCH_STEPS), ...Object.values(CATALOG_STEPS)])];
    for (const entry of entries) {
      requireHandlerFile(
        'BatchPipeline',
        handlersDir,
        entry,
        'fix BATCH_STEPS or CATALOG_STEPS in lambdas/steps.ts',
      );
    }

    const environment: Record<string, string> = {
      [HANDLER_ENV.bucket]: bucket.bucketName,
      [HANDLER_ENV.sourceSecretArn]: sourceSecret.secretArn,
      ...warehouse.dataApiEnvironment(),
      [HANDLER_ENV.environment]: config.envName,
      [HANDLER_ENV.qualitySettings]: qualitySettingsOf(config),
      [HANDLER_ENV.extractChunkRows]: String(config.extractChunkRows),
      ...POWERTOOLS_ENVIRONMENT,
    };

    const functions = {} as Record<HandlerEntry, NodejsFunction>;
    for (const entry of entries) {
      const engine = ENGINE_ENTRIES.has(entry) ? props.engine : undefined;
      // ensure-warehouse is the DDL/grant step: the one function that acts as the warehouse admin.
      const own =
        entry === 'ensure-warehouse' ? { ...environment, ...warehouse.adminEnvironment() } : environment;
      const source = entry === 'extract-orders' ? this.sourceAccess() : undefined;
      functions[entry] = cartflowFunction(this, {
        config,
        handlersDir,
        entry,
        environment: { ...own, ...source?.environment },
        engine,
        vpc: source?.vpc,
        timeout:
          entry === 'ensure-warehouse' ? Duration.seconds(ensureWarehouseTimeoutSeconds(config)) : undefined,
      });
      acknowledgeNag(
        functions[entry],
        "Invoked only synchronously (RequestResponse) by Step Functions task states (ensure-warehouse also by the WarehouseSchema custom resource's Provider during deploys, where an error fails the deploy): Retry absorbs transient failures, and a failed execution reaches the run-failed handler (FailedRuns) through its status-change event: no asynchronous event to keep.",
        'Serverless-LambdaDLQ',
      );
    }
    this.functions = functions;

    // Least privilege: each step gets only the lake zones it reads and writes.
    const grant = (entry: HandlerEntry, kind: S3GrantKind, ...patterns: string[]) =>
      grantLake(functions[entry], bucket, kind, ...patterns);
    const all = (prefix: string) => `${prefix}*`;
    grant('extract-orders', 'readWrite', all(LAKE.raw));
    sourceSecret.grantRead(functions['extract-orders']);
    grant('extract-products', 'read', all(LAKE.landing));
    // It quarantines unreadable catalog rows; a catalog refresh also publishes the curated dim_product it loads,
    // replaces the current catalog, moves the files it merged from landing/catalog/ to the archive and those
    // that failed their gate to rejected/ with their report, and notifies about the latter.
    grant(
      'extract-products',
      'readWrite',
      all(LAKE.raw),
      all(`${LAKE.quarantine}products/`),
      all(`${LAKE.curated}dim_product/`),
      LAKE.catalogSnapshotKey,
      all(LAKE.catalogArchive),
      all(LAKE.catalogRejected),
    );
    grant('extract-products', 'delete', all(LAKE.catalogLanding));
    grant('transform', 'read', all(LAKE.raw));
    grant('transform', 'readWrite', all(LAKE.staged));
    grant('validate', 'read', all(LAKE.staged));
    grant('validate', 'readWrite', all(LAKE.curated), all(LAKE.quarantine), all(LAKE.quality));
    // merge-buckets reads the buckets' reports and parts, writes the day's, and deletes the parts it replaced.
    grant('merge-buckets', 'readWrite', all(LAKE.curated), all(LAKE.quarantine), all(LAKE.quality));
    // record-run writes the run's HTML report next to its quality JSON, with the first rows of the date's
    // quarantine (a failed run's: FailedRuns), and the datasets' freshness records the SLA check reads.
    grant('record-run', 'read', all(LAKE.quarantine));
    grant('record-run', 'readWrite', `${LAKE.quality}*.html`, all(LAKE.freshness));
    // resolve-run and record-run record the run, load-table stages, publish-date replaces, cleanup drops a
    // failed catalog refresh's stage table: all as the writer user. ensure-warehouse creates the schema,
    // grants the writer and drops expired stage tables.
    warehouse.grantAdmin(functions['ensure-warehouse']);
    for (const entry of ['resolve-run', 'load-table', 'publish-date', 'record-run', 'cleanup'] as const) {
      warehouse.grantDataApi(functions[entry]);
    }

    // The notify step publishes run summaries; extract-products the notice of catalog files it rejected.
    for (const entry of ['notify', 'extract-products'] as const) {
      grantAlertPublish(functions[entry], props.alertTopic);
      functions[entry].addEnvironment(HANDLER_ENV.topicArn, props.alertTopic.topicArn);
    }

    this.warehouseSchema = this.createWarehouseSchemaOnDeploy(functions['ensure-warehouse'], warehouse);
    this.stateMachine = this.buildBatchStateMachine();
    this.batchVersion = new sfn.CfnStateMachineVersion(this, 'BatchVersion', {
      stateMachineArn: this.stateMachine.stateMachineArn,
      // A changed definition has a new revision, which replaces this resource: a new version is published.
      stateMachineRevisionId: this.stateMachine.stateMachineRevisionId,
      description: 'The batch definition as a deploy published it',
    });
    // The replaced version stays: the alias may run it (a pinned batchLiveVersion), and a rollback pins it.
    // Deleting the stack deletes the state machine, and its versions with it.
    this.batchVersion.cfnOptions.updateReplacePolicy = CfnDeletionPolicy.RETAIN;
    this.batchVersion.cfnOptions.deletionPolicy = CfnDeletionPolicy.RETAIN;
    this.liveAlias = new sfn.CfnStateMachineAlias(this, 'BatchLiveAlias', {
      name: BATCH_LIVE_ALIAS,
      description: 'The batch version the daily schedule runs (config batchLiveVersion)',
      routingConfiguration: [
        {
          stateMachineVersionArn:
            config.batchLiveVersion === undefined
              ? this.batchVersion.attrArn
              : `${this.stateMachine.stateMachineArn}:${config.batchLiveVersion}`,
          weight: 100,
        },
      ],
    });
    // Ref of an alias is its ARN, which StartExecution takes as a state machine's.
    this.liveBatch = sfn.StateMachine.fromStateMachineArn(this, 'BatchLive', this.liveAlias.ref);
    this.catalogStateMachine = this.buildCatalogStateMachine();
  }

  /**
   * Runs EnsureWarehouse at deploy, whenever the warehouse DDL or the writer's grants change, before any
   * function that acts as the writer is created (Warehouse.writersAfter): the clickstream loader runs on its
   * own schedule as the writer user, which cannot create tables, possibly before any batch or catalog run.
   * The Provider framework invokes the function itself and fails the deploy with its error message (an
   * AwsCustomResource SDK call would take the error's HTTP 200 for success: aws/aws-cdk#20933).
   */
  private createWarehouseSchemaOnDeploy(ensure: NodejsFunction, warehouse: Warehouse): CustomResource {
    const { config } = this;
    const provider = new cr.Provider(this, 'WarehouseSchemaProvider', {
      onEventHandler: ensure,
      logGroup: new logs.LogGroup(this, 'WarehouseSchemaProviderLogs', {
        retention: config.logRetentionDays,
        removalPolicy: removalPolicyOf(config.removalPolicy),
      }),
    });
    acknowledgeNag(
      provider,
      'CDK custom-resource Provider framework function: basic logging, invoking our ensure-warehouse function (and its versions), on the runtime CDK pins.',
      LAMBDA_BASIC_EXECUTION_FINDING,
      `AwsSolutions-IAM5[Resource::${nagArnRef(ensure)}:*]`,
      'AwsSolutions-L1',
    );
    acknowledgeDeployTimeFunction(provider, 'The Provider framework function');
    // The Provider has no memory setting; the rule wants it explicit (Serverless-LambdaDefaultMemorySize).
    const framework = provider.node.findChild('framework-onEvent').node.defaultChild as lambda.CfnFunction;
    framework.memorySize = DEPLOY_HELPER_MEMORY_MB;
    const schema = new CustomResource(this, 'WarehouseSchema', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::WarehouseSchema',
      // A change of the DDL or of the grants runs the step again (an Update event).
      properties: {
        Schema: createHash('sha256')
          .update([...warehouseDdl('redshift'), ...writerGrantStatements(warehouse.writerUser)].join(';'))
          .digest('hex'),
      },
      // CloudFormation waits as long as the step may run, and the framework's answer.
      serviceTimeout: Duration.seconds(ensureWarehouseTimeoutSeconds(config) + PROVIDER_ANSWER_SECONDS),
    });
    schema.node.addDependency(warehouse);
    warehouse.writersAfter(schema);
    return schema;
  }

  /**
   * ExtractOrders' way to the shop database: Amazon's CA bundle, which Node.js 20+ runtimes no longer load
   * (RDS certificates chain to it), and the database's network when config names one (else outside any VPC).
   */
  private sourceAccess(): { environment: Record<string, string>; vpc?: CartflowFunctionProps['vpc'] } {
    const environment = { NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem' };
    const net = sourceNetworkOf(this.config);
    if (!net) return { environment };
    const source = new SourceNetwork(this, 'SourceNetwork', net);
    return {
      environment,
      vpc: {
        vpc: source?.vpc,
        subnets: source.subnets,
        securityGroups: [source.securityGroup],
        xrayReachable: source.xrayReachable,
      },
    };
  }

  private task(
    stateName: BatchStateName | keyof typeof CATALOG_STEPS,
    entry: HandlerEntry,
    options: {
      resultPath?: string;
      inputPath?: string;
      payload?: sfn.TaskInput;
      resultSelector?: Record<string, unknown>;
    } = {},
  ): tasks.LambdaInvoke {
    const { retry } = this.config;
    // payloadResponseOnly: the handler's return value itself lands at the ResultPath.
    const task = new tasks.LambdaInvoke(this, stateName, {
      lambdaFunction: this.functions[entry],
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      ...options,
    });
    task.addRetry({
      errors: [...RETRYABLE_ERRORS, ...LAMBDA_SERVICE_ERRORS],
      interval: Duration.seconds(retry.intervalSeconds),
      maxAttempts: retry.maxAttempts,
      backoffRate: retry.backoffRate,
      maxDelay: Duration.seconds(retry.maxDelaySeconds),
      jitterStrategy: sfn.JitterType.FULL,
    });
    return task;
  }

  private buildBatchStateMachine(): sfn.StateMachine {
    const step = (
      name: BatchStateName,
      options?: { resultPath?: string; resultSelector?: Record<string, unknown> },
    ) => this.task(name, BATCH_STEPS[name], options);
    // No Catch (but SupersededRunError's, a clean end): a Task that fails after its Retry fails the
    // execution at that state, so RedriveExecution resumes exactly there (in a Map, only the failed
    // iterations) with the staged data and stage tables the earlier states left. The execution's FAILED /
    // TIMED_OUT / ABORTED event reaches the run-failed handler (FailedRuns), which records, reports and
    // notifies; nothing is cleaned up before a redrive.
    // The notify step gets the state and `$$.Execution` (its ARN and name) to link the run in the alert.
    const notifyPayload = sfn.TaskInput.fromObject({
      'state.$': '$',
      'execution.$': '$$.Execution',
    });

    // EnsureWarehouse (the admin) ignores its input and adds nothing; ResolveRun then receives the execution
    // input (RunRequest) and the execution's name, the run id (ResolveRunInput): whoever started the
    // execution (the schedule names it itself), `retry <run id>` redrives it. The timeout bounds its claim
    // of the date (core/run-claim.ts).
    const ensureWarehouse = step('EnsureWarehouse', { resultPath: sfn.JsonPath.DISCARD });
    const resolveRun = this.task('ResolveRun', BATCH_STEPS.ResolveRun, {
      resultPath: '$.run',
      payload: sfn.TaskInput.fromObject({
        'request.$': '$',
        executionName: sfn.JsonPath.executionName,
        timeoutMinutes: this.config.slaMinutes,
      }),
    });
    const extract = new sfn.Parallel(this, 'Extract', { resultPath: '$.extract' })
      .branch(step('ExtractOrders'))
      .branch(step('ExtractProducts'));
    const transform = step('Transform', { resultPath: '$.transform' });
    const validate = step('Validate', { resultPath: '$.validation' });
    const { splitDay, mergeBuckets } = this.splitDayStates(step);
    const loadTables = new sfn.Map(this, 'LoadTables', {
      itemsPath: '$.validation.tables',
      itemSelector: { 'run.$': '$.run', 'item.$': '$$.Map.Item.Value' },
      maxConcurrency: this.config.loadMaxConcurrency,
      resultPath: '$.loads',
    }).itemProcessor(step('LoadTable'));
    // The Map only stages; this one transaction makes every table of the date visible at once.
    const publishDate = step('PublishDate', { resultPath: '$.publish' });
    const recordRun = step('RecordRun', { resultPath: '$.record' });
    const notifySuccess = this.task('NotifySuccess', BATCH_STEPS.NotifySuccess, {
      resultPath: '$.notify',
      payload: notifyPayload,
    });

    const qualityGate = new sfn.Choice(this, 'QualityGate')
      .when(sfn.Condition.booleanEquals('$.validation.passed', true), loadTables)
      // A redrive would fail here again: the date's data must change, then the date runs again.
      .otherwise(
        new sfn.Fail(this, QUALITY_GATE_FAILED_STATE, {
          error: QUALITY_GATE_ERROR,
          causePath: '$.validation.failureReason',
        }),
      );
    loadTables.next(publishDate).next(recordRun).next(notifySuccess).next(new sfn.Succeed(this, 'Succeeded'));
    // Another run of the date holds it: this one ends cleanly (SUCCEEDED: no failure rule, no alert).
    const superseded = new sfn.Succeed(this, SUPERSEDED_STATE, {
      comment: 'Another run of the business date holds it (ops.run_claim); the cause is at $.superseded',
    });
    for (const task of [resolveRun, publishDate])
      task.addCatch(superseded, { errors: [SupersededRunError.name], resultPath: '$.superseded' });

    const { volume } = this.config;
    const planBuckets = new sfn.Pass(this, 'PlanBuckets', {
      parameters: {
        buckets: sfn.JsonPath.arrayRange(0, volume.bucketCount - 1, 1),
        count: volume.bucketCount,
      },
      resultPath: '$.volume',
    });
    // Extract's first branch returns [orders, order_items] (extract-orders.ts), so [0][1] is the lines.
    const volumeChoice = new sfn.Choice(this, 'VolumeChoice')
      .when(
        sfn.Condition.numberGreaterThan('$.extract[0][1].rows', volume.bucketThresholdLines),
        planBuckets.next(splitDay).next(mergeBuckets).next(qualityGate),
      )
      .otherwise(transform.next(validate).next(qualityGate));
    const definition = ensureWarehouse.next(resolveRun).next(extract).next(volumeChoice);
    return this.createStateMachine(BATCH_STATE_MACHINE_ID, 'batch', definition);
  }

  /**
   * A day too big for one function: the Map runs Transform → Validate once per bucket of order_id's hash
   * (config.volume), then MergeBuckets makes the day's one ValidationResult at `$.validation`.
   */
  private splitDayStates(
    step: (
      name: BatchStateName,
      options?: { resultPath?: string; resultSelector?: Record<string, unknown> },
    ) => tasks.LambdaInvoke,
  ): { splitDay: sfn.Map; mergeBuckets: tasks.LambdaInvoke } {
    const { volume } = this.config;
    const splitDay = new sfn.Map(this, 'SplitDay', {
      itemsPath: '$.volume.buckets',
      itemSelector: {
        'run.$': '$.run',
        'extract.$': '$.extract',
        bucket: { 'index.$': '$$.Map.Item.Value', 'count.$': '$.volume.count' },
      },
      maxConcurrency: volume.maxConcurrency,
      resultPath: '$.buckets',
    }).itemProcessor(
      step('TransformBucket', { resultPath: '$.transform' }).next(
        // The iteration's output is its result alone (no ResultPath), keys and counts only (BucketValidation),
        // so the state stays small whatever the bucket count.
        step('ValidateBucket', {
          resultSelector: { 'reportKey.$': '$.reportKey', 'tables.$': '$.tables' },
        }),
      ),
    );
    const mergeBuckets = step('MergeBuckets', { resultPath: '$.validation' });
    return { splitDay, mergeBuckets };
  }

  private buildCatalogStateMachine(): sfn.StateMachine {
    // The execution fails with the failed step's own error and cause (the Catch put them at $.error), so
    // DescribeExecution, the status change event and `cartflow drop` say what happened, not where to look.
    const failed = new sfn.Fail(this, 'CatalogRefreshFailed', {
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    // Input: the arrivals of one debounce window as the Triggers' Pipe batches them (a JSON array, one
    // `{ time }` per S3 "Object Created" event); from here on the state is the run and their count alone,
    // so it keeps one size however many files arrived. The business date is the refresh's UTC start date.
    const start = new sfn.Pass(this, 'CatalogRun', {
      parameters: {
        run: {
          runId: sfn.JsonPath.executionName,
          businessDate: sfn.JsonPath.arrayGetItem(
            sfn.JsonPath.stringSplit(sfn.JsonPath.stringAt('$$.Execution.StartTime'), 'T'),
            0,
          ),
          startedAt: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
        },
        catalogArrivals: sfn.JsonPath.arrayLength(sfn.JsonPath.entirePayload),
      },
    });
    // A brand-new environment has no schema yet: the admin step makes it (one catalog query otherwise).
    const ensureWarehouse = this.task('PrepareWarehouse', CATALOG_STEPS.PrepareWarehouse, {
      resultPath: sfn.JsonPath.DISCARD,
    });
    // RefreshCatalog returns { run, item } for dim_product, or no item when nothing was pending.
    const refresh = this.task('RefreshCatalog', CATALOG_STEPS.RefreshCatalog, { resultPath: '$.refresh' });
    const load = this.task('LoadCatalog', CATALOG_STEPS.LoadCatalog, {
      inputPath: '$.refresh',
      resultPath: '$.load',
    });
    // LoadCatalog stages dim_product; PublishCatalog replaces it (one table, one transaction).
    const publish = this.task('PublishCatalog', CATALOG_STEPS.PublishCatalog, {
      inputPath: '$.refresh',
      resultPath: '$.publish',
    });
    // Failure path: drop the run's stage table (LoadCatalog may have made it), then fail either way.
    const cleanup = this.task('CleanupCatalog', CATALOG_STEPS.CleanupCatalog, { resultPath: '$.cleanup' });
    cleanup.addCatch(failed, { errors: ['States.ALL'], resultPath: '$.cleanupError' });
    cleanup.next(failed);
    for (const state of [ensureWarehouse, refresh, load, publish])
      state.addCatch(cleanup, { errors: ['States.ALL'], resultPath: '$.error' });
    // A file that failed its own gate was set aside (rejected/) while the others were merged and published:
    // the refresh then ends failed, its cause the notice naming each file, its checks and how to resubmit.
    const rejected = new sfn.Fail(this, CATALOG_FILE_REJECTED_STATE, {
      error: QUALITY_GATE_ERROR,
      causePath: '$.refresh.rejected.notice',
    });
    const anyRejected = sfn.Condition.isPresent('$.refresh.rejected');
    const published = new sfn.Choice(this, 'CatalogFilesRejected')
      .when(anyRejected, rejected)
      .otherwise(new sfn.Succeed(this, 'CatalogRefreshed'));
    // A refresh whose arrivals an earlier one already merged ends here, successfully.
    const pending = new sfn.Choice(this, 'CatalogPending')
      .when(sfn.Condition.isPresent('$.refresh.item'), load.next(publish).next(published))
      .when(anyRejected, rejected)
      .otherwise(new sfn.Succeed(this, 'NothingPending'));
    return this.createStateMachine(
      CATALOG_STATE_MACHINE_ID,
      'catalog',
      start.next(ensureWarehouse).next(refresh).next(pending),
    );
  }

  private createStateMachine(id: string, kind: string, definition: sfn.IChainable): sfn.StateMachine {
    const { config } = this;
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      // The vendedlogs prefix keeps CloudWatch Logs resource policies small.
      logGroupName: `/aws/vendedlogs/states/${Stack.of(this).stackName}-${kind}`,
      retention: config.logRetentionDays,
      removalPolicy: removalPolicyOf(config.removalPolicy),
    });
    const stateMachine = new sfn.StateMachine(this, id, {
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: Duration.minutes(config.slaMinutes),
      tracingEnabled: true,
      // Payloads carry keys and counts, not rows; prod still keeps them out of the logs.
      logs: {
        destination: logGroup,
        level: sfn.LogLevel.ALL,
        includeExecutionData: config.envName !== 'prod',
      },
    });
    acknowledgeNag(
      stateMachine,
      'CDK-generated: lambda:InvokeFunction on "<function>:*" covers versions and aliases of our own functions; X-Ray and CloudWatch Logs delivery APIs accept only Resource "*".',
      'AwsSolutions-IAM5[Resource::*]',
      ...Object.values(this.functions).map((fn) => `AwsSolutions-IAM5[Resource::${nagArnRef(fn)}:*]`),
    );
    return stateMachine;
  }
}
