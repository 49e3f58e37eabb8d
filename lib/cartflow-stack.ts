import { CfnOutput, Duration, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { acknowledgeNag } from './nag';
import type { Construct } from 'constructs';
import {
  catalogDebounceSecondsOf,
  DEFAULT_SLA_CHECK_MINUTES,
  freshnessRulesOf,
  removalPolicyOf,
  validateConfig,
  type EnvironmentConfig,
} from './config';
import { Alerts } from './constructs/alerts';
import { BatchPipeline } from './constructs/batch-pipeline';
import { DataLake } from './constructs/data-lake';
import { DuckDbLayer } from './constructs/duckdb-layer';
import { Monitoring } from './constructs/monitoring';
import { Network } from './constructs/network';
import { SlaCheck } from './constructs/sla-check';
import { StreamIngest } from './constructs/stream-ingest';
import { Triggers } from './constructs/triggers';
import { FailedRuns } from './constructs/failed-runs';
import { Warehouse } from './constructs/warehouse';
import type { Schedule } from 'aws-cdk-lib/aws-scheduler';
import { FAILURE_HANDLERS, STREAM_HANDLERS } from '../lambdas/steps';
import { LAKE } from '../lambdas/contract';

export interface CartflowStackProps extends StackProps {
  /** The environment's validated config (lib/config.ts `loadConfig`). */
  readonly config: EnvironmentConfig;
  /**
   * Directory of the handler entries; tests may point it elsewhere.
   * @default lambdas/handlers of this repository
   */
  readonly handlersDir?: string;
}

/** One cartflow environment. Environment-agnostic: synth needs no account, region or lookups. */
export class CartflowStack extends Stack {
  readonly network: Network;
  readonly dataLake: DataLake;
  /** The alert topic, created before everything that notifies it. */
  readonly alerts: Alerts;
  readonly warehouse: Warehouse;
  readonly pipeline: BatchPipeline;
  readonly monitoring: Monitoring;
  readonly triggers: Triggers;
  /** The warehouse's scheduled snapshot (recovery.snapshots). */
  readonly snapshotSchedule: Schedule;
  /** The batch run's failure handling: the rule on its failed executions and the run-failed function. */
  readonly failedRuns: FailedRuns;
  /** The clickstream ingest; undefined when `config.stream.enabled` is false. */
  readonly stream?: StreamIngest;
  readonly duckdb: DuckDbLayer;
  /** The scheduled freshness SLA check; undefined when no dataset has a rule. */
  readonly slaCheck?: SlaCheck;

  constructor(scope: Construct, id: string, props: CartflowStackProps) {
    super(scope, id, props);
    const { config } = props;
    validateConfig(config);

    this.dataLake = new DataLake(this, 'DataLake', {
      lifecycle: config.lifecycle,
      removalPolicy: config.removalPolicy,
      replication: config.recovery.lakeReplication,
    });
    const { bucket, key } = this.dataLake;

    // First: the notify step, the stream's on-failure rule and the alarms all receive this topic.
    this.alerts = new Alerts(this, 'Alerts', { envName: config.envName, key, alerts: config.alerts });
    const alertTopic = this.alerts.topic;

    // The operator fills host/port/dbname/username/password after deploy; the template only holds the shape.
    const sourceSecret = new secretsmanager.Secret(this, 'SourceDatabaseSecret', {
      description: `cartflow ${config.envName}: connection of the shop's PostgreSQL (fill in host and password)`,
      encryptionKey: key,
      generateSecretString: {
        secretStringTemplate: JSON.stringify({
          host: '',
          port: 5432,
          dbname: 'ecommerce_db',
          username: 'cartflow_reader',
        }),
        generateStringKey: 'password',
        excludePunctuation: true,
      },
      removalPolicy: removalPolicyOf(config.removalPolicy),
    });
    acknowledgeNag(
      sourceSecret,
      'Credentials of the shop database, which cartflow does not own: the shop DBA rotates them and updates the secret.',
      'AwsSolutions-SMG4',
    );

    // One VPC for the environment: the warehouse and the stream ingest share its private subnets.
    this.network = new Network(this, 'Network', {
      flowLogRetention: config.logRetentionDays,
      removalPolicy: config.removalPolicy,
      xrayEndpoint: config.xrayVpcEndpoint ?? false,
      availabilityZones: config.availabilityZones,
    });
    const { vpc, privateSubnets } = this.network;

    this.warehouse = new Warehouse(this, 'Warehouse', {
      name: `cartflow-${config.envName}`,
      bucket,
      key,
      vpc,
      subnets: privateSubnets,
      databaseName: config.redshift.databaseName,
      baseCapacityRpu: config.redshift.baseCapacityRpu,
      removalPolicy: config.removalPolicy,
      snapshotCopy: config.recovery.snapshots.copy,
    });
    // A shadow run (`cartflow compare --env`) loads its own curated files, under shadow/<run id>/curated/.
    this.warehouse.allowCopyFrom(bucket, `${LAKE.shadow}*/${LAKE.curated}`);

    // One layer with DuckDB's native binding, shared by every function that runs the engine.
    this.duckdb = new DuckDbLayer(this, 'DuckDb');

    this.pipeline = new BatchPipeline(this, 'Pipeline', {
      config,
      engine: this.duckdb,
      bucket,
      warehouse: this.warehouse,
      sourceSecret,
      alertTopic,
      handlersDir: props.handlersDir,
    });

    this.triggers = new Triggers(this, 'Triggers', {
      // The live alias: a deploy publishes a new version, the schedule runs it once promoted.
      batchStateMachine: this.pipeline.liveBatch,
      catalogStateMachine: this.pipeline.catalogStateMachine,
      bucket,
      scheduleExpression: config.scheduleCron,
      catalogDebounceSeconds: catalogDebounceSecondsOf(config),
    });
    // A snapshot Scheduler could not take lands in the trigger DLQ, whose first message alarms.
    this.snapshotSchedule = this.warehouse.scheduleSnapshots(
      config.recovery.snapshots,
      this.triggers.deadLetterQueue,
    );

    this.failedRuns = new FailedRuns(this, 'FailedRuns', {
      config,
      stateMachine: this.pipeline.stateMachine,
      bucket,
      warehouse: this.warehouse,
      alertTopic,
      deadLetterQueue: this.triggers.deadLetterQueue,
      handlersDir: props.handlersDir,
    });

    // Off: no MSK cluster, mapping, load-events schedule or stream alarms (and none of their cost).
    this.stream = config.stream.enabled
      ? new StreamIngest(this, 'Stream', {
          config,
          engine: this.duckdb,
          vpc,
          subnets: privateSubnets,
          xrayReachable: this.network.xrayReachable,
          bucket,
          warehouse: this.warehouse,
          alertTopic,
          deadLetterQueue: this.triggers.deadLetterQueue,
          handlersDir: props.handlersDir,
        })
      : undefined;

    const rules = freshnessRulesOf(config);
    const slaInterval = Duration.minutes(config.sla.checkIntervalMinutes ?? DEFAULT_SLA_CHECK_MINUTES);
    this.slaCheck =
      Object.keys(rules).length > 0
        ? new SlaCheck(this, 'SlaCheck', {
            config,
            rules,
            interval: slaInterval,
            bucket,
            deadLetterQueue: this.triggers.deadLetterQueue,
            handlersDir: props.handlersDir,
          })
        : undefined;

    const stream = this.stream;
    this.monitoring = new Monitoring(this, 'Monitoring', {
      envName: config.envName,
      topic: alertTopic,
      slaMinutes: config.slaMinutes,
      alarms: config.alarms,
      batch: {
        stateMachine: this.pipeline.stateMachine,
        catalogStateMachine: this.pipeline.catalogStateMachine,
        // run-failed is a batch step too: its errors and throttles alarm with the others.
        functions: { ...this.pipeline.functions, [FAILURE_HANDLERS.RunFailed]: this.failedRuns.function },
      },
      deadLetterQueue: this.triggers.deadLetterQueue,
      freshness: this.slaCheck && {
        limits: this.slaCheck.limits,
        period: slaInterval,
        breachedChecks: config.sla.breachedChecks,
        checkFunction: this.slaCheck.function,
      },
      stream: stream && {
        consumer: stream.streamFunction,
        functions: {
          [STREAM_HANDLERS.StreamToParquet]: stream.streamFunction,
          [STREAM_HANDLERS.LoadEvents]: stream.loadEventsFunction,
        },
        onFailureRule: stream.onFailureRule,
        onFailurePrefix: stream.onFailurePrefix,
        offsetLagThreshold: config.stream.offsetLagThreshold,
      },
    });

    Tags.of(this).add('project', 'cartflow');
    Tags.of(this).add('env', config.envName);

    new CfnOutput(this, 'LakeBucketName', { value: bucket.bucketName });
    new CfnOutput(this, 'BatchStateMachineArn', { value: this.pipeline.stateMachine.stateMachineArn });
    // The promote step (docs/runbooks/promote-batch.md) reads both: what runs daily, what this deploy published.
    new CfnOutput(this, 'BatchLiveAliasArn', { value: this.pipeline.liveAlias.ref });
    new CfnOutput(this, 'BatchVersionArn', { value: this.pipeline.batchVersion.attrArn });
    new CfnOutput(this, 'CatalogStateMachineArn', {
      value: this.pipeline.catalogStateMachine.stateMachineArn,
    });
    new CfnOutput(this, 'WorkgroupName', { value: this.warehouse.workgroupName });
    new CfnOutput(this, 'AlertTopicArn', { value: alertTopic.topicArn });
    new CfnOutput(this, 'SourceDatabaseSecretArn', { value: sourceSecret.secretArn });
    new CfnOutput(this, 'WarehouseAdminSecretArn', { value: this.warehouse.adminSecretArn });
    // `cartflow rebuild --env`: the role its COPY of the lake's curated files assumes.
    new CfnOutput(this, 'CopyRoleArn', { value: this.warehouse.copyRole.roleArn });
    if (this.stream) {
      new CfnOutput(this, 'KafkaClusterArn', { value: this.stream.clusterArn });
      new CfnOutput(this, 'KafkaTopic', { value: this.stream.topicName });
      // `cartflow status --env`: the FunctionName dimension of the mapping's OffsetLag.
      new CfnOutput(this, 'StreamFunctionName', { value: this.stream.streamFunction.functionName });
    }
  }
}
