import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  ConfigError,
  ENV_NAMES,
  freshnessRulesOf,
  loadConfig,
  localFreshnessRulesOf,
  validateConfig,
  type EnvironmentConfig,
} from '../../lib/config';

/** A valid config with one field changed. */
const devWith = (change: (cfg: EnvironmentConfig) => void): EnvironmentConfig => {
  const cfg = loadConfig('dev');
  change(cfg);
  return cfg;
};

describe('loadConfig', () => {
  test('every environment loads and validates', () => {
    for (const envName of ENV_NAMES) {
      // Act
      const cfg = loadConfig(envName);
      // Assess
      assert.equal(cfg.envName, envName);
      assert.doesNotThrow(() => validateConfig(cfg));
    }
  });

  test('no env means dev', () => {
    assert.equal(loadConfig(undefined).envName, 'dev');
  });

  test('prod and staging retain data; dev may destroy it', () => {
    assert.equal(loadConfig('prod').removalPolicy, 'retain');
    assert.equal(loadConfig('staging').removalPolicy, 'retain');
    assert.equal(loadConfig('dev').removalPolicy, 'destroy');
  });

  test('every environment reads the clickstream topic with a valid mapping', () => {
    for (const envName of ENV_NAMES) {
      const { stream } = loadConfig(envName);
      assert.equal(stream.topic, 'clickstream');
      assert.ok(stream.batchSize >= 1 && stream.batchSize <= 10_000);
      assert.ok(stream.pollers.maximum <= stream.partitions);
    }
  });

  test('the quality threshold is 5 %, prod holds orders to 1 % and dev only reports an order outside its date', () => {
    for (const envName of ENV_NAMES) assert.equal(loadConfig(envName).quality.threshold, 0.05);
    assert.equal(loadConfig('prod').quality.datasets?.orders?.quarantineThreshold, 0.01);
    assert.deepEqual(loadConfig('dev').quality.datasets?.orders?.severity, {
      'order_ts within date': 'report',
    });
  });

  test('an unknown env names env and the allowed values', () => {
    // Act + Assess
    assert.throws(
      () => loadConfig('qa'),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.field, 'env');
        assert.equal(error.value, 'qa');
        assert.match(error.message, /"env".*"qa".*dev, staging, prod/);
        return true;
      },
    );
  });

  test('each call returns its own copy', () => {
    // Prepare
    const first = loadConfig('dev');
    // Act
    first.slaMinutes = 1;
    // Assess
    assert.equal(loadConfig('dev').slaMinutes, 60);
  });
});

