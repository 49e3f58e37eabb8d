import { spawn, type ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../local/cli';

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

const BIN = fileURLToPath(new URL('../../bin/cartflow.ts', import.meta.url));

/** The cartflow command as its own process (to interrupt or kill it), with what it printed so far. */
export function spawnCartflow(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--openssl-legacy-provider', '--import', 'tsx', BIN, ...args],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
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
