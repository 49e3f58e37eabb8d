import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { executionConsoleUrl, parseArn, s3ConsoleUrl } from '../../../lambdas/core/console-links';

const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:Machine-AbC:nightly-2026-03-08';

describe('console links', () => {
  it('links an execution ARN to its page in its region', () => {
    // Act
    const url = executionConsoleUrl(EXECUTION);

    // Assess
    assert.equal(
      url,
      `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${EXECUTION}`,
    );
  });

  it('uses the console of the ARN partition, and none for an id that is not an execution ARN', () => {
    // Act + Assess
    assert.match(
      executionConsoleUrl(EXECUTION.replace('arn:aws:', 'arn:aws-cn:').replace('eu-west-1', 'cn-north-1'))!,
      /^https:\/\/cn-north-1\.console\.amazonaws\.cn\/states\//,
    );
    assert.equal(executionConsoleUrl('local-1712345678'), undefined);
    assert.equal(executionConsoleUrl('arn:aws:lambda:eu-west-1:123456789012:function:f'), undefined);
    assert.equal(parseArn('not an arn'), undefined);
  });

  it('links an S3 object and an S3 prefix, the key encoded', () => {
    // Prepare
    const at = { partition: 'aws', region: 'us-east-2' };

    // Act
    const object = s3ConsoleUrl(at, 'lake', 'quality/dt=2026-03-01/run 1.json');
    const prefix = s3ConsoleUrl(at, 'lake', 'quarantine/orders/dt=2026-03-01/');

    // Assess
    assert.equal(
      object,
      'https://us-east-2.console.aws.amazon.com/s3/object/lake?region=us-east-2&prefix=quality%2Fdt%3D2026-03-01%2Frun%201.json',
    );
    assert.equal(
      prefix,
      'https://us-east-2.console.aws.amazon.com/s3/buckets/lake?region=us-east-2&prefix=quarantine%2Forders%2Fdt%3D2026-03-01%2F&showversions=false',
    );
    assert.equal(s3ConsoleUrl({ partition: 'unknown', region: 'x' }, 'lake', 'k'), undefined);
  });
});