describe('validateConfig', () => {
  const cases: Array<[string, (cfg: EnvironmentConfig) => void, string, RegExp]> = [
    ['threshold above 1', (c) => (c.quality.threshold = 1.5), 'quality.threshold', /1\.5.*from 0 to 1/],
    ['negative threshold', (c) => (c.quality.threshold = -0.1), 'quality.threshold', /from 0 to 1/],
    [
      "a dataset's threshold above 1",
      (c) => (c.quality.datasets = { orders: { quarantineThreshold: 5 } }),
      'quality.datasets.orders.quarantineThreshold',
      /from 0 to 1/,
    ],
    [
      'a severity of a check that does not exist',
      (c) => (c.quality.datasets = { products: { severity: { 'colour accepted': 'report' } } }),
      'quality.datasets.products.severity',
      /"colour accepted".*'currency accepted'/,
    ],
    [
      'settings of an unknown dataset',
      (c) => (c.quality.datasets = { customers: {} } as never),
      'quality.datasets',
      /"customers".*products, orders, order_items/,
    ],
    ['batch version 0', (c) => (c.batchLiveVersion = 0), 'batchLiveVersion', /an integer from 1/],
    ['fractional batch version', (c) => (c.batchLiveVersion = 2.5), 'batchLiveVersion', /an integer from 1/],
    [
      'RPU off the 8-step',
      (c) => (c.redshift.baseCapacityRpu = 12),
      'redshift.baseCapacityRpu',
      /4, or 8 to 512 in steps of 8/,
    ],
    [
      'RPU between 4 and 8',
      (c) => (c.redshift.baseCapacityRpu = 6),
      'redshift.baseCapacityRpu',
      /4, or 8 to 512/,
    ],
    ['5-field cron', (c) => (c.scheduleCron = 'cron(0 3 * * *)'), 'scheduleCron', /EventBridge expression/],
    ['cron without ?', (c) => (c.scheduleCron = 'cron(0 3 * * * *)'), 'scheduleCron', /'\?'/],
    [
      'retention not a RetentionDays',
      (c) => (c.logRetentionDays = 42 as RetentionDays),
      'logRetentionDays',
      /365/,
    ],
    ['backoff of 1 (no backoff)', (c) => (c.retry.backoffRate = 1), 'retry.backoffRate', /above 1/],
    [
      'Lambda timeout past the SLA',
      (c) => Object.assign(c, { slaMinutes: 10, lambdaTimeoutSeconds: 900 }),
      'lambdaTimeoutSeconds',
      /less than the SLA/,
    ],
    [
      'DuckDB /tmp below the Lambda minimum',
      (c) => (c.engine.ephemeralStorageMb = 256),
      'engine.ephemeralStorageMb',
      /from 512 to 10240/,
    ],
    ['DuckDB memory past 10 GB', (c) => (c.engine.memoryMb = 12_288), 'engine.memoryMb', /from 128 to 10240/],
    ['a split into one bucket', (c) => (c.volume.bucketCount = 1), 'volume.bucketCount', /from 2 to 1000/],
    [
      'more buckets than States.ArrayRange builds',
      (c) => (c.volume.bucketCount = 1001),
      'volume.bucketCount',
      /from 2 to 1000/,
    ],
    [
      'more concurrent buckets than buckets',
      (c) => Object.assign(c.volume, { bucketCount: 4, maxConcurrency: 5 }),
      'volume.maxConcurrency',
      /from 1 to 4/,
    ],
    [
      'a threshold of no lines',
      (c) => (c.volume.bucketThresholdLines = 0),
      'volume.bucketThresholdLines',
      /from 1/,
    ],
    [
      'a threshold above the day one function finishes (bench:scale figures)',
      (c) => (c.volume.bucketThresholdLines = 500_000_000),
      'volume.bucketThresholdLines',
      /at most \d+ order lines, the largest day one (Transform|Validate) takes \(bound by (time|\/tmp|memory)\) at engine.memoryMb 2048/,
    ],
    [
      'a shorter timeout that leaves the threshold too big a day',
      (c) => Object.assign(c, { lambdaTimeoutSeconds: 30 }),
      'volume.bucketThresholdLines',
      /80 % of lambdaTimeoutSeconds 30/,
    ],
    ['IA before 30 days', (c) => (c.lifecycle.rawToIaDays = 10), 'lifecycle.rawToIaDays', /from 30/],
    [
      'bad database name',
      (c) => (c.redshift.databaseName = 'Cart-Flow'),
      'redshift.databaseName',
      /lower-case/,
    ],
    ['batch size above 10000', (c) => (c.stream.batchSize = 20_000), 'stream.batchSize', /from 1 to 10000/],
    ['batch size of 0', (c) => (c.stream.batchSize = 0), 'stream.batchSize', /from 1 to 10000/],
    [
      'batching window above 300 s',
      (c) => (c.stream.maxBatchingWindowSeconds = 301),
      'stream.maxBatchingWindowSeconds',
      /from 0 to 300/,
    ],
    [
      'starting position AT_TIMESTAMP',
      (c) => (c.stream.startingPosition = 'AT_TIMESTAMP' as 'LATEST'),
      'stream.startingPosition',
      /LATEST or TRIM_HORIZON/,
    ],
    ['topic with a space', (c) => (c.stream.topic = 'click stream'), 'stream.topic', /1-249 characters/],
    ['zero partitions', (c) => (c.stream.partitions = 0), 'stream.partitions', /from 1 to 120/],
    [
      'load interval of 0 minutes',
      (c) => (c.stream.eventsLoadIntervalMinutes = 0),
      'stream.eventsLoadIntervalMinutes',
      /from 1 to 1440/,
    ],
    [
      'fractional lag threshold',
      (c) => (c.stream.offsetLagThreshold = 0.5),
      'stream.offsetLagThreshold',
      /an integer/,
    ],
    ['negative retries', (c) => (c.stream.retryAttempts = -1), 'stream.retryAttempts', /from 0 to 10000/],
    [
      'a reserved concurrency of 0 (the function would never run)',
      (c) => (c.reservedConcurrency = { loadEvents: 0 }),
      'reservedConcurrency.loadEvents',
      /from 1 to 1000/,
    ],
    [
      'a fractional reserved concurrency',
      (c) => (c.reservedConcurrency = { slaCheck: 1.5 }),
      'reservedConcurrency.slaCheck',
      /an integer from 1 to 1000/,
    ],
    [
      'more pollers than partitions',
      (c) => Object.assign(c.stream, { partitions: 2, pollers: { minimum: 1, maximum: 3 } }),
      'stream.pollers.maximum',
      /from 1 to 2/,
    ],
  ];
  for (const [name, change, field, allowed] of cases) {
    test(`rejects ${name}, naming ${field}`, () => {
      // Prepare
      const cfg = devWith(change);
      // Act + Assess
      assert.throws(
        () => validateConfig(cfg),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError, String(error));
          assert.equal(error.field, field);
          assert.match(error.message, allowed);
          return true;
        },
      );
    });
  }

  test('prod must retain data', () => {
    // Prepare
    const cfg = loadConfig('prod');
    cfg.removalPolicy = 'destroy';
    // Act + Assess
    assert.throws(() => validateConfig(cfg), /"removalPolicy".*'retain' for prod/);
  });
});

