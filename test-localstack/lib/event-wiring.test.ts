/**
 * The wiring the template declares is the wiring that fires. Every EventBridge rule of the synthesized
 * stack (dev, staging, prod) is created in LocalStack with its exact event pattern or schedule, each
 * target replaced by an SQS queue that keeps the target's Input/InputPath/InputTransformer. Then real
 * events arrive: objects put into a bucket with EventBridge notifications on (S3 "Object Created"),
 * a real failed execution of the batch machine, and, by PutEvents in the shapes AWS sends, execution
 * status changes and each schedule's "Scheduled Event" (a cron cannot be waited for). The suite
 * asserts which rules matched each event and the exact input each target received.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  DeleteRuleCommand,
  EventBridgeClient,
  ListTargetsByRuleCommand,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
  type PutEventsRequestEntry,
  type Target,
} from '@aws-sdk/client-eventbridge';
import {
  CreateBucketCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { MemoryLakeStore } from '../../bench/support/memory-lake';
import { stepAdapters } from '../../bench/support/step-adapters';
import { LAKE } from '../../lambdas/contract';
import type { ResolveRunInput } from '../../lambdas/core/contracts';
import { makeResolveRun } from '../../lambdas/handlers/resolve-run';
import { executionHistory } from '../../cli/aws/status-sources';
import { synthesizeDefinitions, type SynthesizedDefinitions } from '../../local/synth-definitions';
import {
  assertReachable,
  clientConfig,
  localstackEndpoint,
  mockFilePath,
  readMockFile,
  writeMockFile,
} from '../support';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- synthesized JSON, asserted field by field
type Json = any;

const ENVS = ['dev', 'staging', 'prod'] as const;
type Env = (typeof ENVS)[number];
const ACCOUNT = '000000000000';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/cartflow-localstack`;
/** Unique per run: LocalStack may outlive one run of the suite, and the other suites share it. */
const TAG = randomUUID().slice(0, 6);

/** The mocked test case that runs the batch machine up to ResolveRun and stops there. */
const STOP_AT_RESOLVE_RUN = `wiring-${TAG}-stop-at-resolve-run`;
const STOP_RESPONSE = `wiring-${TAG}.stop`;
const EMPTY_RESPONSE = `wiring-${TAG}.empty`;
/** No Retry or Catch of the batch machine names this error, so the execution fails at once. */
const STOP = { Error: 'WiringSuiteStop', Cause: 'the wiring suite stops the execution here' };

interface TemplateRule {
  logicalId: string;
  properties: Json;
}

/** One rule as created in LocalStack, its targets replaced by queues. */
interface WiredRule {
  env: Env;
  logicalId: string;
  name: string;
  arn: string;
  /** The template's target (Input/InputPath/InputTransformer kept) and the queue standing in for it. */
  targets: { id: string; template: Json; queueUrl: string }[];
}

/** An event sent, and the markers (unique strings) that identify it inside whatever a target receives. */
interface SentEvent {
  env: Env;
  name: string;
  markers: string[];
  /** Logical ids of the rules that must match it. */
  expected: string[];
}

/** What arrived in a rule's queue, attributed to the event whose marker it contains. */
interface Delivery {
  env: Env;
  rule: string;
  event: string;
  body: string;
}

interface EnvSetup {
  synthesized: SynthesizedDefinitions;
  bucket: string;
  /** A second bucket with EventBridge notifications, which no rule names. */
  otherBucket: string;
  batchArn: string;
  catalogArn: string;
  rules: WiredRule[];
  /** The batch execution started with the nightly schedule's delivered input. */
  nightlyExecution?: string;
  /** The catalog execution started with the debounce Pipe's input rendered from the delivered arrival. */
  arrivalExecution?: string;
}

/**
 * What the debounce Pipe (not in LocalStack community) gives the catalog machine for one queued arrival:
 * its InputTemplate rendered on the SQS message as Pipes presents it (`body` parsed when it is JSON).
 */
