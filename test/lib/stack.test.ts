import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Validations } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { CartflowStack } from '../../lib/cartflow-stack';
import { catalogDebounceSecondsOf, ENV_NAMES, loadConfig } from '../../lib/config';
import { ARRIVALS_PER_REFRESH } from '../../lib/constructs/triggers';
import { BATCH_STEPS, CATALOG_STEPS, FAILED_EXECUTION_STATUSES } from '../../lambdas/steps';
import { HANDLER_ENV } from '../../lambdas/contract';
import { logicalIdOf, synth, testApp, unacknowledgedNagFindings } from './synth';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- synthesized JSON, asserted field by field
type Json = any;
type Resource = { Type: string; Properties: Record<string, Json>; DeletionPolicy?: string };

describe('CartflowStack', () => {
  for (const envName of ENV_NAMES) {
    test(`${envName}: no unacknowledged cdk-nag AwsSolutions or Serverless error or warning`, () => {
      // Prepare
      const { app } = synth(envName);
      // Act
      const findings = unacknowledgedNagFindings(app);
      // Assess
      assert.deepEqual(findings, []);
    });
  }

  test('the cdk-app wiring (nag as a validation plugin) synthesizes without violations', () => {
    // Prepare
    const app = testApp();
    new CartflowStack(app, 'Cartflow-dev', { config: loadConfig('dev') });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
    // Act + Assess: a violation would interrupt synthesis.
    assert.doesNotThrow(() => app.synth());
  });

  test('the lake bucket is SSE-KMS, versioned, private, EventBridge-enabled and TLS-only', () => {
    // Prepare
    const { stack, template } = synth('prod');
    const bucketId = logicalIdOf(stack, stack.dataLake.bucket);
    // Assess
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: Match.anyValue() } },
        ],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: Match.objectLike({ DestinationBucketName: Match.anyValue() }),
    });
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: { Ref: bucketId },
      NotificationConfiguration: { EventBridgeConfiguration: {} },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  test('prod retains the bucket; dev destroys it with its objects', () => {
    // Prepare
    const prod = synth('prod');
    const dev = synth('dev');
    // Act
    const prodBucket = prod.template.toJSON().Resources[
      logicalIdOf(prod.stack, prod.stack.dataLake.bucket)
    ] as Resource;
    const devBucket = dev.template.toJSON().Resources[
      logicalIdOf(dev.stack, dev.stack.dataLake.bucket)
    ] as Resource;
    // Assess
    assert.equal(prodBucket.DeletionPolicy, 'Retain');
    assert.equal(devBucket.DeletionPolicy, 'Delete');
    dev.template.resourceCountIs('Custom::S3AutoDeleteObjects', 2);
    prod.template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });

  test('one Node.js 22 function per handler entry, traced, with the handler environment', () => {
    // Prepare
    const { template, config } = synth('staging');
    const entries = new Set([...Object.values(BATCH_STEPS), ...Object.values(CATALOG_STEPS)]);
    // Act
    const batchDescriptions = new Set([...entries].map((entry) => `cartflow staging: ${entry}`));
    const functions = Object.values(template.findResources('AWS::Lambda::Function')).filter((r) =>
      batchDescriptions.has(String((r as Resource).Properties.Description)),
    ) as Resource[];
    // Assess
    assert.equal(functions.length, entries.size);
    for (const fn of functions) {
      const p = fn.Properties;
      assert.equal(p.Runtime, 'nodejs24.x');
      assert.equal(p.TracingConfig.Mode, 'Active');
      assert.equal(p.Timeout, config.lambdaTimeoutSeconds);
      const vars = p.Environment.Variables as Record<string, unknown>;
      for (const name of [
        HANDLER_ENV.bucket,
        HANDLER_ENV.sourceSecretArn,
        HANDLER_ENV.workgroup,
        HANDLER_ENV.database,
        HANDLER_ENV.copyRoleArn,
        HANDLER_ENV.warehouseWriterRoleArn,
        HANDLER_ENV.environment,
        HANDLER_ENV.qualitySettings,
        HANDLER_ENV.extractChunkRows,
        'POWERTOOLS_SERVICE_NAME',
      ]) {
        assert.ok(name in vars, `${p.Description} lacks ${name}`);
      }
      assert.equal(vars[HANDLER_ENV.environment], 'staging');
      assert.deepEqual(JSON.parse(String(vars[HANDLER_ENV.qualitySettings])), config.quality);
    }
    const notify = functions.find((f) => f.Properties.Description.endsWith(': notify'));
    assert.ok(notify && HANDLER_ENV.topicArn in notify.Properties.Environment.Variables);
  });

  test('the Data API is granted on the workgroup ARN, never on "*", to the writer role and the DDL step', () => {
    // Prepare
    const { stack, template } = synth('prod');
    const workgroupArn = stack.resolve(stack.warehouse.workgroupArn);
    // Act
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => (p as Resource).Properties.PolicyDocument.Statement as Array<Record<string, Json>>,
    );
    const actionsOf = (s: Record<string, Json>) => [s.Action].flat() as string[];
    const execute = statements.filter((s) => actionsOf(s).includes('redshift-data:ExecuteStatement'));
    const ownStatements = statements.filter((s) => actionsOf(s).includes('redshift-data:GetStatementResult'));
    const login = statements.filter((s) => actionsOf(s).includes('redshift-serverless:GetCredentials'));
    // Assess: the writer role (every warehouse function) and ensure-warehouse (the DDL/grant step) only.
    assert.equal(execute.length, 2);
    for (const s of [...execute, ...login]) assert.deepEqual(s.Resource, workgroupArn);
    for (const s of execute) assert.ok(actionsOf(s).includes('redshift-data:BatchExecuteStatement'));
    for (const s of ownStatements) {
      assert.deepEqual(s.Condition, {
        StringEquals: { 'redshift-data:statement-owner-iam-userid': '${aws:userid}' },
      });
    }
    // The writer logs in with its IAM identity: GetCredentials, on this workgroup only, and only there.
    assert.equal(login.length, 1);
  });

  test('functions act as the writer database user; only the DDL step reads the admin secret', () => {
    // Prepare
    const { stack, template } = synth('prod');
    const secretArn = stack.resolve(stack.warehouse.adminSecretArn);
    const writerRoleArn = stack.resolve(stack.warehouse.writerRole.roleArn);
    const ddlRole = stack.resolve(
      (stack.pipeline.functions['ensure-warehouse'].role!.node.defaultChild as unknown as { ref: string })
        .ref,
    );
    // Act
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Resource[];
    const statementsOf = (p: Resource) =>
      p.Properties.PolicyDocument.Statement as Array<Record<string, Json>>;
    const readsAdminSecret = policies.filter((p) =>
      statementsOf(p).some(
        (s) =>
          [s.Action].flat().includes('secretsmanager:GetSecretValue') &&
          JSON.stringify(s.Resource) === JSON.stringify(secretArn),
      ),
    );
    const assumesWriter = policies.filter((p) =>
      statementsOf(p).some(
        (s) =>
          [s.Action].flat().includes('sts:AssumeRole') &&
          JSON.stringify(s.Resource) === JSON.stringify(writerRoleArn),
      ),
    );
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as Resource[];
    const withSecret = functions.filter(
      (f) => HANDLER_ENV.warehouseSecretArn in ((f.Properties.Environment?.Variables ?? {}) as object),
    );
    // Assess: one reader of the admin secret, ensure-warehouse's role, which also knows the writer's user name.
    assert.deepEqual(
      readsAdminSecret.map((p) => p.Properties.Roles),
      [[ddlRole]],
    );
    assert.equal(withSecret.length, 1);
    assert.equal(withSecret[0].Properties.Description, 'cartflow prod: ensure-warehouse');
    assert.equal(
      withSecret[0].Properties.Environment.Variables[HANDLER_ENV.warehouseWriterUser],
      'IAMR:cartflow-prod-writer',
    );
    // resolve-run, load-table, publish-date, record-run, cleanup, run-failed and load-events assume the
    // writer role; the scheduled SLA check does not (it reads the lake: no timer wakes the warehouse).
    assert.equal(assumesWriter.length, 7);
    template.hasResourceProperties('AWS::IAM::Role', { RoleName: 'cartflow-prod-writer' });
    // The ARN comes from GetNamespace (CloudFormation does not return it).
    const lookups = Object.values(template.findResources('Custom::AWS')).map((r) =>
      JSON.stringify((r as Resource).Properties.Create),
    );
    assert.ok(
      lookups.some((create) => create.includes('redshift-serverless') && create.includes('GetNamespace')),
    );
  });

  test('Redshift Serverless: private, enhanced VPC routing, 3 subnets, no password in the template', () => {
    // Prepare
    const { template, config } = synth('prod');
    // Assess
    template.hasResourceProperties('AWS::RedshiftServerless::Workgroup', {
      EnhancedVpcRouting: true,
      PubliclyAccessible: false,
      BaseCapacity: config.redshift.baseCapacityRpu,
    });
    const workgroup = Object.values(
      template.findResources('AWS::RedshiftServerless::Workgroup'),
    )[0] as Resource;
    assert.equal(workgroup.Properties.SubnetIds.length, 3);
    template.hasResourceProperties('AWS::RedshiftServerless::Namespace', {
      ManageAdminPassword: true,
      DbName: config.redshift.databaseName,
      AdminUserPassword: Match.absent(),
    });
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway' });
  });

  test("the COPY role reads only curated/* and the shadow runs' curated files (compare --env)", () => {
    // Prepare
    const { stack, template } = synth('dev');
    const roleId = logicalIdOf(stack, stack.warehouse.copyRole);
    // Act
    const policy = Object.values(template.findResources('AWS::IAM::Policy')).find((p) =>
      JSON.stringify((p as Resource).Properties.Roles).includes(roleId),
    ) as Resource;
    const objectResources = JSON.stringify(policy.Properties.PolicyDocument.Statement);
    // Assess
    assert.match(objectResources, /\/curated\/\*/);
    assert.match(objectResources, /\/shadow\/\*\/curated\/\*/);
    assert.doesNotMatch(objectResources, /\/raw\/|\/staged\/|\/shadow\/\*"/);
  });

  test('every alarm notifies the alert topic', () => {
    // Prepare
    const { stack, template } = synth('prod');
    const topicId = logicalIdOf(stack, stack.alerts.topic);
    // Act
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Resource[];
    // Assess
    // 4 batch alarms, errors + throttles per function (batch and stream), freshness, quality, lag, on-failure.
    assert.ok(alarms.length >= 4 + 2 * (new Set(Object.values(BATCH_STEPS)).size + 2) + 2);
    for (const alarm of alarms) assert.deepEqual(alarm.Properties.AlarmActions, [{ Ref: topicId }]);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Cartflow',
      MetricName: 'QualityGateFailed',
      Dimensions: Match.arrayWith([{ Name: 'environment', Value: 'prod' }]),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'DataAgeMinutes' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ExecutionTime',
      Threshold: loadConfig('prod').alarms.runDurationMinutes! * 60_000,
    });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  test('triggers: the schedule from config and the catalog arrival rule, both with a DLQ', () => {
    // Prepare
    const { template, config } = synth('prod');
    // Assess
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: config.scheduleCron,
      Targets: [
        Match.objectLike({
          InputTransformer: { InputPathsMap: { time: '$.time' }, InputTemplate: '{"time":<time>}' },
          DeadLetterConfig: Match.anyValue(),
        }),
      ],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: Match.objectLike({ object: { key: [{ prefix: 'landing/catalog/' }] } }),
      },
      Targets: [Match.objectLike({ DeadLetterConfig: Match.anyValue(), RetryPolicy: Match.anyValue() })],
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
  });

  test("a failed, timed-out or aborted batch execution invokes run-failed, which reads only its executions' history", () => {
    // Prepare
    const { stack, template } = synth('prod');
    const machineId = logicalIdOf(stack, stack.pipeline.stateMachine);
    const functionId = logicalIdOf(stack, stack.failedRuns.function);
    const dlqArn = { 'Fn::GetAtt': [logicalIdOf(stack, stack.triggers.deadLetterQueue), 'Arn'] };
    // Act
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Resource[];
    const history = policies
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<Record<string, Json>>)
      .filter((s) => [s.Action].flat().includes('states:GetExecutionHistory'));
    // Assess: the rule, on this state machine only, with a DLQ and a retry policy.
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: [...FAILED_EXECUTION_STATUSES], stateMachineArn: [{ Ref: machineId }] },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [functionId, 'Arn'] },
          DeadLetterConfig: { Arn: dlqArn },
          RetryPolicy: Match.anyValue(),
        }),
      ],
    });
    // A superseded run's execution ends SUCCEEDED (its Succeed state): the rule lets it pass, no alert.
    const [rule] = Object.values(
      template.findResources('AWS::Events::Rule', {
        Properties: { EventPattern: { source: ['aws.states'] } },
      }),
    ) as Resource[];
    const matched = (rule.Properties.EventPattern as { detail: { status: string[] } }).detail.status;
    assert.equal(matched.includes('SUCCEEDED'), false);
    // An invocation failing every retry lands in the same queue.
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: functionId },
      DestinationConfig: { OnFailure: { Destination: dlqArn } },
    });
    assert.equal(history.length, 1);
    assert.deepEqual(history[0].Resource, {
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':states:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':execution:',
          { 'Fn::GetAtt': [machineId, 'Name'] },
          ':*',
        ],
      ],
    });
  });

  for (const envName of ENV_NAMES) {
    test(`${envName}: catalog arrivals are debounced: rule → queue → Pipe batching window → one refresh`, () => {
      // Prepare
      const { stack, template, config } = synth(envName);
      const queueId = logicalIdOf(stack, stack.triggers.catalogArrivals);
      const dlqId = logicalIdOf(stack, stack.triggers.deadLetterQueue);
      const machineId = logicalIdOf(stack, stack.pipeline.catalogStateMachine);
      // Assess: the arrival rule queues the event instead of starting the refresh.
      template.hasResourceProperties('AWS::Events::Rule', {
        EventPattern: Match.objectLike({ 'detail-type': ['Object Created'] }),
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [queueId, 'Arn'] } })],
      });
      // The Pipe waits the environment's window, then starts one execution with the batch.
      template.hasResourceProperties('AWS::Pipes::Pipe', {
        Source: { 'Fn::GetAtt': [queueId, 'Arn'] },
        SourceParameters: {
          SqsQueueParameters: {
            MaximumBatchingWindowInSeconds: catalogDebounceSecondsOf(config),
            BatchSize: ARRIVALS_PER_REFRESH,
          },
        },
        Target: { Ref: machineId },
        TargetParameters: Match.objectLike({
          StepFunctionStateMachineParameters: { InvocationType: 'FIRE_AND_FORGET' },
        }),
      });
      // A batch that cannot start a refresh is retried, then kept; messages outlive the window in flight.
      const queue = template.findResources('AWS::SQS::Queue')[queueId];
      assert.deepEqual(queue.Properties.RedrivePolicy.deadLetterTargetArn, { 'Fn::GetAtt': [dlqId, 'Arn'] });
      assert.ok(queue.Properties.VisibilityTimeout > catalogDebounceSecondsOf(config));
      assert.equal(queue.Properties.SqsManagedSseEnabled, true);
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queueId }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
      // The Pipe's role may start the catalog refresh and nothing else.
      const pipe = Object.values<Json>(template.findResources('AWS::Pipes::Pipe'))[0];
      const roleId = pipe.Properties.RoleArn['Fn::GetAtt'][0];
      const starts = Object.values<Json>(template.findResources('AWS::IAM::Policy'))
        .filter((p) => p.Properties.Roles.some((r: Json) => r.Ref === roleId))
        .flatMap((p) => p.Properties.PolicyDocument.Statement)
        .filter((st: Json) => [st.Action].flat().includes('states:StartExecution'));
      assert.deepEqual(
        starts.map((st: Json) => st.Resource),
        [{ Ref: machineId }],
      );
    });
  }

  test('the debounce window differs per environment as config says', () => {
    // Assess
    assert.equal(catalogDebounceSecondsOf(loadConfig('dev')), 60);
    assert.equal(catalogDebounceSecondsOf(loadConfig('prod')), 120);
  });

  for (const envName of ENV_NAMES) {
    test(`${envName}: every EventBridge target has a dead-letter queue and a retry policy`, () => {
      // Prepare
      const { template } = synth(envName);
      // Act
      const targets = Object.entries<Json>(template.findResources('AWS::Events::Rule')).flatMap(
        ([id, rule]) => (rule.Properties.Targets as Json[]).map((t) => ({ id, ...t })),
      );
      // Assess: a failed delivery (e.g. the nightly StartExecution) is retried, then kept, never dropped.
      assert.ok(targets.length > 0);
      for (const t of targets) {
        assert.ok(t.DeadLetterConfig?.Arn, `${t.id} has no DeadLetterConfig`);
        assert.ok(t.RetryPolicy?.MaximumRetryAttempts !== undefined, `${t.id} has no RetryPolicy`);
      }
    });
  }

  test('state machines are STANDARD, traced and log ALL events', () => {
    // Prepare
    const { template } = synth('dev');
    // Assess
    template.resourcePropertiesCountIs(
      'AWS::StepFunctions::StateMachine',
      {
        StateMachineType: 'STANDARD',
        TracingConfiguration: { Enabled: true },
        LoggingConfiguration: Match.objectLike({ Level: 'ALL' }),
      },
      2,
    );
  });

  test('resources are tagged with project and env', () => {
    // Prepare
    const { template } = synth('staging');
    // Assess
    template.hasResourceProperties('AWS::S3::Bucket', {
      Tags: Match.arrayWith([
        { Key: 'env', Value: 'staging' },
        { Key: 'project', Value: 'cartflow' },
      ]),
    });
  });

  test('no secret value is in the template', () => {
    // Prepare
    const { template } = synth('prod');
    // Act
    const secrets = Object.values(template.findResources('AWS::SecretsManager::Secret')) as Resource[];
    // Assess
    assert.equal(secrets.length, 1);
    assert.equal(secrets[0].Properties.SecretString, undefined);
    assert.equal(secrets[0].Properties.GenerateSecretString.GenerateStringKey, 'password');
  });

  test("outputs the warehouse's COPY role, which `cartflow rebuild --env` passes to its COPY", () => {
    // Act
    const { template, stack } = synth('dev');
    // Assess
    const { CopyRoleArn } = template.findOutputs('CopyRoleArn') as Record<string, Json>;
    assert.deepEqual(CopyRoleArn.Value, {
      'Fn::GetAtt': [logicalIdOf(stack, stack.warehouse.copyRole), 'Arn'],
    });
  });
});
