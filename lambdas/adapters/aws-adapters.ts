import { SecretsManagerClient, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { RedshiftDataClient } from '@aws-sdk/client-redshift-data';
import { SNSClient, PublishCommand } from '@aws-sdk/client-sns';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import pg from 'pg';
import { ConfigurationError, SourceTlsError, TransientError } from '../core/errors';
import { HANDLER_ENV } from '../contract';
import { requireEnv, type Env } from '../core/settings';
import { SfnExecutionHistory } from './execution-history';
import type { Adapters, Alerts, ExecutionHistory, Log, MetricSink, SourceDatabase } from './ports';
import { RedshiftDataWarehouse } from './redshift-warehouse';
import { S3LakeStore, createS3Client } from './s3-lake';

interface SourceSecret {
  host: string;
  port?: number;
  dbname: string;
  username: string;
  password: string;
}

// Node's certificate and handshake failures (tls/openssl error codes): a retry meets the same certificate.
const TLS_CODES =
  /^(ERR_TLS_|ERR_SSL_|EPROTO$|CERT_|SELF_SIGNED_CERT|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_(GET|VERIFY)_|HOSTNAME_MISMATCH)/;
// node-postgres' own answer when the server refuses the SSLRequest.
const TLS_MESSAGE = /does not support SSL|SSL routines|self[- ]signed|certificate|wrong version number/i;

/**
 * A failed connect as the pipeline's error: a TLS failure is permanent and says what to check; anything
 * else (refused, timed out, reset, DNS) is transient and retried by the state machine.
 */
export function sourceConnectError(error: unknown, host: string | undefined): Error {
  const { code, message } = error as { code?: unknown; message?: string };
  const detail = `${typeof code === 'string' ? `${code}: ` : ''}${message ?? String(error)}`;
  if ((typeof code === 'string' && TLS_CODES.test(code)) || TLS_MESSAGE.test(message ?? '')) {
    return new SourceTlsError(
      `TLS to the source database ${host ?? ''} failed (${detail}). Check: the CA bundle (on Lambda ` +
        'NODE_EXTRA_CA_CERTS=/var/runtime/ca-cert.pem loads Amazon RDS CAs), that the server has TLS on ' +
        '(rds.force_ssl / sslmode=require), and that "host" in the secret is the name on the certificate ' +
        '(the RDS endpoint, not an IP address or a CNAME of it).',
      { cause: error },
    );
  }
  return new TransientError(`Cannot connect to the source database ${host ?? ''}: ${detail}`, {
    cause: error,
  });
}

/** The shop database, reached with TLS through credentials kept in Secrets Manager. */
export class SecretSourceDatabase implements SourceDatabase {
  private config?: pg.ClientConfig;

  constructor(
    private readonly secretArn: string,
    private readonly secrets: Pick<SecretsManagerClient, 'send'> = new SecretsManagerClient({}),
  ) {}

  async connect() {
    this.config ??= await this.loadConfig();
    const client = new pg.Client(this.config);
    try {
      await client.connect();
    } catch (error) {
      // The failed client may still hold a socket.
      await client.end().catch(() => undefined);
      throw sourceConnectError(error, this.config.host);
    }
    return Object.assign(client, { release: () => client.end() });
  }

  private async loadConfig(): Promise<pg.ClientConfig> {
    const { SecretString } = await this.secrets.send(new GetSecretValueCommand({ SecretId: this.secretArn }));
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

/**
 * The Data API client of a warehouse function: as the shared writer role when the stack names one, so every
 * function is the same database user (IAMR:<role name>) that owns the staging tables it creates; the session
 * name is fixed so DescribeStatement's statement-owner condition holds across credential refreshes.
 */
function warehouseClient(env: Env): RedshiftDataClient | undefined {
  const roleArn = env[HANDLER_ENV.warehouseWriterRoleArn];
  if (!roleArn) return undefined;
  const session = (env.AWS_LAMBDA_FUNCTION_NAME ?? 'cartflow').replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
  return new RedshiftDataClient({
    credentials: fromTemporaryCredentials({ params: { RoleArn: roleArn, RoleSessionName: session } }),
  });
}

/**
 * Adapters for a function deployed by the stack; each is built on first use so a step pays only for what it
 * touches. `remainingTimeMs` is the current invocation's time left: warehouse waits end before it does.
 */
export function awsAdapters(
  env: Env,
  observability: { logger: Log; metrics: MetricSink },
  remainingTimeMs?: () => number,
): Adapters {
  let source: SourceDatabase | undefined;
  let warehouse: RedshiftDataWarehouse | undefined;
  let alerts: Alerts | undefined;
  let lake: S3LakeStore | undefined;
  let executions: ExecutionHistory | undefined;
  return {
    ...observability,
    get lake() {
      return (lake ??= new S3LakeStore(createS3Client(), requireEnv(env, HANDLER_ENV.bucket)));
    },
    get source() {
      return (source ??= new SecretSourceDatabase(requireEnv(env, HANDLER_ENV.sourceSecretArn)));
    },
    get warehouse() {
      // The admin secret (DDL/grant step only) wins: that step acts as the admin with its own role.
      const secretArn = env[HANDLER_ENV.warehouseSecretArn] || undefined;
      return (warehouse ??= new RedshiftDataWarehouse({
        workgroupName: requireEnv(env, HANDLER_ENV.workgroup),
        database: requireEnv(env, HANDLER_ENV.database),
        secretArn,
        client: secretArn ? undefined : warehouseClient(env),
        remainingTimeMs,
      }));
    },
    get alerts() {
      return (alerts ??= new SnsAlerts(requireEnv(env, HANDLER_ENV.topicArn)));
    },
    get executions() {
      return (executions ??= new SfnExecutionHistory());
    },
  };
}