function renderPipeInput(template: Json, messageBody: string): Json {
  const pipes = Object.values<Json>(template.Resources).filter((r) => r.Type === 'AWS::Pipes::Pipe');
  assert.equal(pipes.length, 1, 'one Pipe in the template');
  const inputTemplate = pipes[0].Properties.TargetParameters.InputTemplate as string;
  const message = { body: JSON.parse(messageBody) as Json };
  const rendered = inputTemplate.replace(/<\$\.([^>]+)>/g, (_, path: string) => {
    const value = path.split('.').reduce<Json>((at, field) => at?.[field], message);
    assert.equal(
      typeof value,
      'string',
      `the Pipe's ${inputTemplate} reads $.${path}: not in the queued event`,
    );
    return value as string;
  });
  return JSON.parse(rendered);
}

/** Resolves the intrinsics a rule's pattern or target input may hold to the resources made in LocalStack. */
function resolveIntrinsics(value: Json, refs: Record<string, string>, where: string): Json {
  if (Array.isArray(value)) return value.map((item) => resolveIntrinsics(item, refs, where));
  if (value === null || typeof value !== 'object') return value;
  if ('Ref' in value) {
    const resolved = refs[value.Ref as string];
    if (resolved === undefined) {
      throw new Error(`${where}: Ref ${String(value.Ref)} names no resource the suite recreates`);
    }
    return resolved;
  }
  const intrinsic = Object.keys(value).find((key) => key.startsWith('Fn::'));
  if (intrinsic)
    throw new Error(`${where}: ${intrinsic} is not resolved by the suite: ${JSON.stringify(value)}`);
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, resolveIntrinsics(item, refs, where)]),
  );
}

