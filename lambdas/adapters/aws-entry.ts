/**
 * The Lambda entry of a step: Powertools middleware around the step's handler, built once per
 * execution environment from the function's environment and the AWS adapters.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { awsAdapters } from './aws-adapters';
import { withFaults } from './fault-injection';
import { createLogger, createMetrics, emfMetricSink } from './observability';
import type { Step } from './ports';

export function awsHandler<S, I, O>(step: Step<S, I, O>) {
  const logger = createLogger(process.env);
  const metrics = createMetrics(process.env);
  let handle: ((input: I) => Promise<O>) | undefined;
  // The adapters outlive one invocation; the deadline they wait against is the current invocation's.
  let invocation: Context | undefined;
  const remainingTimeMs = () => invocation?.getRemainingTimeInMillis() ?? Number.POSITIVE_INFINITY;
  const built = withFaults(step);
  return middy(async (input: I, context: Context): Promise<O> => {
    invocation = context;
    handle ??= built.make(
      awsAdapters(process.env, { logger, metrics: emfMetricSink(metrics) }, remainingTimeMs),
      built.settings(process.env),
    );
    return handle(input);
  })
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics));
}
