/**
 * CloudFormation custom resource (custom-resources Provider): makes sure the clickstream topic exists on
 * the MSK Serverless cluster. Create/Update: look up the IAM bootstrap brokers, connect with SASL
 * OAUTHBEARER (a SigV4 token from aws-msk-iam-sasl-signer-js), create the topic or, when it exists, add
 * partitions up to the requested count (Kafka never removes any). Delete: nothing, the data is retained.
 */
import { GetBootstrapBrokersCommand, KafkaClient } from '@aws-sdk/client-kafka';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { generateAuthToken } from 'aws-msk-iam-sasl-signer-js';
import { Kafka, logLevel } from 'kafkajs';

export interface TopicProperties {
  ClusterArn: string;
  Topic: string;
  /** CloudFormation passes every property as a string. */
  Partitions: string;
}

export interface TopicResult {
  PhysicalResourceId: string;
  Data?: { Topic: string; Partitions: number; Created: boolean };
}

function readProperties(props: Record<string, unknown>): {
  clusterArn: string;
  topic: string;
  partitions: number;
} {
  const clusterArn = String(props.ClusterArn ?? '');
  const topic = String(props.Topic ?? '');
  const partitions = Number(props.Partitions);
  if (!clusterArn.startsWith('arn:'))
    throw new Error(`create-topic: ClusterArn must be an ARN, got "${clusterArn}"`);
  if (!/^[a-zA-Z0-9._-]{1,249}$/.test(topic)) throw new Error(`create-topic: invalid Topic "${topic}"`);
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new Error(
      `create-topic: Partitions must be a whole number >= 1, got "${String(props.Partitions)}"`,
    );
  }
  return { clusterArn, topic, partitions };
}

/** Connects an admin client to the cluster's IAM listener, runs `work`, always disconnects. */
async function withAdmin<T>(
  clusterArn: string,
  work: (admin: ReturnType<Kafka['admin']>) => Promise<T>,
): Promise<T> {
  const region = process.env.AWS_REGION ?? clusterArn.split(':')[3];
  const kafkaApi = new KafkaClient({ region });
  const { BootstrapBrokerStringSaslIam: brokers } = await kafkaApi.send(
    new GetBootstrapBrokersCommand({ ClusterArn: clusterArn }),
  );
  if (!brokers) throw new Error(`create-topic: ${clusterArn} has no IAM (SASL/IAM) bootstrap brokers`);
  const kafka = new Kafka({
    clientId: 'cartflow-create-topic',
    brokers: brokers.split(','),
    ssl: true,
    sasl: {
      mechanism: 'oauthbearer',
      oauthBearerProvider: async () => ({ value: (await generateAuthToken({ region })).token }),
    },
    connectionTimeout: 10_000,
    logLevel: logLevel.WARN,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

export const handler = async (event: CloudFormationCustomResourceEvent): Promise<TopicResult> => {
  const { clusterArn, topic, partitions } = readProperties(event.ResourceProperties);
  const physicalResourceId = `${clusterArn}/${topic}`;
  // The topic outlives the stack: its events are data.
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };

  return withAdmin(clusterArn, async (admin) => {
    // false when the topic already exists (idempotent on retries and updates).
    const created = await admin.createTopics({
      topics: [{ topic, numPartitions: partitions }],
      waitForLeaders: true,
    });
    let count = partitions;
    if (!created) {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      count = topics[0]?.partitions.length ?? 0;
      if (count < partitions) {
        await admin.createPartitions({ topicPartitions: [{ topic, count: partitions }] });
        count = partitions;
      } else if (count > partitions) {
        console.warn(`create-topic: ${topic} keeps its ${count} partitions (Kafka cannot remove partitions)`);
      }
    }
    console.log(JSON.stringify({ message: 'topic ready', topic, partitions: count, created }));
    return {
      PhysicalResourceId: physicalResourceId,
      Data: { Topic: topic, Partitions: count, Created: created },
    };
  });
};
