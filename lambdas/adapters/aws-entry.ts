/**
 * The Lambda entry of a step: Powertools middleware around the step's handler, built once per
 * execution environment from the function's environment and the AWS adapters.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { awsAdapters } from './aws-adapters';
import { createLogger, createMetrics, emfMetricSink } from './observability';
import type { Step } from './ports';

export function awsHandler<S, I, O>(step: Step<S, I, O>) {
  const logger = createLogger(process.env);
  const metrics = createMetrics(process.env);
  let handle: ((input: I) => Promise<O>) | undefined;
  return middy(async (input: I): Promise<O> => {
    handle ??= step.make(
      awsAdapters(process.env, { logger, metrics: emfMetricSink(metrics) }),
      step.settings(process.env),
    );
    return handle(input);
  })
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics));
}
