import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { TLSSocket } from 'node:tls';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretSourceDatabase } from '../../../lambdas/adapters/aws-adapters';
import { RETRYABLE_ERRORS, SourceTlsError, TransientError } from '../../../lambdas/core/errors';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/tls/${name}`, import.meta.url));

/** Secrets Manager at the SDK edge: the secret of a database on localhost:`port`. */
const secretsFor = (port: number) =>
  ({
    send: async () => ({
      SecretString: JSON.stringify({ host: 'localhost', port, dbname: 'shop', username: 'r', password: 'p' }),
    }),
  }) as unknown as Pick<SecretsManagerClient, 'send'>;

/** A server speaking just enough of PostgreSQL's start-up: it answers the client's SSLRequest. */
async function fakeServer(onSslRequest: (socket: Socket) => void): Promise<Server> {
  const server = createServer((socket) => socket.once('data', () => onSslRequest(socket)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const portOf = (server: Server) => (server.address() as AddressInfo).port;

describe('SecretSourceDatabase connect errors', () => {
  const servers: Server[] = [];
  after(() => servers.forEach((s) => s.close()));

  it('a certificate the runtime does not trust is a permanent error that names what to check', async () => {
    // Prepare: TLS with a certificate outside the trust store, as RDS is without Amazon's CA bundle.
    const server = await fakeServer((socket) => {
      socket.write('S');
      const tls = new TLSSocket(socket, {
        isServer: true,
        key: fixture('self-signed.key'),
        cert: fixture('self-signed.crt'),
      });
      tls.on('error', () => undefined);
    });
    servers.push(server);

    // Act + Assess
    await assert.rejects(
      new SecretSourceDatabase('arn:secret', secretsFor(portOf(server))).connect(),
      (e) => {
        assert.ok(e instanceof SourceTlsError, String(e));
        assert.match(e.message, /self-signed|SELF_SIGNED/i);
        assert.match(e.message, /NODE_EXTRA_CA_CERTS=\/var\/runtime\/ca-cert\.pem/);
        assert.match(e.message, /sslmode/);
        assert.match(e.message, /"host" in the secret/);
        assert.ok(!(RETRYABLE_ERRORS as readonly string[]).includes(e.name));
        return true;
      },
    );
  });

  it('a server without TLS is a permanent error too', async () => {
    // Prepare
    const server = await fakeServer((socket) => socket.write('N'));
    servers.push(server);

    // Act + Assess
    await assert.rejects(new SecretSourceDatabase('arn:secret', secretsFor(portOf(server))).connect(), {
      name: SourceTlsError.name,
      message: /does not support SSL/,
    });
  });

  it('a refused connection stays transient, so the state machine retries it', async () => {
    // Prepare: a port nobody listens on any more.
    const server = await fakeServer(() => undefined);
    const port = portOf(server);
    await new Promise((resolve) => server.close(resolve));

    // Act + Assess
    await assert.rejects(new SecretSourceDatabase('arn:secret', secretsFor(port)).connect(), (e) => {
      assert.equal((e as Error).name, TransientError.name);
      assert.match((e as Error).message, /ECONNREFUSED/);
      return true;
    });
  });
});
