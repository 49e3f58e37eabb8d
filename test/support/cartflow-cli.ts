import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../cli/cli';

/** Runs a cartflow command in this process, its stdout and stderr captured. */
export async function cartflow(...args: string[]) {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  out.on('data', (c: Buffer) => chunks.out.push(c));
  err.on('data', (c: Buffer) => chunks.err.push(c));
  // main() takes the process's streams; a PassThrough stands in for a terminal here.
  const code = await main(
    args,
    out as unknown as typeof process.stdout,
    err as unknown as typeof process.stderr,
  );
  return { code, out: Buffer.concat(chunks.out).toString(), err: Buffer.concat(chunks.err).toString() };
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/cartflow.ts', import.meta.url));
/** Node's arguments for a cartflow command (tsx, and the legacy OpenSSL provider s3rver needs). */
const nodeArgs = (args: string[]) => ['--openssl-legacy-provider', '--import', 'tsx', BIN, ...args];

/** How a cartflow command run in a process of its own ended, and all it printed. */
export interface CartflowEnded {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/** How long a command's process may live on after its last output: stopping its servers, nothing more. */
export const EXIT_AFTER_OUTPUT_MS = 10_000;

/** A command's process outlived its output (something it started still held the event loop). */
export class LingeringProcessError extends Error {
  override name = 'LingeringProcessError';
}

/**
 * One cartflow command in a process of its own over `dataDir`, run to its end (or to its death by a signal,
 * as a CARTFLOW_FAULT kill does), with `env` as its whole environment. The guard every such test gets: it
 * rejects with LingeringProcessError when the process exits more than EXIT_AFTER_OUTPUT_MS after its last
 * output, or is still alive `timeoutMs` after it started (then it is killed).
 */
export function runCartflow(
  args: string[],
  options: { dataDir: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<CartflowEnded> {
  return new Promise((done, fail) => {
    const started = Date.now();
    let lastOutput = started;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    const child = execFile(
      process.execPath,
      nodeArgs([...args, '--data-dir', options.dataDir]),
      { cwd: ROOT, env: options.env ?? process.env, maxBuffer: 16 << 20 },
      // A failing or killed command is an outcome to assert on, not an error: the code or signal says it.
      (_error, out, err) => {
        clearTimeout(timer);
        const ended = { code: child.exitCode, signal: child.signalCode, out, err };
        const lingered = Date.now() - lastOutput;
        if (options.timeoutMs !== undefined && Date.now() - started >= options.timeoutMs)
          fail(lingering(args, `was still running after ${options.timeoutMs} ms (killed)`, ended));
        else if (child.signalCode === null && lingered > EXIT_AFTER_OUTPUT_MS)
          fail(lingering(args, `exited ${lingered} ms after its last output`, ended));
        else done(ended);
      },
    );
    const seen = () => (lastOutput = Date.now());
    child.stdout!.on('data', seen);
    child.stderr!.on('data', seen);
  });
}

const lingering = (args: string[], what: string, ended: CartflowEnded) =>
  new LingeringProcessError(
    `cartflow ${args.join(' ')} ${what}; it printed:\n${ended.out}${ended.err}`.slice(0, 4000),
  );

/** The cartflow command as its own process (to interrupt or kill it), with what it printed so far. */
export function spawnCartflow(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child: ChildProcess = spawn(process.execPath, nodeArgs(args), {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const printed = { out: '', err: '' };
  child.stdout!.on('data', (c: Buffer) => (printed.out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (printed.err += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  /** Resolves once stderr matches `pattern` (rejects if the process ends first). */
  const stderrMatches = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pattern.test(printed.err)) {
          child.stderr!.off('data', check);
          resolve();
        }
      };
      child.stderr!.on('data', check);
      void exited.then(() => reject(new Error(`exited before stderr matched ${pattern}:\n${printed.err}`)));
      check();
    });
  return { child, printed, exited, stderrMatches };
}
