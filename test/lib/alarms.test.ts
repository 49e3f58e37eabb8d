/**
 * Issue 6 item 1: alarms reach people. An explicit SNS topic policy replaces SNS's default one, so every
 * publisher must be admitted by name, and a KMS-encrypted topic needs each publisher on the key policy too.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { CartflowStack } from '../../lib/cartflow-stack';
import { ConfigError, ENV_NAMES, loadConfig, validateConfig, type EnvironmentConfig } from '../../lib/config';
import { synth, synthWithStream, testApp, unacknowledgedNagFindings } from './synth';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation JSON, asserted field by field
type Json = any;

const asList = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** The statements of `policy` that allow `action` to the service principal `service`. */
function admitting(policy: Json, service: string, action: string): Json[] {
  return asList<Json>(policy.Statement).filter(
    (s) =>
      s.Effect === 'Allow' &&
      asList(s.Principal?.Service).includes(service) &&
      asList<string>(s.Action).some(
        (a) => a === action || (a.endsWith('*') && action.startsWith(a.slice(0, -1))),
      ),
  );
}

/** For every alarm of `template`: its topics admit CloudWatch (topic policy and key policy), scoped. */
function assertEveryAlarmCanPublish(template: Template, label: string): number {
  const alarms = template.findResources('AWS::CloudWatch::Alarm');
  const topics = template.findResources('AWS::SNS::Topic');
  const topicPolicies = Object.values(template.findResources('AWS::SNS::TopicPolicy'));
  const keys = template.findResources('AWS::KMS::Key');
  assert.ok(Object.keys(alarms).length > 0, `${label}: no alarm synthesized`);
  for (const [alarmId, alarm] of Object.entries<Json>(alarms)) {
    const actions = asList<Json>(alarm.Properties.AlarmActions);
    assert.ok(actions.length > 0, `${label}: ${alarmId} notifies nobody`);
    for (const action of actions) {
      const topicId = action.Ref as string;
      assert.ok(topics[topicId], `${label}: ${alarmId} acts on ${JSON.stringify(action)}, not a topic here`);

      const policies = topicPolicies.filter((p) =>
        asList<Json>(p.Properties.Topics).some((t) => t.Ref === topicId),
      );
      const publish = policies.flatMap((p) =>
        admitting(p.Properties.PolicyDocument, 'cloudwatch.amazonaws.com', 'sns:Publish'),
      );
      assert.equal(
        publish.length,
        1,
        `${label}: ${alarmId}: topic ${topicId} must admit cloudwatch.amazonaws.com`,
      );
      const [statement] = publish;
      assert.deepEqual(statement.Resource, { Ref: topicId });
      assert.deepEqual(statement.Condition.StringEquals, { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
      const sourceArn = JSON.stringify(statement.Condition.ArnLike['aws:SourceArn']);
      assert.match(sourceArn, /:cloudwatch:.*AWS::Region.*AWS::AccountId.*:alarm:\*/);

      const keyRef = topics[topicId].Properties.KmsMasterKeyId;
      const keyId = keyRef?.['Fn::GetAtt']?.[0] as string;
      assert.ok(keys[keyId], `${label}: topic ${topicId} must be encrypted with a key of this stack`);
      const keyPolicy = keys[keyId].Properties.KeyPolicy;
      for (const kmsAction of ['kms:Decrypt', 'kms:GenerateDataKey']) {
        const granted = admitting(keyPolicy, 'cloudwatch.amazonaws.com', kmsAction);
        assert.equal(granted.length, 1, `${label}: key ${keyId} must allow CloudWatch ${kmsAction}`);
        // AWS's documented key policy for CloudWatch alarms to encrypted topics has no conditions: KMS
        // may get no aws:SourceAccount/SourceArn from CloudWatch, and a condition would deny every alarm.
        assert.equal(granted[0].Condition, undefined, `${label}: key grant to CloudWatch unconditioned`);
      }
    }
  }
  return Object.keys(alarms).length;
}

function synthWith(envName: (typeof ENV_NAMES)[number], change: (c: EnvironmentConfig) => void) {
  const config = loadConfig(envName);
  change(config);
  const app = testApp();
  const stack = new CartflowStack(app, `Cartflow-${envName}`, { config });
  return { app, stack, template: Template.fromStack(stack) };
}

describe('alert topic: every alarm can publish', () => {
  for (const envName of ENV_NAMES) {
    test(`${envName}: every alarm's topic policy (scoped to this account's alarms) and key policy (as AWS documents) admit cloudwatch.amazonaws.com`, () => {
      const count = assertEveryAlarmCanPublish(synthWithStream(envName).template, envName);
      assert.ok(count >= 20, `${envName}: expected the full alarm set, got ${count}`);
    });
  }

  test('with the stream off too', () => {
    const { template } = synthWith('dev', (c) => (c.stream.enabled = false));
    assertEveryAlarmCanPublish(template, 'dev without stream');
  });

  test('EventBridge (on-failure objects) may publish: topic policy and an unconditioned key grant', () => {
    const { template } = synth('prod');
    const [policy] = Object.values<Json>(template.findResources('AWS::SNS::TopicPolicy'));
    assert.equal(
      admitting(policy.Properties.PolicyDocument, 'events.amazonaws.com', 'sns:Publish').length,
      1,
    );
    const keyGrants = Object.values<Json>(template.findResources('AWS::KMS::Key')).flatMap((k) =>
      admitting(k.Properties.KeyPolicy, 'events.amazonaws.com', 'kms:GenerateDataKey'),
    );
    assert.ok(keyGrants.length >= 1, 'the key must admit events.amazonaws.com');
    // KMS gets no aws:SourceArn/SourceAccount from EventBridge: a condition would drop every message.
    for (const grant of keyGrants) assert.equal(grant.Condition, undefined);
  });
});

describe('alert subscriptions from config', () => {
  test('none by default in every environment', () => {
    for (const envName of ENV_NAMES) {
      synth(envName).template.resourceCountIs('AWS::SNS::Subscription', 0);
    }
  });

  test('e-mail addresses and one HTTPS endpoint subscribe to the alert topic', () => {
    const { app, template } = synthWith('staging', (c) => {
      c.alerts = {
        emails: ['ops@example.com', 'data@example.org'],
        httpsEndpoint: 'https://hooks.example.com/x',
      };
      validateConfig(c);
    });
    const subs = Object.values<Json>(template.findResources('AWS::SNS::Subscription')).map(
      (s) => s.Properties,
    );
    assert.deepEqual(subs.map((s) => [s.Protocol, s.Endpoint]).sort(), [
      ['email', 'data@example.org'],
      ['email', 'ops@example.com'],
      ['https', 'https://hooks.example.com/x'],
    ]);
    const topicId = Object.keys(template.findResources('AWS::SNS::Topic'))[0];
    for (const s of subs) assert.deepEqual(s.TopicArn, { Ref: topicId });
    // An alert SNS gives up on is kept in one dead-letter queue, not dropped (Serverless-SNSRedrivePolicy).
    const queues = Object.keys(template.findResources('AWS::SQS::Queue'));
    const redrive = subs.map((s) => s.RedrivePolicy?.deadLetterTargetArn?.['Fn::GetAtt']?.[0] as string);
    assert.equal(new Set(redrive).size, 1);
    assert.ok(queues.includes(redrive[0]), `subscriptions redrive to ${redrive[0]}`);
    assert.deepEqual(unacknowledgedNagFindings(app), []);
  });

  const invalid: Array<[string, EnvironmentConfig['alerts'], string]> = [
    ['a malformed address', { emails: ['ops.example.com'] }, 'alerts.emails'],
    ['a repeated address', { emails: ['a@example.com', 'A@example.com'] }, 'alerts.emails'],
    [
      'a plain-HTTP endpoint',
      { emails: [], httpsEndpoint: 'http://hooks.example.com/x' },
      'alerts.httpsEndpoint',
    ],
    [
      'credentials in the URL',
      { emails: [], httpsEndpoint: 'https://u:p@hooks.example.com' },
      'alerts.httpsEndpoint',
    ],
    ['a non-URL', { emails: [], httpsEndpoint: 'hooks' }, 'alerts.httpsEndpoint'],
  ];
  for (const [name, alerts, field] of invalid) {
    test(`rejects ${name}, naming ${field}`, () => {
      const config = loadConfig('dev');
      config.alerts = alerts;
      assert.throws(
        () => validateConfig(config),
        (e: unknown) => e instanceof ConfigError && e.field === field,
      );
    });
  }
});
