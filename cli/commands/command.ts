import { UsageError } from '../usage-error';
import type { parseArgs } from 'node:util';
import { assertBusinessDate, parseInstant } from '../../lambdas/core/dates';
import type { AwsEnvironment } from '../aws/environment';
import type { LocalRuntime, LocalServices } from '../../local/runtime';

/** Every option any command takes (parseArgs is strict: a command's new option is one line here). */
export const OPTIONS = {
  'data-dir': { type: 'string' },
  date: { type: 'string' },
  orders: { type: 'string' },
  seed: { type: 'string' },
  'bad-rows': { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  concurrency: { type: 'string' },
  force: { type: 'boolean' },
  events: { type: 'string' },
  topic: { type: 'string' },
  'batch-size': { type: 'string' },
  'window-ms': { type: 'string' },
  json: { type: 'boolean' },
  env: { type: 'string' },
  profile: { type: 'string' },
  region: { type: 'string' },
  out: { type: 'string' },
  now: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type Values = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>
>['values'];

/** What a command runs with: its options, its positionals after the command name, and lazy local services. */
export interface CommandContext {
  readonly values: Values;
  /** Positionals after the command name. */
  readonly rest: string[];
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
  /** The full local runtime (synthesized state machines, warehouse DDL applied), started on first use. */
  runtime(): Promise<LocalRuntime>;
  /** Only the services (lake, warehouse, source): for read-only commands that must not wait on a running load. */
  services(): Promise<LocalServices>;
  /** With --env: the deployed environment (stack outputs, SDK clients), opened on first use. */
  readonly aws?: () => Promise<AwsEnvironment>;
}

export interface Command {
  /** The command's lines in the usage text: `name  [options]  what it does`, continuation lines indented. */
  readonly usage: string;
  /** No per-step lines on stderr (the command shows its own progress). */
  readonly quietSteps?: boolean;
  /** Takes --env (runs against a deployed environment through `context.aws`). */
  readonly aws?: boolean;
  /** With --env: what the command needs the Redshift Data API for (said when the API is unavailable). */
  readonly dataApiUse?: string;
  /** Exit code: 0 done, 1 failed; throw UsageError for a bad call (exit code 2). */
  run(context: CommandContext): Promise<number>;
}

export const ms = (value: number) => (value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${value} ms`);

export function dateOption(values: Values, name: 'date' | 'from' | 'to', fallback?: string): string {
  const value = values[name] ?? fallback;
  if (value === undefined) throw new UsageError(`--${name} is required (YYYY-MM-DD)`);
  try {
    return assertBusinessDate(value, `--${name}`);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function intOption(
  values: Values,
  name: 'orders' | 'seed' | 'bad-rows' | 'concurrency' | 'events' | 'batch-size' | 'window-ms',
  fallback: number,
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new UsageError(`--${name} must be a whole number >= 0, got "${raw}"`);
  return value;
}

export function timeOption(values: Values, name: 'from' | 'to'): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  // A date alone is its UTC midnight; a time without an offset is UTC too (never the laptop's zone).
  try {
    return parseInstant(raw).getTime();
  } catch (error) {
    throw new UsageError(`--${name}: ${(error as Error).message}`);
  }
}

/** The brokers KAFKA_BROKERS names (host:port,…); none when it is unset or blank. */
export const namedBrokers = (): string[] =>
  (process.env.KAFKA_BROKERS ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);

/** The data dir of the local services: --data-dir, else $CARTFLOW_DATA_DIR, else ./.data. */
export const dataDirOf = (values: Values): string =>
  values['data-dir'] ?? process.env.CARTFLOW_DATA_DIR ?? '.data';

export function kafkaBrokers(): string[] {
  const brokers = namedBrokers();
  if (brokers.length === 0) {
    throw new UsageError(
      'KAFKA_BROKERS is not set; start a broker with: export KAFKA_BROKERS="$(bash localstack/kafka/broker.sh start)"',
    );
  }
  return brokers;
}
