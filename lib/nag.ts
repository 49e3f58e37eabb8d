import { Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges cdk-nag findings on `scope` and every construct below it (cdk-nag v3 reads
 * CDK's acknowledged-rules metadata up the tree). Ids are exact findings, e.g.
 * `AwsSolutions-IAM5[Resource::*]`: v3 has no wildcard suppression, so each one is deliberate.
 */
export function acknowledgeNag(scope: IConstruct, reason: string, ...ids: string[]): void {
  Validations.of(scope).acknowledge(...ids.map((id) => ({ id, reason })));
}

/** The IAM4 finding of a Lambda role with the AWS managed AWSLambdaBasicExecutionRole policy. */
export const LAMBDA_BASIC_EXECUTION_FINDING =
  'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]';

/**
 * The stack-wide singletons CDK adds directly under the stack (e.g. the BucketNotificationsHandler or the
 * AwsCustomResource function), found by the start of their construct id.
 */
export function stackSingletons(scope: IConstruct, idPrefix: string): IConstruct[] {
  return Stack.of(scope).node.children.filter((c) => c.node.id.startsWith(idPrefix));
}

/** Acknowledges findings on the stack-wide singletons whose construct id starts with `idPrefix`. */
export function acknowledgeStackSingletons(
  scope: IConstruct,
  idPrefix: string,
  reason: string,
  ...ids: string[]
): void {
  for (const singleton of stackSingletons(scope, idPrefix)) acknowledgeNag(singleton, reason, ...ids);
}

/**
 * Memory of the functions CDK's custom-resource machinery adds (AwsCustomResource's singleton, a
 * Provider's framework function): each makes one small API call per deployment.
 */
export const DEPLOY_HELPER_MEMORY_MB = 256;

/**
 * Acknowledges the Serverless findings of a function CloudFormation runs only while deploying (CDK's
 * AwsCustomResource singleton, a custom-resource Provider's framework function).
 */
export function acknowledgeDeployTimeFunction(scope: IConstruct, what: string): void {
  acknowledgeNag(
    scope,
    `${what} runs only during deployments: a failure is reported to CloudFormation, which fails and rolls back the deployment, so an asynchronous dead-letter queue would hold nothing to act on.`,
    'Serverless-LambdaDLQ',
  );
  acknowledgeNag(
    scope,
    `${what} runs only during deployments and CDK offers no tracing setting for it; CloudFormation stack events and its log group record each call.`,
    'Serverless-LambdaTracing',
  );
}

/** How cdk-nag names a resource's ARN in IAM5 findings: `<LogicalId.Arn>`. */
export function nagArnRef(resource: IConstruct): string {
  const cfn = (resource.node.defaultChild ?? resource) as CfnElement;
  return `<${Stack.of(resource).resolve(cfn.logicalId) as string}.Arn>`;
}

export type S3GrantKind = 'read' | 'readWrite' | 'delete';

const S3_GRANT_ACTIONS: Record<S3GrantKind, string[]> = {
  read: ['s3:GetObject*', 's3:GetBucket*', 's3:List*'],
  readWrite: [
    's3:GetObject*',
    's3:GetBucket*',
    's3:List*',
    's3:DeleteObject*',
    's3:Abort*',
    'kms:ReEncrypt*',
    'kms:GenerateDataKey*',
  ],
  delete: ['s3:DeleteObject*'],
};

/** The IAM5 findings a CDK `bucket.grantRead/grantReadWrite/grantDelete(_, pattern)` produces. */
export function s3GrantFindings(bucket: IConstruct, pattern: string, kind: S3GrantKind): string[] {
  return [
    ...S3_GRANT_ACTIONS[kind].map((action) => `AwsSolutions-IAM5[Action::${action}]`),
    `AwsSolutions-IAM5[Resource::${nagArnRef(bucket)}/${pattern}]`,
  ];
}
