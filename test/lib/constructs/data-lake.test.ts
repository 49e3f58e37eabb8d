import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ENV_NAMES, loadConfig } from '../../../lib/config';
import { DataLake } from '../../../lib/constructs/data-lake';
import {
  ARRIVALS_STATE_KEY,
  eventLoadKeys,
  newLoadId,
  planCompaction,
} from '../../../lambdas/core/clickstream/load';
import { FRESHNESS_DATASETS, freshnessRecordKey } from '../../../lambdas/core/freshness';
import { layout } from '../../../lambdas/core/layout';
import { testApp, unacknowledgedNagFindings } from '../synth';

interface Rule {
  Id: string;
  Prefix?: string;
  ExpirationInDays?: number;
  ExpirationDate?: string;
  Transitions?: unknown[];
}

/** The lake bucket's lifecycle rules for an environment's config. */
function lakeRules(envName: (typeof ENV_NAMES)[number]): Rule[] {
  const config = loadConfig(envName);
  const stack = new Stack(testApp(), `Lake-${envName}`);
  new DataLake(stack, 'Lake', { lifecycle: config.lifecycle });
  const buckets = Object.values(Template.fromStack(stack).findResources('AWS::S3::Bucket')) as {
    Properties: { LifecycleConfiguration: { Rules: Rule[] } };
  }[];
  return buckets
    .flatMap((b) => b.Properties.LifecycleConfiguration.Rules)
    .filter((r) => r.Id !== 'expire-access-logs');
}

/** The fewest days any rule whose prefix matches `key` keeps it (S3 applies the shortest); undefined: forever. */
const keptDays = (rules: Rule[], key: string): number | undefined => {
  const days = rules
    .filter((r) => r.ExpirationInDays !== undefined && key.startsWith(r.Prefix ?? ''))
    .map((r) => r.ExpirationInDays!);
  return days.length === 0 ? undefined : Math.min(...days);
};

// Keys as the pipeline writes them.
const loadId = newLoadId(new Date('2026-04-02T23:30:00Z'), '1a2b3c4d');
const [compacted] = planCompaction(
  [{ key: 'events/clickstream/dt=2026-04-02/hour=23/clickstream-0-0-99.parquet', etag: 'e', size: 10 }],
  1,
);
const curated = layout.curated('fact_order', '2026-04-02');

