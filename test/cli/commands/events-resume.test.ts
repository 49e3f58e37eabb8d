import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ARRIVALS_STATE_KEY, parseArrivalState } from '../../../lambdas/core/clickstream/load';
import { startLocalServices } from '../../../local/runtime';
import { cartflow } from '../../support/cartflow-cli';

/** The loader's state in the local lake. */
async function stateOf(dataDir: string) {
  const services = await startLocalServices({ dataDir });
  try {
    return parseArrivalState(await services.lake.getText(ARRIVALS_STATE_KEY));
  } finally {
    await services.close();
  }
}

describe('cartflow events-resume', () => {
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'cartflow-events-resume-'));
  });

  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('writes the position from the start of the date, refuses to replace one without --force', async () => {
    // Act
    const written = await cartflow('events-resume', '--from', '2026-06-01', '--data-dir', dataDir);
    const first = await stateOf(dataDir);
    const refused = await cartflow('events-resume', '--from', '2026-06-02', '--data-dir', dataDir);
    const forced = await cartflow('events-resume', '--from', '2026-06-02', '--force', '--data-dir', dataDir);

    // Assess
    assert.equal(written.code, 0, written.err);
    assert.match(
      written.out,
      /^wrote s3:\/\/\S+\/state\/events\/arrivals\.json: .* from 2026-06-01 00:00 UTC on\n$/,
    );
    assert.deepEqual(first, { openFrom: 'dt=2026-06-01/hour=00', done: [] });
    assert.equal(refused.code, 1);
    assert.match(refused.err, /arrivals\.json exists: load-events has its position; --force replaces it/);
    assert.equal(forced.code, 0, forced.err);
    assert.deepEqual(await stateOf(dataDir), { openFrom: 'dt=2026-06-02/hour=00', done: [] });
  });

  it('refuses a --from that is not a date, with the usage', async () => {
    // Act
    const result = await cartflow('events-resume', '--from', '2026-6-1', '--data-dir', dataDir);

    // Assess
    assert.equal(result.code, 2);
    assert.match(result.err, /--from/);
  });
});
