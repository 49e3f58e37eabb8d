/**
 * A stand-in AWS endpoint on localhost (the SDK's real clients talk HTTP to it: AWS_ENDPOINT_URL or a
 * profile's endpoint_url), and the process's AWS variables set for one test only.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  host?: string;
  url?: string;
  target?: string;
}

export interface Answer {
  status: number;
  contentType: string;
  body: string;
}

/** A server that records each request and answers each with `answer`. */
export async function recordingEndpoint(answer: Answer) {
  const requests: RecordedRequest[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    requests.push({ host: req.headers.host, url: req.url, target: req.headers['x-amz-target'] as string });
    req.resume();
    req.on('end', () => {
      res.writeHead(answer.status, { 'content-type': answer.contentType });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    requests,
    port,
    url: `http://localhost:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** An empty ListObjectsV2 answer. */
export const EMPTY_LISTING: Answer = {
  status: 200,
  contentType: 'application/xml',
  body:
    '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    '<KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>',
};

const AWS_VARIABLES = [
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_PROFILE',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_S3',
  'AWS_ENDPOINT_URL_REDSHIFT_DATA',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_MAX_ATTEMPTS',
];

/**
 * The AWS variables of a test: test credentials in us-east-1, one attempt, no config file, and the endpoints
 * given (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, …).
 */
export const testAwsVars = (endpoints: Record<string, string>): Record<string, string> => ({
  ...endpoints,
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_MAX_ATTEMPTS: '1',
  AWS_CONFIG_FILE: join(tmpdir(), 'cartflow-no-config'),
});

/** Runs `act` with only the given AWS variables set (the rest of the process's AWS settings hidden). */
export async function withAwsEnv<T>(vars: Record<string, string>, act: () => Promise<T>): Promise<T> {
  const saved = AWS_VARIABLES.map((name) => [name, process.env[name]] as const);
  for (const name of AWS_VARIABLES) delete process.env[name];
  Object.assign(process.env, vars);
  try {
    return await act();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}
