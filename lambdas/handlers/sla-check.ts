/**
 * Scheduled SLA check (EventBridge, every sla.checkIntervalMinutes): reads each dataset's freshness record
 * from the lake (written by record-run and load-events when they load; core/freshness.ts), evaluates it as
 * `cartflow status` does and publishes its age as DataAgeMinutes per dataset, which the freshness alarms
 * compare with the SLA limits. It makes no warehouse call: a timer must not wake Redshift Serverless.
 * A dataset with no data publishes no age: its alarm treats the missing datapoint as a breach.
 */
import {
  evaluateFreshness,
  parseFreshnessRules,
  readFreshnessRecords,
  type FreshnessResult,
  type FreshnessRules,
} from '../core/freshness';
import { parseInstant } from '../core/dates';
import { requireEnv, type Env } from '../core/settings';
import { awsHandler } from '../adapters/aws-entry';
import type { Adapters, Step } from '../adapters/ports';
import { HANDLER_ENV, METRIC } from '../contract';
import { MONITORING_HANDLERS } from '../steps';

export interface SlaCheckSettings {
  rules: FreshnessRules;
}

export const slaCheckSettings = (env: Env): SlaCheckSettings => ({
  rules: parseFreshnessRules(requireEnv(env, HANDLER_ENV.slaRules), HANDLER_ENV.slaRules),
});

/** The EventBridge scheduled event, of which only the scheduled time matters; none means now. */
export interface SlaCheckInput {
  time?: string;
}

export interface SlaCheckResult {
  checkedAt: string;
  results: FreshnessResult[];
}

export function makeSlaCheck({ lake, metrics, logger }: Adapters, { rules }: SlaCheckSettings) {
  return async (input: SlaCheckInput | undefined): Promise<SlaCheckResult> => {
    // The schedule's time, not the clock at start: a delayed invocation measures the moment it stands for.
    const now = input?.time ? parseInstant(input.time) : new Date();
    const results = evaluateFreshness(rules, await readFreshnessRecords(lake, rules), now);
    for (const result of results) {
      if (result.ageMinutes !== null) {
        metrics.count(METRIC.dataAgeMinutes, result.ageMinutes, { dataset: result.dataset });
      }
      if (result.status === 'met') logger.info('freshness SLA met', { ...result });
      else logger.warn(`freshness SLA ${result.status}`, { ...result });
    }
    metrics.flush();
    return { checkedAt: now.toISOString(), results };
  };
}

export const step: Step<SlaCheckSettings, SlaCheckInput | undefined, SlaCheckResult> = {
  name: MONITORING_HANDLERS.SlaCheck,
  settings: slaCheckSettings,
  make: makeSlaCheck,
};
export const handler = awsHandler(step);
