import { parseArgs } from 'node:util';
import { HANDLER_ENV } from '../lambdas/contract';
import {
  startLocalRuntime,
  startLocalServices,
  type LocalRuntime,
  type LocalServices,
} from '../local/runtime';
import { dataDirOf, ms, OPTIONS, type Command } from './commands/command';
import { UsageError } from './usage-error';
import { COMMANDS } from './commands/registry';
import { ENV_NAMES } from '../lib/config';
import { openAwsEnvironment, type AwsEnvironment } from './aws/environment';

const OPTIONS_TEXT = `Options for every command:
  --data-dir DIR   where the local lake, source and warehouse live (default: $CARTFLOW_DATA_DIR or ./.data)
  --env NAME [--profile P] [--region R]
                   run, backfill, retry, rebuild, status, query, report and events-resume against the
                   deployed stack Cartflow-NAME (its outputs name the state machines, bucket and workgroup;
                   the standard AWS credential chain; --profile P: P's credentials, region and endpoint_url;
                   AWS_ENDPOINT_URL[_<SERVICE>] or a profile's endpoint_url, e.g. LocalStack, makes S3 path-style)
Environment: SOURCE_DATABASE_URL, WAREHOUSE_DATABASE_URL name PostgreSQL servers to use instead of the embedded one;
KAFKA_BROKERS (host:port,…) names the Kafka broker of produce and stream (bash localstack/kafka/broker.sh start).`;

async function usage(): Promise<string> {
  const commands = await Promise.all(Object.values(COMMANDS).map(async (load) => (await load()).command));
  return `Usage: cartflow <command> [options]\n\nCommands:\n${commands.map((c) => `  ${c.usage}`).join('\n')}\n\n${OPTIONS_TEXT}`;
}

export async function main(
  argv: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (error) {
    err.write(`cartflow: ${(error as Error).message}\n\n${await usage()}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [name, ...rest] = positionals;
  if (!name || values.help) {
    out.write(`${await usage()}\n`);
    return name || values.help ? 0 : 2;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    err.write(`cartflow: unknown command "${name}"; expected one of ${Object.keys(COMMANDS).join(', ')}\n`);
    return 2;
  }
  const command: Command = (await load()).command;
  if (values.env === undefined && (values.profile !== undefined || values.region !== undefined)) {
    err.write(`cartflow ${name}: --profile and --region go with --env <name>\n`);
    return 2;
  }
  if (values.env !== undefined && !command.aws) {
    err.write(
      `cartflow ${name}: runs locally only; --env works with run, backfill, retry, rebuild, compare, status, query, report and events-resume\n`,
    );
    return 2;
  }
  if (values.env !== undefined && !(ENV_NAMES as readonly string[]).includes(values.env)) {
    err.write(`cartflow ${name}: --env must be one of ${ENV_NAMES.join(', ')}, got "${values.env}"\n`);
    return 2;
  }
  const env = values.env;
  let aws: Promise<AwsEnvironment> | undefined;
  let runtime: LocalRuntime | undefined;
  let services: LocalServices | undefined;
  const where = {
    dataDir: dataDirOf(values),
    sourceDatabaseUrl: process.env[HANDLER_ENV.sourceDatabaseUrl],
    warehouseDatabaseUrl: process.env[HANDLER_ENV.warehouseDatabaseUrl],
  };
  try {
    return await command.run({
      values,
      rest,
      out,
      err,
      ...(env === undefined
        ? {}
        : {
            aws: () =>
              (aws ??= openAwsEnvironment({
                env,
                profile: values.profile,
                region: values.region,
                command: name,
                dataApiUse: command.dataApiUse,
              })),
          }),
      // query and status need only the services: no synthesis, no warehouse DDL that could wait on a running load.
      services: async () => (services ??= await startLocalServices(where)),
      runtime: async () =>
        (runtime ??= await startLocalRuntime({
          ...where,
          onStep: (step) => {
            if (command.quietSteps) return;
            if (step.status === 'ok') err.write(`  ✓ ${step.state.padEnd(16)} ${ms(step.ms)}\n`);
            else if (step.status === 'replayed')
              err.write(`  ↺ ${step.state.padEnd(16)} done before, not rerun\n`);
            else if (step.status !== 'caught')
              err.write(`  ✗ ${step.state.padEnd(16)} ${ms(step.ms)} ${step.status}: ${step.error ?? ''}\n`);
          },
        })),
    });
  } catch (error) {
    if (error instanceof UsageError) {
      err.write(`cartflow ${name}: ${error.message}\n\n${await usage()}\n`);
      return 2;
    }
    err.write(`cartflow ${name}: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await runtime?.close();
    await services?.close();
  }
}
