import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import { MemoryLakeStore } from '../../../bench/support/memory-lake';
import {
  BrokerUnavailableError,
  isBrokerUnavailable,
  runEsmPoller,
  type ReconnectInfo,
} from '../../../local/kafka/esm-poller';

// kafkajs is CommonJS: its error classes are not named exports for ESM.
const { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } = kafkajs;

/** A kafkajs protocol error as the client raises it from a broker's error code. */
const protocolError = (type: string, code: number, retriable: boolean) =>
  new KafkaJSProtocolError({ message: type, type, code, retriable } as unknown as Error);

/** A local port nothing listens on: connections to it are refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('the ESM poller and a lost broker', () => {
  it('tells a lost broker (reconnect) from failures of its own (fatal)', () => {
    // Prepare
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
    const exhausted = new KafkaJSNumberOfRetriesExceeded(refused, { retryCount: 5, retryTime: 1000 });
    const notCoordinator = protocolError('NOT_COORDINATOR', 16, true);
    const authorization = protocolError('TOPIC_AUTHORIZATION_FAILED', 29, false);

    // Act + Assess
    assert.equal(isBrokerUnavailable(refused), true);
    assert.equal(isBrokerUnavailable(exhausted), true);
    assert.equal(isBrokerUnavailable(notCoordinator), true);
    assert.equal(isBrokerUnavailable(authorization), false);
    assert.equal(isBrokerUnavailable(new Error('consumer killed between the handler and the commit')), false);
    assert.equal(isBrokerUnavailable(new Error('wrapped', { cause: refused })), false);
  });

  it('a broker that stays down: reconnects with backoff, then gives up with a clear error', async () => {
    // Prepare
    const broker = `127.0.0.1:${await closedPort()}`;
    const reconnects: ReconnectInfo[] = [];

    // Act
    const outcome = runEsmPoller({
      brokers: [broker],
      topic: 'clickstream',
      handler: async () => undefined,
      lake: new MemoryLakeStore(),
      reconnectTimeoutMs: 3_000,
      reconnectBackoffMs: 100,
      stopWhenIdleMs: 500,
      onReconnect: (r) => reconnects.push(r),
    });

    // Assess
    await assert.rejects(outcome, (error: Error) => {
      assert.ok(error instanceof BrokerUnavailableError, String(error));
      assert.match(error.message, new RegExp(`Kafka broker ${broker} unreachable for \\d+ s`));
      assert.match(error.message, /ECONNREFUSED/);
      assert.match(error.message, /resumes where this one stopped/);
      return true;
    });
    assert.ok(reconnects.length >= 1);
    assert.deepEqual(
      reconnects.map((r) => r.attempt),
      reconnects.map((_, i) => i + 1),
    );
    assert.ok(reconnects.every((r) => r.downForMs < 3_000 && /ECONNREFUSED/.test(r.error)));
  });

  it('stops while reconnecting when its signal aborts', async () => {
    // Prepare
    const controller = new AbortController();

    // Act
    const result = await runEsmPoller({
      brokers: [`127.0.0.1:${await closedPort()}`],
      topic: 'clickstream',
      handler: async () => undefined,
      lake: new MemoryLakeStore(),
      reconnectBackoffMs: 60_000,
      signal: controller.signal,
      onReconnect: () => controller.abort(),
    });

    // Assess
    assert.equal(result.records, 0);
  });
});
