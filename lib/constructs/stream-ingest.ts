import { Arn, ArnFormat, CustomResource, Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { ManagedKafkaEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as msk from 'aws-cdk-lib/aws-msk';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { STREAM_HANDLERS } from '../../lambdas/steps';
import { ARRIVAL_CLOCK_MARGIN_SECONDS, HANDLER_ENV, LAKE } from '../../lambdas/contract';
import { removalPolicyOf, type EnvironmentConfig } from '../config';
import {
  acknowledgeDeployTimeFunction,
  acknowledgeNag,
  DEPLOY_HELPER_MEMORY_MB,
  LAMBDA_BASIC_EXECUTION_FINDING,
  nagArnRef,
} from '../nag';
import type { DuckDbLayer } from './duckdb-layer';
import {
  cartflowFunction,
  DEFAULT_HANDLERS_DIR,
  grantLake,
  POWERTOOLS_ENVIRONMENT,
  requireHandlerFile,
} from './lambda-function';
import type { Warehouse } from './warehouse';

/** The port of MSK's SASL/IAM (TLS) listener. */
export const MSK_IAM_PORT = 9098;

/**
 * The longest function timeout an MSK event-source mapping works with: 14 minutes (Lambda's 15-minute
 * maximum is not allowed for a function behind a Kafka mapping, which must return within the poller's
 * session). stream-to-parquet's timeout is capped here.
 */
export const MSK_MAPPING_MAX_TIMEOUT_SECONDS = 14 * 60;

/**
 * What load-events' timeout leaves before the next scheduled run: EventBridge delivers a rate schedule
 * with some seconds of delay, and a run still going when the next one arrives would make it wait on the
 * load mutex (or, with a reserved concurrency of 1, be throttled).
 */
export const SCHEDULE_JITTER_SECONDS = 30;

export interface StreamIngestProps {
  /** The environment's validated config; `stream` holds the topic, mapping and schedule settings. */
  readonly config: EnvironmentConfig;
  /** DuckDB's native binding: stream-to-parquet and load-events run the engine. */
  readonly engine: DuckDbLayer;
  /** The environment's VPC (lib/constructs/network.ts): the cluster and the VPC-attached functions live in it. */
  readonly vpc: ec2.IVpc;
  /**
   * Subnets of the cluster and the functions: two AZs at least, private.
   * @default the VPC's private isolated subnets
   */
  readonly subnets?: ec2.SubnetSelection;
  /** The data lake: Parquet under events/, bad records under quarantine/clickstream/, on-failure batches. */
  readonly bucket: s3.IBucket;
  /** load-events loads events/ into Redshift through the Data API. */
  readonly warehouse: Warehouse;
  /** The alert topic (lib/constructs/alerts.ts): each on-failure object's key is sent to it. */
  readonly alertTopic: sns.ITopic;
  /**
   * MSK Serverless cluster name: 1-64 letters, digits and '-', starting with a letter.
   * @default `cartflow-<envName>`
   */
  readonly clusterName?: string;
  /**
   * Kafka consumer group of the event-source mapping (scopes the group permissions to one ARN).
   * @default `cartflow-<envName>-stream-to-parquet`
   */
  readonly consumerGroupId?: string;
  /**
   * Dead-letter queue for schedule events EventBridge could not deliver to load-events.
   * @default no DLQ
   */
  readonly deadLetterQueue?: sqs.IQueue;
  /**
   * Whether the subnets reach the X-Ray API (lib/constructs/network.ts `xrayReachable`); the VPC-attached
   * functions are traced only then.
   * @default false
   */
  readonly xrayReachable?: boolean;
  /**
   * Directory holding the stream handler entries (lambdas/steps.ts STREAM_HANDLERS).
   * @default lambdas/handlers of this repository
   */
  readonly handlersDir?: string;
}

/** load-events' timeout: within config.lambdaTimeoutSeconds, ending before the next scheduled run. */
export function loadEventsTimeoutSeconds(config: EnvironmentConfig): number {
  const intervalSeconds = config.stream.eventsLoadIntervalMinutes * 60;
  return Math.min(config.lambdaTimeoutSeconds, intervalSeconds - SCHEDULE_JITTER_SECONDS);
}

/**
 * The ESM's S3 on-failure destination, least-privilege. CDK's S3OnFailureDestination (it exists in 2.276)
 * grants read/write on the whole bucket, i.e. on every zone of the lake; Lambda writes these objects with
 * the function's role under LAKE.streamOnFailure only, and needs s3:PutObject there plus s3:ListBucket.
 */
class LakeOnFailureDestination implements lambda.IEventSourceDlq {
  constructor(private readonly bucket: s3.IBucket) {}

  bind(_target: lambda.IEventSourceMapping, targetHandler: lambda.IFunction): lambda.DlqDestinationConfig {
    this.bucket.grantPut(targetHandler, `${LAKE.streamOnFailure}*`);
    targetHandler.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${LAKE.streamOnFailure}*`] } },
      }),
    );
    return { destination: this.bucket.bucketArn };
  }
}

/**
 * Clickstream ingest: MSK Serverless (IAM auth, TLS) in the private subnets, the topic (custom resource),
 * the event-source mapping into stream-to-parquet (Parquet under events/, on-failure batches in the lake)
 * and the scheduled load-events micro-batch into Redshift.
 */
export class StreamIngest extends Construct {
  readonly cluster: msk.CfnServerlessCluster;
  readonly clusterArn: string;
  readonly topicName: string;
  readonly topicArn: string;
  readonly consumerGroupId: string;
  /** Attached to the cluster; the mapping's pollers use it too. */
  readonly clusterSecurityGroup: ec2.SecurityGroup;
  /** Attached to the functions that talk to the brokers. */
  readonly clientSecurityGroup: ec2.SecurityGroup;
  readonly streamFunction: NodejsFunction;
  readonly loadEventsFunction: NodejsFunction;
  readonly eventSourceMapping: lambda.EventSourceMapping;
  readonly loadSchedule: events.Rule;
  /** PrivateLink endpoint of the MSK control-plane API (create-topic calls GetBootstrapBrokers through it). */
  readonly kafkaApiEndpoint: ec2.InterfaceVpcEndpoint;
  /** Matches every object Lambda writes to the on-failure prefix (Monitoring notifies and alarms on it). */
  readonly onFailureRule: events.Rule;
  readonly onFailurePrefix = LAKE.streamOnFailure;

  constructor(scope: Construct, id: string, props: StreamIngestProps) {
    super(scope, id);
    const { config, bucket, warehouse, vpc } = props;
    const { stream } = config;
    const handlersDir = props.handlersDir ?? DEFAULT_HANDLERS_DIR;
    const clusterName = props.clusterName ?? `cartflow-${config.envName}`;
    const consumerGroupId = props.consumerGroupId ?? `cartflow-${config.envName}-stream-to-parquet`;
    const subnets = props.subnets ?? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
    if (!/^[a-zA-Z][a-zA-Z0-9-]{0,63}$/.test(clusterName)) {
      throw new Error(
        `StreamIngest: clusterName "${clusterName}" must be 1-64 letters, digits or '-', starting with a letter.`,
      );
    }
    if (!/^[a-zA-Z0-9-/*:_+=.@]{1,200}$/.test(consumerGroupId)) {
      throw new Error(
        `StreamIngest: consumerGroupId "${consumerGroupId}" must be 1-200 characters of a-z A-Z 0-9 - / * : _ + = . @`,
      );
    }
    for (const entry of Object.values(STREAM_HANDLERS)) {
      requireHandlerFile('StreamIngest', handlersDir, entry, 'fix STREAM_HANDLERS in lambdas/steps.ts');
    }
    const subnetIds = vpc.selectSubnets(subnets).subnetIds;
    this.topicName = stream.topic;
    this.consumerGroupId = consumerGroupId;

    // --- network: 9098 reaches the brokers only from the client functions and the mapping's pollers.
    this.clientSecurityGroup = new ec2.SecurityGroup(this, 'ClientSecurityGroup', {
      vpc,
      description: 'cartflow functions that connect to the MSK brokers',
      allowAllOutbound: true,
    });
    this.clusterSecurityGroup = new ec2.SecurityGroup(this, 'ClusterSecurityGroup', {
      vpc,
      description: 'cartflow MSK Serverless cluster (SASL/IAM on 9098)',
      allowAllOutbound: true,
    });
    this.clusterSecurityGroup.addIngressRule(
      this.clientSecurityGroup,
      ec2.Port.tcp(MSK_IAM_PORT),
      'Kafka clients: stream and topic functions',
    );
    // The event-source mapping polls from network interfaces in the cluster's subnets with the cluster's
    // security groups (not the function's), so the group must admit itself on the broker port.
    this.clusterSecurityGroup.addIngressRule(
      this.clusterSecurityGroup,
      ec2.Port.tcp(MSK_IAM_PORT),
      'Lambda event-source mapping pollers',
    );
    // create-topic calls kafka:GetBootstrapBrokers; with no NAT, the MSK API is reached through PrivateLink.
    const endpointSecurityGroup = new ec2.SecurityGroup(this, 'KafkaApiEndpointSecurityGroup', {
      vpc,
      description: 'MSK control-plane API endpoint, HTTPS from the Kafka client functions',
      allowAllOutbound: false,
    });
    endpointSecurityGroup.addIngressRule(this.clientSecurityGroup, ec2.Port.tcp(443), 'MSK API from clients');
    this.kafkaApiEndpoint = vpc.addInterfaceEndpoint('KafkaApiEndpoint', {
      service: ec2.InterfaceVpcEndpointAwsService.KAFKA,
      subnets,
      securityGroups: [endpointSecurityGroup],
      open: false,
      privateDnsEnabled: true,
    });

    // --- the cluster: MSK Serverless is TLS-only; IAM is the only client authentication.
    this.cluster = new msk.CfnServerlessCluster(this, 'Cluster', {
      clusterName,
      clientAuthentication: { sasl: { iam: { enabled: true } } },
      vpcConfigs: [{ subnetIds, securityGroups: [this.clusterSecurityGroup.securityGroupId] }],
    });
    this.cluster.applyRemovalPolicy(removalPolicyOf(config.removalPolicy));
    this.clusterArn = this.cluster.attrArn;
    // arn:<p>:kafka:<r>:<a>:cluster/<name>/<uuid> → topic/<name>/<uuid>/<topic>, group/<name>/<uuid>/<group>
    const clusterUuid = Fn.select(2, Fn.split('/', this.clusterArn));
    const kafkaArn = (resource: 'topic' | 'group', name: string) =>
      Arn.format(
        {
          service: 'kafka',
          resource,
          resourceName: `${clusterName}/${clusterUuid}/${name}`,
          arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
        },
        Stack.of(this),
      );
    this.topicArn = kafkaArn('topic', stream.topic);
    const groupArn = kafkaArn('group', consumerGroupId);

    const vpcPlacement = {
      vpc,
      subnets,
      securityGroups: [this.clientSecurityGroup],
      xrayReachable: props.xrayReachable ?? false,
    };

    // --- the topic: created (or widened) on deploy, kept on delete.
    const createTopic = cartflowFunction(this, {
      config,
      handlersDir,
      entry: STREAM_HANDLERS.CreateTopic,
      timeout: Duration.minutes(2),
      memorySize: 256,
      vpc: vpcPlacement,
    });
    acknowledgeNag(
      createTopic,
      'Invoked only synchronously, by the custom-resource Provider framework during deployments: a failure fails the deployment, never an asynchronous event to keep.',
      'Serverless-LambdaDLQ',
    );
    createTopic.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['kafka:GetBootstrapBrokers'], resources: [this.clusterArn] }),
    );
    createTopic.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['kafka-cluster:Connect'], resources: [this.clusterArn] }),
    );
    createTopic.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kafka-cluster:CreateTopic', 'kafka-cluster:DescribeTopic', 'kafka-cluster:AlterTopic'],
        resources: [this.topicArn],
      }),
    );
    const provider = new cr.Provider(this, 'TopicProvider', {
      onEventHandler: createTopic,
      logGroup: new logs.LogGroup(this, 'TopicProviderLogs', {
        retention: config.logRetentionDays,
        removalPolicy: removalPolicyOf(config.removalPolicy),
      }),
    });
    acknowledgeNag(
      provider,
      'CDK custom-resource Provider framework function: basic logging, invoking our create-topic function (and its versions), on the runtime CDK pins.',
      LAMBDA_BASIC_EXECUTION_FINDING,
      `AwsSolutions-IAM5[Resource::${nagArnRef(createTopic)}:*]`,
      'AwsSolutions-L1',
    );
    acknowledgeDeployTimeFunction(provider, 'The Provider framework function');
    // The Provider has no memory setting; the rule wants it explicit (Serverless-LambdaDefaultMemorySize).
    const frameworkFunction = provider.node.findChild('framework-onEvent').node
      .defaultChild as lambda.CfnFunction;
    frameworkFunction.memorySize = DEPLOY_HELPER_MEMORY_MB;
    const topic = new CustomResource(this, 'Topic', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::KafkaTopic',
      properties: { ClusterArn: this.clusterArn, Topic: stream.topic, Partitions: stream.partitions },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // The handler needs the cluster (ordered by the ClusterArn property) and the MSK API endpoint to
    // fetch the brokers (the subnets have no NAT): without this dependency CloudFormation may invoke it
    // before the endpoint exists, and the deploy fails on a timeout of GetBootstrapBrokers.
    topic.node.addDependency(this.kafkaApiEndpoint);

    // --- stream-to-parquet: the mapping's target.
    const streamTimeoutSeconds = Math.min(config.lambdaTimeoutSeconds, MSK_MAPPING_MAX_TIMEOUT_SECONDS);
    // load-events closes an arrival hour this long after it ended: no notice can land later than the
    // stream function runs after stamping it (plus clock skew between the two).
    const arrivalCloseSeconds = String(streamTimeoutSeconds + ARRIVAL_CLOCK_MARGIN_SECONDS);
    this.streamFunction = cartflowFunction(this, {
      config,
      handlersDir,
      entry: STREAM_HANDLERS.StreamToParquet,
      engine: props.engine,
      timeout: Duration.seconds(streamTimeoutSeconds),
      environment: {
        [HANDLER_ENV.bucket]: bucket.bucketName,
        [HANDLER_ENV.environment]: config.envName,
        [HANDLER_ENV.kafkaTopic]: stream.topic,
        [HANDLER_ENV.eventsArrivalCloseSeconds]: arrivalCloseSeconds,
        ...POWERTOOLS_ENVIRONMENT,
      },
      vpc: vpcPlacement,
    });
    grantLake(this.streamFunction, bucket, 'readWrite', `${LAKE.events}*`, `${LAKE.clickstreamQuarantine}*`);
    // The mapping polls with the function's role (MSK IAM access control).
    this.streamFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeClusterDynamicConfiguration'],
        resources: [this.clusterArn],
      }),
    );
    this.streamFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
        resources: [this.topicArn],
      }),
    );
    this.streamFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
        resources: [groupArn],
      }),
    );
    this.streamFunction.addEventSource(
      new ManagedKafkaEventSource({
        clusterArn: this.clusterArn,
        topic: stream.topic,
        consumerGroupId,
        batchSize: stream.batchSize,
        maxBatchingWindow: Duration.seconds(stream.maxBatchingWindowSeconds),
        startingPosition: lambda.StartingPosition[stream.startingPosition],
        onFailure: new LakeOnFailureDestination(bucket),
        // Kafka retry controls exist only in provisioned mode.
        retryAttempts: stream.retryAttempts,
        provisionedPollerConfig: {
          minimumPollers: stream.pollers.minimum,
          maximumPollers: stream.pollers.maximum,
        },
      }),
    );
    const mapping = this.streamFunction.node.children.find(
      (c): c is lambda.EventSourceMapping => c instanceof lambda.EventSourceMapping,
    );
    if (!mapping) throw new Error('StreamIngest: the Kafka event-source mapping was not created.');
    // A mapping on a missing topic would start polling nothing; create the topic first.
    mapping.node.addDependency(topic);
    this.eventSourceMapping = mapping;
    acknowledgeNag(
      this.streamFunction,
      `Invoked only synchronously, by the MSK event-source mapping: a batch that fails every retry goes to the mapping's on-failure destination (${LAKE.streamOnFailure} in the lake), never to an asynchronous dead-letter queue.`,
      'Serverless-LambdaDLQ',
    );
    acknowledgeNag(
      this.streamFunction,
      'AWSLambdaMSKExecutionRole (added by ManagedKafkaEventSource) holds the kafka:Describe*/GetBootstrapBrokers and ENI actions the mapping needs; they accept no narrower resource for ENIs.',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaMSKExecutionRole]',
    );
    acknowledgeNag(
      this.streamFunction,
      `On-failure destination: Lambda writes discarded batches under ${LAKE.streamOnFailure} of the lake with the function's role (CDK put grant on that prefix only).`,
      'AwsSolutions-IAM5[Action::s3:Abort*]',
      'AwsSolutions-IAM5[Action::kms:ReEncrypt*]',
      'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      `AwsSolutions-IAM5[Resource::${nagArnRef(bucket)}/${LAKE.streamOnFailure}*]`,
    );

    // --- load-events: every few minutes, new event objects into Redshift.
    const intervalSeconds = stream.eventsLoadIntervalMinutes * 60;
    this.loadEventsFunction = cartflowFunction(this, {
      config,
      handlersDir,
      entry: STREAM_HANDLERS.LoadEvents,
      engine: props.engine,
      environment: {
        [HANDLER_ENV.bucket]: bucket.bucketName,
        ...warehouse.dataApiEnvironment(),
        [HANDLER_ENV.environment]: config.envName,
        [HANDLER_ENV.kafkaTopic]: stream.topic,
        [HANDLER_ENV.eventsArrivalCloseSeconds]: arrivalCloseSeconds,
        ...POWERTOOLS_ENVIRONMENT,
      },
      // A run ends before the next one is due, so runs never overlap.
      timeout: Duration.seconds(loadEventsTimeoutSeconds(config)),
      // With the timeout above and no asynchronous retries below, the schedule never needs a second
      // instance. No reservation by default (a new account's quota admits none): a run that still overlaps
      // another (a duplicate delivery, a manual invoke) waits for it on ops.event_load_mutex, and loading
      // the same objects again replaces the same rows (core/clickstream/load.ts), so it is safe either way.
      reservedConcurrentExecutions: config.reservedConcurrency?.loadEvents,
    });
    // The next scheduled run is the retry: Lambda's own async retries (default 2, up to 6 hours) would
    // overlap the schedule (and be throttled by a reserved concurrency, again and again).
    this.loadEventsFunction.configureAsyncInvoke({
      retryAttempts: 0,
      maxEventAge: Duration.seconds(Math.max(60, intervalSeconds)),
    });
    acknowledgeNag(
      this.loadEventsFunction,
      'A failed scheduled run needs no dead-letter record: the next run loads every object this one left (its ledger says which are loaded), and the Errors alarm reports the failure.',
      'Serverless-LambdaDLQ',
    );
    acknowledgeNag(
      this.loadEventsFunction.node.findChild('EventInvokeConfig'),
      'No on-failure destination on purpose: the next scheduled run is the retry (see above), and the Errors alarm reports the failure.',
      'Serverless-LambdaAsyncFailureDestination',
    );
    grantLake(this.loadEventsFunction, bucket, 'read', `${LAKE.events}*`);
    // The COPY manifest and the ledger file of each load are written next to each other.
    grantLake(
      this.loadEventsFunction,
      bucket,
      'readWrite',
      `${LAKE.eventManifests}*`,
      `${LAKE.eventLoadState}*`,
    );
    // The events' freshness record, which the SLA check reads instead of the warehouse.
    grantLake(this.loadEventsFunction, bucket, 'readWrite', `${LAKE.freshness}*`);
    warehouse.grantDataApi(this.loadEventsFunction);
    warehouse.allowCopyFrom(bucket, LAKE.clickstreamEvents);
    warehouse.allowCopyFrom(bucket, LAKE.eventManifests);
    this.loadSchedule = new events.Rule(this, 'LoadEventsSchedule', {
      description: `Loads new clickstream objects into Redshift every ${stream.eventsLoadIntervalMinutes} minutes`,
      schedule: events.Schedule.rate(Duration.minutes(stream.eventsLoadIntervalMinutes)),
      targets: [
        new targets.LambdaFunction(this.loadEventsFunction, {
          retryAttempts: 2,
          // A late run is useless once the next one is due.
          maxEventAge: Duration.seconds(Math.max(60, intervalSeconds)),
          deadLetterQueue: props.deadLetterQueue,
        }),
      ],
    });

    this.onFailureRule = new events.Rule(this, 'OnFailureObjects', {
      description: `A batch the stream mapping gave up on landed under ${LAKE.streamOnFailure}`,
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [bucket.bucketName] },
          object: { key: [{ prefix: LAKE.streamOnFailure }] },
        },
      },
    });
    // Each object's key goes to the alert topic. The SnsTopic target admits events.amazonaws.com on the
    // topic policy and (the topic having a key) on the key policy, without source conditions: KMS receives
    // none from EventBridge (test/lib/alarms.test.ts). Monitoring alarms on the rule's TriggeredRules.
    this.onFailureRule.addTarget(
      new targets.SnsTopic(props.alertTopic, {
        // An alert EventBridge cannot deliver (topic or key policy, throttling) lands in the DLQ, which alarms.
        deadLetterQueue: props.deadLetterQueue,
        retryAttempts: 3,
        message: events.RuleTargetInput.fromText(
          `cartflow ${config.envName}: the clickstream mapping gave up on a batch; its records are in s3://${events.EventField.fromPath('$.detail.bucket.name')}/${events.EventField.fromPath('$.detail.object.key')}`,
        ),
      }),
    );
  }
}
