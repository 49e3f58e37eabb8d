/** Links into the AWS console for the things a run notification names (plain strings: no SDK here). */

/** The console's host per partition; a partition not listed here gets no console links. */
const CONSOLE_HOSTS: Readonly<Record<string, string>> = {
  aws: 'console.aws.amazon.com',
  'aws-cn': 'console.amazonaws.cn',
  'aws-us-gov': 'console.amazonaws-us-gov.com',
};

export interface ArnParts {
  partition: string;
  service: string;
  region: string;
  account: string;
  resource: string;
}

/** The parts of an ARN; undefined for anything else (a local execution id, say). */
export function parseArn(arn: string): ArnParts | undefined {
  const match = /^arn:([\w-]+):([\w-]+):([\w-]*):(\d*):(.+)$/.exec(arn);
  if (!match) return undefined;
  const [, partition, service, region, account, resource] = match;
  return { partition, service, region, account, resource };
}

/** Where the console of a partition and region is; undefined when there is none to link to. */
export interface ConsoleLocation {
  partition: string;
  region: string;
}

const consoleHost = (at: ConsoleLocation): string | undefined => {
  const host = CONSOLE_HOSTS[at.partition];
  return host && at.region ? `https://${at.region}.${host}` : undefined;
};

/** The Step Functions console page of an execution (its ARN, `$$.Execution.Id`). */
export function executionConsoleUrl(executionArn: string): string | undefined {
  const arn = parseArn(executionArn);
  if (arn?.service !== 'states') return undefined;
  const host = consoleHost(arn);
  return host && `${host}/states/home?region=${arn.region}#/v2/executions/details/${executionArn}`;
}

/** The S3 console page of an object, or of a prefix (a key ending in '/'). */
export function s3ConsoleUrl(at: ConsoleLocation, bucket: string, key: string): string | undefined {
  const host = consoleHost(at);
  if (!host) return undefined;
  const region = `region=${at.region}`;
  const encoded = encodeURIComponent(key);
  return key.endsWith('/')
    ? `${host}/s3/buckets/${bucket}?${region}&prefix=${encoded}&showversions=false`
    : `${host}/s3/object/${bucket}?${region}&prefix=${encoded}`;
}