const templateRules = (template: Json): TemplateRule[] =>
  Object.entries<Json>(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::Events::Rule')
    .map(([logicalId, resource]) => ({ logicalId, properties: resource.Properties }));

/** The bucket the template turns EventBridge notifications on for (Custom::S3BucketNotifications). */
function eventBridgeBuckets(template: Json): string[] {
  return Object.values<Json>(template.Resources)
    .filter(
      (resource) =>
        resource.Type === 'Custom::S3BucketNotifications' &&
        resource.Properties.NotificationConfiguration?.EventBridgeConfiguration !== undefined,
    )
    .map((resource) => resource.Properties.BucketName.Ref as string);
}

/** The input fields of a target that shape what it receives. */
const inputOf = (target: Json): Json => ({
  ...(target.Input !== undefined ? { Input: target.Input } : {}),
  ...(target.InputPath !== undefined ? { InputPath: target.InputPath } : {}),
  ...(target.InputTransformer !== undefined ? { InputTransformer: target.InputTransformer } : {}),
});

describe('the wiring the template declares is the wiring that fires', () => {
  let events: EventBridgeClient;
  let sqs: SQSClient;
  let s3: S3Client;
  let sfn: SFNClient;
  const setups = {} as Record<Env, EnvSetup>;
  const queues: string[] = [];
  const ruleNames: string[] = [];
  const sent: SentEvent[] = [];
  const deliveries: Delivery[] = [];

  async function createQueue(name: string): Promise<{ url: string; arn: string }> {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    queues.push(QueueUrl!);
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    return { url: QueueUrl!, arn: Attributes!.QueueArn! };
  }

  async function createBucket(name: string): Promise<void> {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    await s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: name,
        NotificationConfiguration: { EventBridgeConfiguration: {} },
      }),
    );
  }

  /** Creates the rule as the template declares it, each target a queue with the target's input kept. */
  async function wire(
    env: Env,
    rule: TemplateRule,
    refs: Record<string, string>,
    override?: { suffix: string; eventPattern: object },
  ): Promise<WiredRule> {
    const where = `Cartflow-${env} ${rule.logicalId}`;
    const name = `${rule.logicalId.slice(0, 40)}-${env}-${TAG}${override ? `-${override.suffix}` : ''}`;
    const { properties } = rule;
    assert.equal(properties.State, 'ENABLED', `${where}: the template's rule is disabled`);
    const schedule = !override && properties.ScheduleExpression !== undefined;
    const { RuleArn } = await events.send(
      new PutRuleCommand({
        Name: name,
        // LocalStack runs rate schedules: they would deliver at times the suite does not choose. Their
        // twin (below) delivers the same Scheduled Event when the suite sends it.
        State: schedule ? 'DISABLED' : 'ENABLED',
        Description: properties.Description,
        ...(override
          ? { EventPattern: JSON.stringify(override.eventPattern) }
          : properties.EventPattern
            ? { EventPattern: JSON.stringify(resolveIntrinsics(properties.EventPattern, refs, where)) }
            : { ScheduleExpression: properties.ScheduleExpression }),
      }),
    );
    ruleNames.push(name);
    const targets: WiredRule['targets'] = [];
    for (const target of properties.Targets as Json[]) {
      const queue = await createQueue(`${name}-${target.Id}`.slice(0, 80));
      const input = resolveIntrinsics(inputOf(target), refs, where);
      await events.send(
        new PutTargetsCommand({
          Rule: name,
          Targets: [{ Id: target.Id, Arn: queue.arn, ...input } as Target],
        }),
      );
      targets.push({ id: target.Id, template: input, queueUrl: queue.url });
    }
    return { env, logicalId: rule.logicalId, name, arn: RuleArn!, targets };
  }

  /** The execution's history once it has stopped. */
  async function historyOf(executionArn: string): Promise<HistoryEvent[]> {
    for (let i = 0; ; i++) {
      const { status } = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      if (status !== 'RUNNING') break;
      assert.ok(i < 300, `${executionArn}: still RUNNING after 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const { events: history } = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn, maxResults: 1000 }),
    );
    return history ?? [];
  }

  async function putEvents(entries: PutEventsRequestEntry[]): Promise<void> {
    const result = await events.send(new PutEventsCommand({ Entries: entries }));
    assert.equal(result.FailedEntryCount, 0, `PutEvents: ${JSON.stringify(result.Entries)}`);
  }

  /** A Step Functions "Execution Status Change" event as AWS sends it for a Standard workflow. */
  function statusChange(stateMachineArn: string, name: string, status: string): PutEventsRequestEntry {
    const executionArn = stateMachineArn.replace(':stateMachine:', ':execution:') + `:${name}`;
    const stopped = status !== 'RUNNING';
    const failure: Record<string, Json> = {
      FAILED: { error: 'QualityGateError', cause: 'orders: 3 rows failed not_null(order_id)' },
      TIMED_OUT: { error: 'States.Timeout', cause: null },
    };
    return {
      Source: 'aws.states',
      DetailType: 'Step Functions Execution Status Change',
      Resources: [executionArn],
      Detail: JSON.stringify({
        executionArn,
        stateMachineArn,
        name,
        status,
        startDate: Date.now() - 60_000,
        stopDate: stopped ? Date.now() : null,
        input: '{"time":"2026-12-06T03:00:00Z"}',
        output: status === 'SUCCEEDED' ? '{}' : null,
        inputDetails: { included: true },
        outputDetails: status === 'SUCCEEDED' ? { included: true } : null,
        error: failure[status]?.error ?? null,
        cause: failure[status]?.cause ?? null,
      }),
    };
  }

  /** A schedule's event: what EventBridge sends its targets when the cron or rate fires. */
  const scheduledEvent = (ruleArn: string, time: string): PutEventsRequestEntry => ({
    Source: 'aws.events',
    DetailType: 'Scheduled Event',
    Resources: [ruleArn],
    Time: new Date(time),
    Detail: '{}',
  });

  /** Reads every queue until each expected delivery arrived, then two quiet rounds for unexpected ones. */
  async function collect(): Promise<void> {
    const wired = ENVS.flatMap((env) => setups[env].rules);
    const expectedCount = sent.reduce((sum, event) => sum + event.expected.length, 0);
    const deadline = Date.now() + 30_000;
    for (let quiet = 0; quiet < 2 && Date.now() < deadline;) {
      let received = 0;
      await Promise.all(
        wired.flatMap((rule) =>
          rule.targets.map(async (target) => {
            const { Messages } = await sqs.send(
              new ReceiveMessageCommand({
                QueueUrl: target.queueUrl,
                MaxNumberOfMessages: 10,
                WaitTimeSeconds: 1,
              }),
            );
            for (const message of Messages ?? []) {
              received++;
              const body = message.Body!;
              // The latest event it names: a later one may carry an earlier one's marker (an execution's input).
              const event = sent.findLast(
                (e) => e.env === rule.env && e.markers.some((m) => body.includes(m)),
              );
              deliveries.push({
                env: rule.env,
                rule: rule.logicalId,
                event: event?.name ?? '(unknown)',
                body,
              });
            }
          }),
        ),
      );
      if (received === 0 && deliveries.length >= expectedCount) quiet++;
    }
  }

  before(async () => {
    const endpoint = localstackEndpoint();
    await assertReachable(endpoint);
    events = new EventBridgeClient(clientConfig(endpoint));
    sqs = new SQSClient(clientConfig(endpoint));
    s3 = new S3Client(clientConfig(endpoint));
    sfn = new SFNClient(clientConfig(endpoint));

    for (const [n, env] of ENVS.entries()) {
      const synthesized = await synthesizeDefinitions(env);
      const { template, logicalIds } = synthesized;
      assert.deepEqual(
        eventBridgeBuckets(template),
        [logicalIds.lakeBucket],
        `Cartflow-${env}: EventBridge notifications must be on for the lake bucket (the S3 rules filter on it)`,
      );
      const bucket = `cartflow-wiring-${env}-${TAG}`;
      const otherBucket = `cartflow-wiring-${env}-other-${TAG}`;
      await createBucket(bucket);
      await createBucket(otherBucket);
      const machine = async (kind: 'batch' | 'catalog') =>
        (
          await sfn.send(
            new CreateStateMachineCommand({
              name: `cartflow-wiring-${env}-${kind}-${TAG}`,
              definition: JSON.stringify(synthesized[kind]),
              roleArn: ROLE,
            }),
          )
        ).stateMachineArn!;
      const batchArn = await machine('batch');
      const catalogArn = await machine('catalog');
      const refs = {
        [logicalIds.lakeBucket]: bucket,
        [logicalIds.batch]: batchArn,
        [logicalIds.catalog]: catalogArn,
      };
      const rules: WiredRule[] = [];
      for (const rule of templateRules(template)) {
        const wired = await wire(env, rule, refs);
        rules.push(wired);
        // A schedule cannot be waited for: a twin rule with the same targets matches its "Scheduled Event".
        if (rule.properties.ScheduleExpression) {
          const twin = await wire(env, rule, refs, {
            suffix: 'fired',
            eventPattern: {
              source: ['aws.events'],
              'detail-type': ['Scheduled Event'],
              resources: [wired.arn],
            },
          });
          rules.push({ ...twin, logicalId: rule.logicalId });
        }
      }
      setups[env] = { synthesized, bucket, otherBucket, batchArn, catalogArn, rules };

      // Act (all environments' events at once; each rule filters on its own bucket, machine or schedule)
      const { logicalIds: ids } = synthesized;
      const onFailure = ids.onFailureRule ? [ids.onFailureRule] : [];
      const objects: [string, string, string, string[]][] = [
        [
          'catalog file under landing/catalog/',
          bucket,
          `${LAKE.catalogLanding}products-${env}-${TAG}.json`,
          [ids.catalogRule],
        ],
        [
          'landing file outside landing/catalog/',
          bucket,
          `${LAKE.landing}orders/orders-${env}-${TAG}.csv`,
          [],
        ],
        ['catalog file in another bucket', otherBucket, `${LAKE.catalogLanding}stray-${env}-${TAG}.json`, []],
        // What a refresh itself writes must not start another one.
        ['merged catalog file archived', bucket, `${LAKE.catalogArchive}products-${env}-${TAG}.json`, []],
        ['failed catalog file set aside', bucket, `${LAKE.catalogRejected}products-${env}-${TAG}.json`, []],
        ['object beside the catalog snapshot', bucket, `${LAKE.catalog}products-${env}-${TAG}.parquet`, []],
        [
          'object under the on-failure prefix',
          bucket,
          `${LAKE.streamOnFailure}5f0c1e2a-mapping/2026/12/06/12/batch-${env}-${TAG}`,
          onFailure,
        ],
      ];
      for (const [name, inBucket, key, expected] of objects) {
        await s3.send(new PutObjectCommand({ Bucket: inBucket, Key: key, Body: '[]' }));
        sent.push({ env, name, markers: [key], expected });
      }
      const statuses: [string, string, string, string[]][] = [
        ['batch execution FAILED', batchArn, 'FAILED', [ids.failedRunsRule]],
        ['batch execution TIMED_OUT', batchArn, 'TIMED_OUT', [ids.failedRunsRule]],
        ['batch execution ABORTED', batchArn, 'ABORTED', [ids.failedRunsRule]],
        ['batch execution SUCCEEDED', batchArn, 'SUCCEEDED', []],
        ['catalog execution FAILED (another machine)', catalogArn, 'FAILED', []],
      ];
      for (const [i, [name, arn, status, expected]] of statuses.entries()) {
        const execution = `${status.toLowerCase()}-${i}-${env}-${TAG}`;
        await putEvents([statusChange(arn, execution, status)]);
        sent.push({ env, name, markers: [`:${execution}`], expected });
      }
      // A real execution: no Lambda runs in community, so EnsureWarehouse fails and LocalStack itself
      // emits the status change.
      const realName = `real-${env}-${TAG}`;
      const { executionArn } = await sfn.send(
        new StartExecutionCommand({ stateMachineArn: batchArn, name: realName, input: '{}' }),
      );
      sent.push({
        env,
        name: 'batch execution FAILED in LocalStack (EnsureWarehouse, no Lambda)',
        markers: [executionArn!],
        expected: [ids.failedRunsRule],
      });
      // Each schedule fires at a time no other event carries: the time is the marker of its input.
      for (const [i, rule] of rules.filter((r) => r.name.endsWith('-fired')).entries()) {
        const time = `2020-0${n + 1}-1${i}T03:00:00Z`;
        const scheduled = rules.find((r) => r.logicalId === rule.logicalId && !r.name.endsWith('-fired'))!;
        await putEvents([scheduledEvent(scheduled.arn, time)]);
        sent.push({ env, name: `schedule fires (${time})`, markers: [time], expected: [rule.logicalId] });
      }
    }

    await collect();

    // The inputs the targets received, given to what the targets start (with the tasks mocked).
    const path = mockFilePath();
    const mock = readMockFile(path);
    mock.MockedResponses[STOP_RESPONSE] = { '0-99': { Throw: STOP } };
    mock.MockedResponses[EMPTY_RESPONSE] = { '0-99': { Return: { StatusCode: 200, Payload: {} } } };
    for (const env of ENVS) {
      mock.StateMachines[`cartflow-wiring-${env}-batch-${TAG}`] = {
        TestCases: { [STOP_AT_RESOLVE_RUN]: { EnsureWarehouse: EMPTY_RESPONSE, ResolveRun: STOP_RESPONSE } },
      };
    }
    writeMockFile(path, mock);
    for (const env of ENVS) {
      const { synthesized, batchArn, catalogArn } = setups[env];
      const ids = synthesized.logicalIds;
      const [nightly] = deliveries.filter((d) => d.env === env && d.rule === ids.scheduleRule);
      assert.ok(nightly, `${env}: the nightly schedule delivered nothing`);
      const batch = await sfn.send(
        new StartExecutionCommand({
          stateMachineArn: `${batchArn}#${STOP_AT_RESOLVE_RUN}`,
          name: `nightly-${env}-${TAG}`,
          input: nightly.body,
        }),
      );
      setups[env].nightlyExecution = batch.executionArn!;
      sent.push({
        env,
        name: 'batch execution from the nightly input, stopped at ResolveRun (mocked)',
        markers: [batch.executionArn!],
        expected: [ids.failedRunsRule],
      });
      const [arrival] = deliveries.filter((d) => d.env === env && d.rule === ids.catalogRule);
      assert.ok(arrival, `${env}: the catalog arrival delivered nothing`);
      const catalog = await sfn.send(
        new StartExecutionCommand({
          stateMachineArn: catalogArn,
          name: `arrival-${env}-${TAG}`,
          input: JSON.stringify([renderPipeInput(synthesized.template, arrival.body)]),
        }),
      );
      setups[env].arrivalExecution = catalog.executionArn!;
      sent.push({
        env,
        name: 'catalog execution from the Pipe input (fails: no Lambda)',
        markers: [catalog.executionArn!],
        expected: [],
      });
    }
    await collect();
  });

  after(async () => {
    for (const name of ruleNames) {
      const { Targets } = await events.send(new ListTargetsByRuleCommand({ Rule: name }));
      const ids = (Targets ?? []).map((target) => target.Id!);
      if (ids.length > 0) await events.send(new RemoveTargetsCommand({ Rule: name, Ids: ids }));
      await events.send(new DeleteRuleCommand({ Name: name }));
    }
    for (const url of queues) await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
  });

  test('each rule matches exactly the events it should', (t) => {
    // Assess
    const key = (env: string, event: string, rule: string) => `${env} | ${event} -> ${rule}`;
    const expected = sent.flatMap((e) => e.expected.map((rule) => key(e.env, e.name, rule))).sort();
    const actual = deliveries.map((d) => key(d.env, d.event, d.rule)).sort();
    for (const e of sent) {
      const matched = deliveries.filter((d) => d.env === e.env && d.event === e.name).map((d) => d.rule);
      t.diagnostic(`${key(e.env, e.name, matched.length > 0 ? matched.join(', ') : '(no rule)')}`);
    }
    assert.deepEqual(actual, expected);
  });

  test('every target keeps the input the template gives it', async () => {
    for (const env of ENVS) {
      for (const rule of setups[env].rules) {
        // Act
        const { Targets } = await events.send(new ListTargetsByRuleCommand({ Rule: rule.name }));
        // Assess
        assert.deepEqual(
          (Targets ?? []).map((target) => ({ id: target.Id, ...inputOf(target) })),
          rule.targets.map((target) => ({ id: target.id, ...target.template })),
          `${rule.name}: targets read back`,
        );
      }
    }
  });

  test('the nightly schedule starts the batch machine with an input ResolveRun accepts', async () => {
    for (const env of ENVS) {
      // Prepare
      const { synthesized, nightlyExecution } = setups[env];
      const fired = sent.find(
        (e) => e.env === env && e.expected.includes(synthesized.logicalIds.scheduleRule),
      )!;
      const time = fired.markers[0]!;
      const [nightly] = deliveries.filter(
        (d) => d.env === env && d.rule === synthesized.logicalIds.scheduleRule,
      );
      // Act: what the batch machine gave ResolveRun, run through ResolveRun itself.
      const scheduled = (await historyOf(nightlyExecution!)).filter(
        (e) => e.type === 'TaskScheduled' || e.type === 'LambdaFunctionScheduled',
      );
      const last = scheduled.at(-1)!;
      const payload = (
        last.taskScheduledEventDetails
          ? (JSON.parse(last.taskScheduledEventDetails.parameters!) as Json).Payload
          : JSON.parse(last.lambdaFunctionScheduledEventDetails!.input!)
      ) as ResolveRunInput;
      const warehouse = { dialect: 'postgres' as const, executeBatch: async () => {}, query: async () => [] };
      const run = await makeResolveRun(stepAdapters({ lake: new MemoryLakeStore(), warehouse }))(payload);
      // Assess
      assert.deepEqual(JSON.parse(nightly!.body), { time }, `${env}: the schedule's target input`);
      assert.equal(scheduled.length, 2, `${env}: EnsureWarehouse, then ResolveRun`);
      assert.deepEqual(payload.request, { time }, `${env}: ResolveRun's request is the schedule's input`);
      const dayBefore = new Date(Date.parse(time) - 86_400_000).toISOString().slice(0, 10);
      assert.deepEqual([run.runId, run.businessDate], [`nightly-${env}-${TAG}`, dayBefore]);
    }
  });

  test('status --env names the step an unmocked execution failed in, from its LambdaFunction* history', async () => {
    for (const env of ENVS) {
      // Prepare: the real execution above, whose plain function ARN Tasks log LambdaFunction* events.
      const { batchArn } = setups[env];

      // Act
      const run = await executionHistory(sfn, batchArn).steps(`real-${env}-${TAG}`);

      // Assess
      const failed = run?.steps.filter((s) => s.status === 'failed') ?? [];
      assert.deepEqual(
        failed.map((s) => s.state),
        ['EnsureWarehouse'],
        `${env}: ${JSON.stringify(run)}`,
      );
      assert.ok(failed[0].error, `${env}: the failed step carries its error`);
    }
  });

  test('the catalog arrival queues the S3 event the debounce Pipe makes a refresh of', async () => {
    for (const env of ENVS) {
      // Prepare
      const { synthesized, bucket, arrivalExecution } = setups[env];
      const [arrival, ...more] = deliveries.filter(
        (d) => d.env === env && d.rule === synthesized.logicalIds.catalogRule,
      );
      // Act: the catalog machine's first state on the Pipe's input (its Tasks then fail: no Lambda).
      const history = await historyOf(arrivalExecution!);
      const exited = history.find(
        (e) => e.type === 'PassStateExited' && e.stateExitedEventDetails?.name === 'CatalogRun',
      );
      // Assess
      assert.equal(more.length, 0, `${env}: one catalog arrival`);
      const event = JSON.parse(arrival!.body) as Json;
      assert.equal(event.source, 'aws.s3');
      assert.equal(event['detail-type'], 'Object Created');
      assert.equal(event.detail.bucket.name, bucket);
      assert.equal(event.detail.object.key, `${LAKE.catalogLanding}products-${env}-${TAG}.json`);
      assert.deepEqual(renderPipeInput(synthesized.template, arrival!.body), { time: event.time });
      assert.ok(exited, `${env}: CatalogRun did not run`);
      const state = JSON.parse(exited.stateExitedEventDetails!.output!) as Json;
      assert.equal(state.catalogArrivals, 1, `${env}: one arrival in the refresh`);
      assert.equal(state.run.runId, `arrival-${env}-${TAG}`);
    }
  });

  test('the failure rule hands run-failed the status change of this machine', () => {
    for (const env of ENVS) {
      // Prepare
      const { synthesized, batchArn } = setups[env];
      const failures = deliveries.filter(
        (d) => d.env === env && d.rule === synthesized.logicalIds.failedRunsRule,
      );
      // Assess
      for (const delivery of failures) {
        const event = JSON.parse(delivery.body) as Json;
        assert.equal(event['detail-type'], 'Step Functions Execution Status Change');
        assert.equal(event.detail.stateMachineArn, batchArn);
        assert.ok(
          ['FAILED', 'TIMED_OUT', 'ABORTED'].includes(event.detail.status),
          `${env}: ${event.detail.status}`,
        );
      }
    }
  });

  test('an object under the on-failure prefix alerts with its bucket and key', () => {
    for (const env of ENVS) {
      // Prepare
      const { synthesized, bucket } = setups[env];
      const rule = synthesized.logicalIds.onFailureRule;
      if (!rule) {
        // dev leaves the stream out (config stream.enabled false): no rule, and the event matched none.
        assert.equal(env, 'dev');
        continue;
      }
      const [alert, ...more] = deliveries.filter((d) => d.env === env && d.rule === rule);
      // Assess
      assert.equal(more.length, 0, `${env}: one alert`);
      const key = `${LAKE.streamOnFailure}5f0c1e2a-mapping/2026/12/06/12/batch-${env}-${TAG}`;
      // A text template renders as a JSON string: the target (the alert topic) receives it quoted, as on
      // AWS (an input transformer's output is always JSON).
      assert.equal(
        JSON.parse(alert!.body),
        `cartflow ${env}: the clickstream mapping gave up on a batch; its records are in s3://${bucket}/${key}`,
      );
    }
  });

  test('no delivery is left unattributed', () => {
    assert.deepEqual(
      deliveries.filter((d) => d.event === '(unknown)'),
      [],
    );
  });
});
