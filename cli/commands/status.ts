import { UsageError } from '../usage-error';
import { parseInstant } from '../../lambdas/core/dates';
import { freshnessRulesOf, loadConfig, localFreshnessRulesOf } from '../../lib/config';
import { executionHistory, offsetLag } from '../aws/status-sources';
import { journalRunHistory } from '../../local/run-journal';
import { gatherStatus, type StatusPorts } from '../../local/status';
import { formatStatus } from '../status-text';
import { namedBrokers, type Command } from './command';

export const command: Command = {
  usage: `status [--json] [--now T]                   recent runs per date with step times, freshness against the
                                              SLAs, failed checks with an example row, stream lag, the newest
                                              on-failure objects; --json: one object for scripts; --now T
                                              evaluates freshness at T instead of now (ISO, UTC)`,
  aws: true,
  dataApiUse: 'for the runs, freshness and failed checks in ops.* and analytics.*',
  async run({ values, out, services, aws }) {
    const now = nowOption(values.now);
    let ports: StatusPorts;
    let envName: string;
    if (aws) {
      const environment = await aws();
      envName = environment.envName;
      const fn = environment.outputs.streamFunctionName;
      ports = {
        warehouse: environment.warehouse,
        lake: environment.lake,
        history: executionHistory(environment.sfn, environment.outputs.batchStateMachineArn),
        ...(fn
          ? { lag: offsetLag(environment.cloudWatch, fn, () => now) }
          : {
              lagNote: `not measured: stack ${environment.envName} has no StreamFunctionName output (stream disabled, or deployed before this version)`,
            }),
      };
    } else {
      const local = await services();
      envName = 'dev';
      ports = {
        warehouse: local.warehouse,
        lake: local.lake,
        history: journalRunHistory(local.warehouse),
        ...(await localLag()),
      };
    }
    const config = loadConfig(envName as Parameters<typeof loadConfig>[0]);
    const report = await gatherStatus(ports, {
      environment: aws ? envName : 'local',
      rules: aws ? freshnessRulesOf(config) : localFreshnessRulesOf(config),
      now,
    });
    out.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report));
    return 0;
  },
};

function nowOption(raw: string | undefined): Date {
  if (raw === undefined) return new Date();
  try {
    return parseInstant(raw);
  } catch (error) {
    throw new UsageError(`--now: ${(error as Error).message}`);
  }
}

/** The local stream's lag when a broker is named (KAFKA_BROKERS), else why there is none. */
async function localLag(): Promise<Pick<StatusPorts, 'lag' | 'lagNote'>> {
  const brokers = namedBrokers();
  if (brokers.length === 0)
    return { lagNote: 'not measured: KAFKA_BROKERS is not set (no local broker named)' };
  // kafkajs only when there is a broker to ask.
  const [{ kafkaLag }, { STREAM_GROUP }] = await Promise.all([
    import('../../local/kafka/lag'),
    import('../../local/kafka/esm-poller'),
  ]);
  return { lag: kafkaLag({ brokers, topic: loadConfig('dev').stream.topic, group: STREAM_GROUP }) };
}