describe('a new account', () => {
  test('no environment reserves Lambda concurrency unless told to (a new account has a quota of 10)', () => {
    for (const envName of ENV_NAMES) assert.equal(loadConfig(envName).reservedConcurrency, undefined);
  });

  test('dev starts on the smallest Redshift Serverless base, 4 RPUs, which validates', () => {
    // Prepare
    const dev = loadConfig('dev');
    // Act + Assess
    assert.equal(dev.redshift.baseCapacityRpu, 4);
    assert.doesNotThrow(() => validateConfig(dev));
  });

  test('dev deploys no stream, so no events SLA; the local stand-in, which always streams, keeps it', () => {
    // Prepare
    const dev = loadConfig('dev');
    // Act
    const deployed = Object.keys(freshnessRulesOf(dev));
    const local = Object.keys(localFreshnessRulesOf(dev));
    // Assess
    assert.equal(dev.stream.enabled, false);
    assert.deepEqual(deployed, ['products', 'orders', 'order_items']);
    assert.deepEqual(local, ['products', 'orders', 'order_items', 'events']);
  });

  test('a reserved concurrency of 1 per scheduled function validates', () => {
    // Prepare
    const cfg = devWith((c) => (c.reservedConcurrency = { loadEvents: 1, slaCheck: 1 }));
    // Act + Assess
    assert.doesNotThrow(() => validateConfig(cfg));
  });
});

describe('the source network of prod', () => {
  test('prod says explicitly that its extract goes over the internet', () => {
    assert.equal(loadConfig('prod').sourceNetwork, 'public');
  });

  test('a prod config without sourceNetwork is refused, naming the setting and both choices', () => {
    // Prepare
    const cfg = loadConfig('prod');
    delete cfg.sourceNetwork;
    // Act + Assess
    assert.throws(
      () => validateConfig(cfg),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.equal(error.field, 'sourceNetwork');
        assert.match(error.message, /for prod, one of \{ vpcId, privateSubnetIds,.*\} .* or 'public'/);
        return true;
      },
    );
  });

  test('dev and staging may leave it out (public), and no environment takes a word other than public', () => {
    // Prepare
    const staging = loadConfig('staging');
    const other = devWith((c) => (c.sourceNetwork = 'private' as 'public'));
    // Act + Assess
    assert.equal(staging.sourceNetwork, undefined);
    assert.doesNotThrow(() => validateConfig(staging));
    assert.throws(() => validateConfig(other), /"sourceNetwork": got "private"; allowed: \{ vpcId/);
  });
});

describe('recovery window', () => {
  test('a window longer than the events lifecycle keeps the compacted event files is refused, naming both', () => {
    // Prepare
    const cfg = devWith((c) => (c.recovery.windowDays = (c.lifecycle.rawExpireDays ?? 0) + 1));
    // Act + Assess
    assert.throws(
      () => validateConfig(cfg),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.equal(error.field, 'recovery.windowDays');
        assert.match(error.message, /at most lifecycle.rawExpireDays \(90\).*compacted event files/);
        return true;
      },
    );
  });

  test('without an events expiry any window up to 100 years holds; a window of 0 days does not', () => {
    // Prepare
    const prod = loadConfig('prod');
    prod.recovery.windowDays = 36_500;
    const none = devWith((c) => (c.recovery.windowDays = 0));
    // Act + Assess
    assert.equal(prod.lifecycle.rawExpireDays, undefined);
    assert.doesNotThrow(() => validateConfig(prod));
    assert.throws(() => validateConfig(none), /"recovery.windowDays": got 0; allowed: an integer from 1/);
  });
});
