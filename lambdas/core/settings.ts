/** Reading a function's settings from its environment, once, with errors that name the variable. */
import { ConfigurationError } from './errors';

export type Env = Readonly<Record<string, string | undefined>>;

export function requireEnv(env: Env, name: string): string {
  const value = env[name];
  if (!value) {
    throw new ConfigurationError(
      `Environment variable ${name} is not set; the stack sets it on every function.`,
    );
  }
  return value;
}

/** A whole number from the environment, `fallback` when unset; `min` bounds it. */
export function integerEnv(env: Env, name: string, fallback: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  // Digits only: Number() would also take '0x10', '1e3' or ' 12 '.
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(Number.isInteger(value) && value >= min)) {
    throw new ConfigurationError(`${name}="${raw}" must be a whole number, at least ${min}.`);
  }
  return value;
}
