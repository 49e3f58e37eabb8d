import { SecretsManagerClient, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { SNSClient, PublishCommand } from '@aws-sdk/client-sns';
import pg from 'pg';
import { ConfigurationError, TransientError } from '../core/errors';
import { HANDLER_ENV } from '../steps';
import { requireEnv, type Env } from '../core/settings';
import type { Adapters, Alerts, Log, MetricSink, SourceDatabase } from './ports';
import { RedshiftDataWarehouse } from './redshift-warehouse';
import { S3LakeStore, createS3Client } from './s3-lake';

interface SourceSecret {
  host: string;
  port?: number;
  dbname: string;
  username: string;
  password: string;
}

/** The shop database, reached with TLS through credentials kept in Secrets Manager. */
class SecretSourceDatabase implements SourceDatabase {
  private config?: pg.ClientConfig;

  constructor(private readonly secretArn: string) {}

  async connect() {
    this.config ??= await this.loadConfig();
    const client = new pg.Client(this.config);
    try {
      await client.connect();
    } catch (error) {
      throw new TransientError(`Cannot connect to the source database: ${(error as Error).message}`, {
        cause: error,
      });
    }
    return Object.assign(client, { release: () => client.end() });
  }

  private async loadConfig(): Promise<pg.ClientConfig> {
    const secrets = new SecretsManagerClient({});
    const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: this.secretArn }));
    const secret = JSON.parse(SecretString ?? '{}') as Partial<SourceSecret>;
    for (const field of ['host', 'dbname', 'username', 'password'] as const) {
      if (!secret[field])
        throw new ConfigurationError(`Source database secret ${this.secretArn} has no "${field}".`);
    }
    return {
      host: secret.host,
      port: secret.port ?? 5432,
      database: secret.dbname,
      user: secret.username,
      password: secret.password,
      ssl: { rejectUnauthorized: true },
    };
  }
}

class SnsAlerts implements Alerts {
  private readonly sns = new SNSClient({});

  constructor(private readonly topicArn: string) {}

  async publish(subject: string, message: string): Promise<void> {
    // SNS subjects are limited to 100 characters.
    await this.sns.send(
      new PublishCommand({ TopicArn: this.topicArn, Subject: subject.slice(0, 100), Message: message }),
    );
  }
}

/** Adapters for a function deployed by the stack; each is built on first use so a step pays only for what it touches. */
export function awsAdapters(env: Env, observability: { logger: Log; metrics: MetricSink }): Adapters {
  let source: SourceDatabase | undefined;
  let warehouse: RedshiftDataWarehouse | undefined;
  let alerts: Alerts | undefined;
  let lake: S3LakeStore | undefined;
  return {
    ...observability,
    get lake() {
      return (lake ??= new S3LakeStore(createS3Client(), requireEnv(env, HANDLER_ENV.bucket)));
    },
    get source() {
      return (source ??= new SecretSourceDatabase(requireEnv(env, HANDLER_ENV.sourceSecretArn)));
    },
    get warehouse() {
      return (warehouse ??= new RedshiftDataWarehouse({
        workgroupName: requireEnv(env, HANDLER_ENV.workgroup),
        database: requireEnv(env, HANDLER_ENV.database),
        secretArn: env[HANDLER_ENV.warehouseSecretArn] || undefined,
      }));
    },
    get alerts() {
      return (alerts ??= new SnsAlerts(requireEnv(env, HANDLER_ENV.topicArn)));
    },
  };
}
