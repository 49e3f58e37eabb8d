/**
 * A service's configured endpoint (endpoint_url), looked up as the SDK does (AWS_ENDPOINT_URL_<SERVICE>,
 * AWS_ENDPOINT_URL, then the profile's `services` section and its `endpoint_url` in the shared config file),
 * but in the profile `--profile` names: the SDK reads endpoint_url only from AWS_PROFILE's profile, so a
 * client built with another profile would go to AWS. Knowing the endpoint also makes S3 path-style (a
 * custom endpoint such as LocalStack's has no `<bucket>.localhost`).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The shared config file's sections (`default`, `profile P`, `services S`), nested keys joined with a dot. */
export function parseSharedConfig(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let section: Map<string, string> | undefined;
  let parent: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s[#;].*$/, '').trimEnd();
    if (!line.trim() || /^\s*[#;]/.test(line)) continue;
    const header = /^\s*\[(.+)\]\s*$/.exec(line);
    if (header) {
      section = new Map();
      sections.set(header[1].trim().replace(/\s+/g, ' '), section);
      parent = undefined;
      continue;
    }
    const pair = /^(\s*)([^=]+?)\s*=\s*(.*)$/.exec(line);
    if (!section || !pair) continue;
    const [, indent, key, value] = pair;
    // An indented key belongs to the last unindented key with an empty value (`s3 =` then `  endpoint_url = …`).
    if (indent && parent) section.set(`${parent}.${key}`, value);
    else {
      parent = value === '' ? key : undefined;
      section.set(key, value);
    }
  }
  return sections;
}

export interface EndpointLookup {
  /** The profile --profile named, else AWS_PROFILE's, else `default`. */
  profile?: string;
  env?: NodeJS.ProcessEnv;
  /** The shared config file's text. @default the file AWS_CONFIG_FILE names, else ~/.aws/config */
  configText?: string;
}

/** `serviceId` as the SDK names it (`S3`, `SFN`, `CloudFormation`, `Redshift Data`, `CloudWatch`). */
export function configuredEndpoint(serviceId: string, lookup: EndpointLookup = {}): string | undefined {
  const env = lookup.env ?? process.env;
  if (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true') return undefined;
  const fromEnv =
    env[`AWS_ENDPOINT_URL_${serviceId.toUpperCase().replace(/ /g, '_')}`] || env.AWS_ENDPOINT_URL;
  if (fromEnv) return fromEnv;
  const sections = parseSharedConfig(lookup.configText ?? readConfigFile(env));
  const name = lookup.profile ?? env.AWS_PROFILE ?? 'default';
  const profile = sections.get(name === 'default' ? 'default' : `profile ${name}`) ?? sections.get(name);
  if (!profile) return undefined;
  const services = profile.get('services');
  const serviceKey = serviceId.toLowerCase().replace(/ /g, '_');
  return (
    (services ? sections.get(`services ${services}`)?.get(`${serviceKey}.endpoint_url`) : undefined) ||
    profile.get('endpoint_url') ||
    undefined
  );
}

function readConfigFile(env: NodeJS.ProcessEnv): string {
  try {
    return readFileSync(env.AWS_CONFIG_FILE ?? join(homedir(), '.aws', 'config'), 'utf8');
  } catch {
    // No config file: no profile endpoint, as for the SDK.
    return '';
  }
}
