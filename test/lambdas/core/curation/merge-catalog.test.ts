import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gateCatalogFile } from '../../../../lambdas/core/curation/merge-catalog';
import { Engine } from '../../../../lambdas/core/engine/engine';
import { ROW_NUMBER } from '../../../../lambdas/core/quality/compile-sql';
import { resolveRules } from '../../../../lambdas/core/quality/rules';
import { FIXTURE_RUN, readChecksFixture } from '../../../support/checks-fixture';

describe('gateCatalogFile', () => {
  let dir: string;
  let engine: Engine;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cartflow-merge-catalog-'));
    engine = await Engine.open({ memoryLimitMb: 256, tempDirectory: join(dir, 'spill'), threads: 1 });
  });
  after(async () => {
    engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('fails the file on a failed dataset-level check, and its tally says so too', async () => {
    // Prepare: a threshold no share exceeds, and a row_count the 9 rows of the file miss.
    const rules = resolveRules({
      threshold: 1,
      datasets: {
        products: {
          checks: [{ name: 'enough products', kind: 'row_count', min: 100, severity: 'quarantine' }],
        },
      },
    }).products;
    const source = `(SELECT *, row_number() OVER () AS ${ROW_NUMBER} FROM ${readChecksFixture('products')})`;

    // Act: 50 products kept from the current catalog, 1 record of the file unreadable.
    const gate = await gateCatalogFile(engine, FIXTURE_RUN, { source, rejected: 1 }, 50, rules);

    // Assess
    assert.equal(gate.passed, false);
    assert.match(gate.failureReason!, /check 'enough products' failed/);
    assert.equal(gate.quality.rowsIn, 60);
    assert.equal(gate.quality.passed, false);
    assert.equal(gate.checked.quality.passed, false);
  });
});