describe('DataLake lifecycle and the recovery window', () => {
  test('curated and compacted event files outlive recovery.windowDays in every environment', () => {
    for (const envName of ENV_NAMES) {
      // Prepare
      const { recovery } = loadConfig(envName);

      // Act
      const rules = lakeRules(envName);

      // Assess
      for (const key of [curated, compacted.key]) {
        const kept = keptDays(rules, key);
        assert.ok(
          kept === undefined || kept >= recovery.windowDays,
          `${envName}: ${key} expires after ${kept} days, within recovery.windowDays ${recovery.windowDays}`,
        );
      }
    }
  });

  test("the events load's manifests and ledger files still expire after lifecycle.stagedExpireDays", () => {
    // Act
    const rules = lakeRules('dev');

    // Assess
    const { stagedExpireDays } = loadConfig('dev').lifecycle;
    assert.equal(keptDays(rules, eventLoadKeys.manifest(loadId)), stagedExpireDays);
    assert.equal(keptDays(rules, eventLoadKeys.ledger(loadId)), stagedExpireDays);
  });

  test('the freshness records the SLA check reads never expire (a missing record would alarm as no data)', () => {
    for (const envName of ENV_NAMES) {
      // Act
      const rules = lakeRules(envName);

      // Assess
      for (const dataset of FRESHNESS_DATASETS) {
        assert.equal(keptDays(rules, freshnessRecordKey(dataset)), undefined, `${envName}: ${dataset}`);
      }
    }
  });

  test("no rule expires or tiers the events loader's state in any environment (only old versions go)", () => {
    for (const envName of ENV_NAMES) {
      // Act
      const rules = lakeRules(envName);

      // Assess: the bucket-wide housekeeping (noncurrent versions, incomplete uploads) is the only match.
      const covering = rules.filter(
        (r) =>
          ARRIVALS_STATE_KEY.startsWith(r.Prefix ?? '') &&
          (r.ExpirationInDays !== undefined || r.ExpirationDate !== undefined || r.Transitions !== undefined),
      );
      assert.deepEqual(
        covering.map((r) => r.Id),
        [],
        `${envName}: ${ARRIVALS_STATE_KEY}`,
      );
    }
  });
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation JSON, asserted field by field
type Json = any;

const REPLICA = {
  destinationBucketArn: 'arn:aws:s3:::cartflow-prod-lake-replica',
  kmsKeyArn: 'arn:aws:kms:eu-central-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
};

/** The lake of prod's config, with `replication` when given: its template and the app for cdk-nag. */
function prodLake(replication?: typeof REPLICA) {
  const app = testApp();
  const stack = new Stack(app, 'Lake-prod', { env: { account: '111122223333', region: 'eu-west-1' } });
  const lake = new DataLake(stack, 'Lake', { lifecycle: loadConfig('prod').lifecycle, replication });
  return { app, lake, template: Template.fromStack(stack) };
}

describe('DataLake cross-region replication (recovery.lakeReplication)', () => {
  test('off by default: no replication rule and no replication role in any environment', () => {
    for (const envName of ENV_NAMES) {
      // Prepare
      const { recovery } = loadConfig(envName);
      const { lake, template } = prodLake(recovery.lakeReplication);

      // Assess
      assert.equal(recovery.lakeReplication, undefined, envName);
      assert.equal(lake.replicationRole, undefined);
      const buckets = Object.values<Json>(template.findResources('AWS::S3::Bucket'));
      assert.ok(buckets.every((b) => b.Properties.ReplicationConfiguration === undefined));
      const roles = Object.values<Json>(template.findResources('AWS::IAM::Role'));
      assert.ok(!JSON.stringify(roles).includes('s3.amazonaws.com'), 'no role S3 assumes');
    }
  });

  test('on: every object to the destination with its key, no deletions, a least-privilege role, nag-clean', () => {
    // Act
    const { app, lake, template } = prodLake(REPLICA);

    // Assess
    const [bucket] = Object.values<Json>(template.findResources('AWS::S3::Bucket')).filter(
      (b) => b.Properties.ReplicationConfiguration,
    );
    const [rule] = bucket.Properties.ReplicationConfiguration.Rules;
    assert.deepEqual(rule, {
      Id: 'lake-replica',
      Status: 'Enabled',
      Priority: 0,
      Filter: { Prefix: '' },
      DeleteMarkerReplication: { Status: 'Disabled' },
      Destination: {
        Bucket: REPLICA.destinationBucketArn,
        EncryptionConfiguration: { ReplicaKmsKeyID: REPLICA.kmsKeyArn },
      },
      SourceSelectionCriteria: { SseKmsEncryptedObjects: { Status: 'Enabled' } },
    });
    assert.ok(lake.replicationRole);
    const [policy] = Object.values<Json>(template.findResources('AWS::IAM::Policy'));
    const statements = Object.fromEntries(
      policy.Properties.PolicyDocument.Statement.map((s: Json) => [s.Sid, s]),
    );
    assert.deepEqual(Object.keys(statements).sort(), [
      'DestinationKeyEncrypt',
      'DestinationWriteReplicas',
      'SourceKeyDecrypt',
      'SourceReadVersions',
      'SourceReplicationConfiguration',
    ]);
    assert.deepEqual(statements.DestinationWriteReplicas.Action, ['s3:ReplicateObject', 's3:ReplicateTags']);
    assert.equal(statements.DestinationWriteReplicas.Resource, `${REPLICA.destinationBucketArn}/*`);
    assert.deepEqual(statements.DestinationKeyEncrypt.Action, ['kms:Encrypt', 'kms:GenerateDataKey']);
    assert.equal(statements.DestinationKeyEncrypt.Resource, REPLICA.kmsKeyArn);
    assert.deepEqual(statements.DestinationKeyEncrypt.Condition, {
      StringEquals: { 'kms:ViaService': 's3.eu-central-1.amazonaws.com' },
    });
    assert.equal(statements.SourceKeyDecrypt.Action, 'kms:Decrypt');
    assert.deepEqual(statements.SourceKeyDecrypt.Condition, {
      StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' },
    });
    assert.ok(
      !JSON.stringify(policy).includes('ReplicateDelete') && !JSON.stringify(policy).includes('s3:*'),
      'no delete replication, no wildcard actions',
    );
    assert.deepEqual(unacknowledgedNagFindings(app), []);
  });
});
