import * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * The runtime every function and the DuckDB layer deploy on: Node 24, AWS's newest Node runtime (Node 22's
 * is deprecated on 2027-04-30). CI runs the test suite on the same major.
 */
export const FUNCTION_RUNTIME = lambda.Runtime.NODEJS_24_X;
