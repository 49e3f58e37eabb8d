/** The engine and quality settings the batch data steps read from their environment, once. */
import { dirname, join } from 'node:path';
import { HANDLER_ENV } from '../contract';
import { engineSettingsFromEnv, type EngineSettings } from './engine/engine';
import { ConfigurationError } from './errors';
import type { Dataset } from './model';
import { resolveRules, type DatasetRules, type RulesConfig } from './quality/rules';
import type { Env } from './settings';

export interface EngineStepSettings {
  engine: EngineSettings;
  /** Where the step's input and output files live while it runs (next to DuckDB's spill directory). */
  workDirectory: string;
}

export interface QualityStepSettings extends EngineStepSettings {
  /** The quality rules in force: the defaults of docs/quality-rules.md with the environment's threshold. */
  rules: Record<Dataset, DatasetRules>;
}

export function engineStepSettings(env: Env): EngineStepSettings {
  const engine = engineSettingsFromEnv(env);
  return { engine, workDirectory: join(dirname(engine.tempDirectory), 'cartflow-work') };
}

export function qualityStepSettings(env: Env): QualityStepSettings {
  const raw = env[HANDLER_ENV.qualityThreshold];
  let threshold: number | undefined;
  if (raw !== undefined && raw !== '') {
    // A decimal only: Number() would read ' ' as 0 and '0x1' as 1.
    threshold = /^\d*\.?\d+$/.test(raw) ? Number(raw) : NaN;
    if (!(threshold >= 0 && threshold <= 1)) {
      throw new ConfigurationError(
        `${HANDLER_ENV.qualityThreshold}="${raw}" must be a share between 0 and 1 (0.05 for 5 %); set it in lib/config.ts (qualityThreshold).`,
      );
    }
  }
  const rules = resolveRules({ threshold, datasets: ruleOverrides(env[HANDLER_ENV.qualityRules]) });
  return { ...engineStepSettings(env), rules };
}

/** QUALITY_RULES: per-dataset overrides as a JSON object; unset or blank for none. */
function ruleOverrides(raw: string | undefined): RulesConfig['datasets'] {
  if (raw === undefined || raw.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new ConfigurationError(
      `${HANDLER_ENV.qualityRules} is not JSON (${(error as Error).message}); expected {"<dataset>": {"checks": [...], "remove": [...]}}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigurationError(
      `${HANDLER_ENV.qualityRules} must be a JSON object of per-dataset overrides, got ${raw.slice(0, 80)}`,
    );
  }
  return parsed as RulesConfig['datasets'];
}
