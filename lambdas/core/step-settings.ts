/** The engine and quality settings the batch data steps read from their environment, once. */
import { dirname, join } from 'node:path';
import { HANDLER_ENV } from '../contract';
import { engineSettingsFromEnv, type EngineSettings } from './engine/engine';
import { ConfigurationError } from './errors';
import type { Dataset } from './model';
import {
  resolveRules,
  RulesConfigError,
  type DatasetOverrides,
  type DatasetRules,
  type RulesConfig,
} from './quality/rules';
import type { Env } from './settings';

export interface EngineStepSettings {
  engine: EngineSettings;
  /** Where the step's input and output files live while it runs (next to DuckDB's spill directory). */
  workDirectory: string;
}

export interface QualityStepSettings extends EngineStepSettings {
  /** The quality rules in force: the defaults of docs/quality-rules.md with the environment's settings. */
  rules: Record<Dataset, DatasetRules>;
  /** The quarantine threshold of a source dataset a declaration adds, whose rules are derived (derivedRules). */
  threshold: number;
}

export function engineStepSettings(env: Env): EngineStepSettings {
  const engine = engineSettingsFromEnv(env);
  return { engine, workDirectory: join(dirname(engine.tempDirectory), 'cartflow-work') };
}

export function qualityStepSettings(env: Env): QualityStepSettings {
  const settings = jsonObject(env, HANDLER_ENV.qualitySettings, true);
  const trial = jsonObject(env, HANDLER_ENV.qualityRules, false);
  try {
    const config = settings as unknown as RulesConfig;
    const rules = resolveRules(config, trial as DatasetOverrides | undefined);
    return { ...engineStepSettings(env), rules, threshold: config.threshold };
  } catch (error) {
    if (!(error instanceof RulesConfigError)) throw error;
    const source = error.setting.startsWith(HANDLER_ENV.qualityRules)
      ? HANDLER_ENV.qualityRules
      : `${HANDLER_ENV.qualitySettings} (lib/config.ts quality)`;
    throw new ConfigurationError(`${source}: ${error.message}`);
  }
}

const HINTS: Record<string, string> = {
  [HANDLER_ENV.qualitySettings]: 'the stack sets it from lib/config.ts (quality)',
  [HANDLER_ENV.qualityRules]: 'expected {"<dataset>": {"checks": [...], "remove": [...]}}',
};

/**
 * A JSON object from the environment: QUALITY_SETTINGS (`required`, the stack sets it) or QUALITY_RULES
 * (a shadow run's changed rules, unset or blank for none).
 */
function jsonObject(env: Env, name: string, required: boolean): Record<string, unknown> | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') {
    if (!required) return undefined;
    throw new ConfigurationError(`Environment variable ${name} is not set; ${HINTS[name]}.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new ConfigurationError(`${name} is not JSON (${(error as Error).message}); ${HINTS[name]}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigurationError(`${name} must be a JSON object, got ${raw.slice(0, 80)}; ${HINTS[name]}`);
  }
  return parsed as Record<string, unknown>;
}
