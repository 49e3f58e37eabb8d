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
import { testApp } from '../synth';

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
