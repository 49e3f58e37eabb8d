/**
 * A command that cannot start its services says why and exits: whatever started before the failure (s3rver,
 * database connections) is closed, so nothing keeps the process alive after its error.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCartflow } from '../support/cartflow-cli';

const CATALOG_FILE = new URL('../fixtures/catalog/products.json', import.meta.url).pathname;

/** Every command that starts the embedded PostgreSQL, with arguments that get it that far. */
const COMMANDS: string[][] = [
  ['query', 'select 1'],
  ['drop', CATALOG_FILE],
  ['stream'],
  ['run', '--date', '2026-01-01'],
  ['backfill', '--from', '2026-01-01', '--to', '2026-01-01'],
  ['retry', '2026-01-01-00000000'],
  ['seed', '--date', '2026-01-01'],
  ['status'],
  ['report'],
  ['demo'],
];

// Only root hits the check: the server then runs as `postgres`, which must enter the data dir's parents.
const asRoot = process.platform !== 'win32' && userInfo().uid === 0;

describe('a command whose embedded PostgreSQL cannot start', { skip: !asRoot, timeout: 600_000 }, () => {
  let parent: string;

  before(async () => {
    // A mkdtemp directory is mode 700: the `postgres` user cannot enter it.
    parent = await mkdtemp(join(tmpdir(), 'cartflow-runtime-'));
    await chmod(parent, 0o700);
  });

  after(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  for (const args of COMMANDS) {
    it(`cartflow ${args[0]} prints the reason and exits 1 within 30 s`, async () => {
      // Act
      const ended = await runCartflow(args, {
        dataDir: join(parent, args[0], 'data'),
        // stream needs a broker named before it starts the services; none is reached.
        env: { ...process.env, KAFKA_BROKERS: '127.0.0.1:9' },
        // The guard: killed, and rejected, if it outlives this.
        timeoutMs: 30_000,
      });

      // Assess
      assert.equal(ended.code, 1, ended.err);
      assert.match(
        ended.err,
        new RegExp(
          `cartflow ${args[0]}: The embedded PostgreSQL runs as the "postgres" user .*cannot enter ${parent}`,
        ),
      );
    });
  }
});
