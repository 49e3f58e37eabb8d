import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HANDLER_ENV } from '../../../lambdas/contract';
import { ConfigurationError } from '../../../lambdas/core/errors';
import { datasetQuality, decideGate } from '../../../lambdas/core/quality/gate';
import { qualityStepSettings } from '../../../lambdas/core/step-settings';
import { loadConfig, qualitySettingsOf } from '../../../lib/config';

/** A quality step's settings as a deploy of `envName` gives them (QUALITY_SETTINGS from lib/config.ts). */
const settingsOf = (envName: string) =>
  qualityStepSettings({
    TMPDIR: '/tmp',
    [HANDLER_ENV.qualitySettings]: qualitySettingsOf(loadConfig(envName)),
  });

describe('qualityStepSettings', () => {
  it("takes each environment's thresholds from its config: the same orders pass in dev and fail in prod", () => {
    // Prepare: 3 of 100 orders quarantined, a check that failed them.
    const tally = { dataset: 'orders' as const, rowsIn: 100, rowsQuarantined: 3 };
    const failed = {
      dataset: 'orders' as const,
      check: 'currency accepted',
      passed: false,
      failedRows: 3,
      example: '{"order_id":"O-1","currency":"XXX"}',
      severity: 'quarantine' as const,
    };

    // Act
    const gates = ['dev', 'prod'].map((envName) => {
      const threshold = settingsOf(envName).rules.orders.quarantineThreshold;
      return decideGate([datasetQuality({ ...tally, threshold }, [failed])], [failed]);
    });

    // Assess
    assert.deepEqual(gates[0], { passed: true });
    assert.equal(gates[1].passed, false);
    assert.match(
      gates[1].failureReason!,
      /orders: 3 of 100 rows quarantined \(3\.00%, more than the threshold 1\.00%\)/,
    );
  });

  it("takes each environment's severities from its config: dev only reports an order outside its date", () => {
    // Act
    const severity = (envName: string) =>
      settingsOf(envName).rules.orders.checks.find((c) => c.name === 'order_ts within date')?.severity;

    // Assess
    assert.deepEqual([severity('dev'), severity('prod')], ['report', 'quarantine']);
  });

  it('lays QUALITY_RULES (a shadow run trying a rule) over the settings', () => {
    // Act
    const settings = qualityStepSettings({
      TMPDIR: '/tmp',
      [HANDLER_ENV.qualitySettings]: qualitySettingsOf(loadConfig('prod')),
      [HANDLER_ENV.qualityRules]: JSON.stringify({ order_items: { quarantineThreshold: 0.2 } }),
    });

    // Assess
    assert.equal(settings.rules.orders.quarantineThreshold, 0.01);
    assert.equal(settings.rules.order_items.quarantineThreshold, 0.2);
  });

  it("names QUALITY_RULES and the setting when a shadow run's override is wrong", () => {
    // Act / Assess
    assert.throws(
      () =>
        qualityStepSettings({
          TMPDIR: '/tmp',
          [HANDLER_ENV.qualitySettings]: '{"threshold": 0.05}',
          [HANDLER_ENV.qualityRules]: '{"orders": {"remove": ["no such check"]}}',
        }),
      {
        name: 'ConfigurationError',
        message: /^QUALITY_RULES: quality setting "QUALITY_RULES\.orders\.remove": got "no such check"/,
      },
    );
  });

  it('names QUALITY_SETTINGS and the setting when they are missing or wrong', () => {
    // Act / Assess
    assert.throws(() => qualityStepSettings({ TMPDIR: '/tmp' }), {
      name: 'ConfigurationError',
      message: /QUALITY_SETTINGS is not set; the stack sets it from lib\/config\.ts \(quality\)/,
    });
    assert.throws(
      () => qualityStepSettings({ TMPDIR: '/tmp', [HANDLER_ENV.qualitySettings]: '{"threshold": 5}' }),
      (error: unknown) =>
        error instanceof ConfigurationError &&
        /QUALITY_SETTINGS \(lib\/config\.ts quality\): quality setting "threshold": got 5; allowed: a share from 0 to 1/.test(
          error.message,
        ),
    );
  });
});
