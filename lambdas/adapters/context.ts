import { awsAdapters } from './aws-adapters';
import { emfMetricSink, logger, metrics } from './observability';
import type { Adapters } from './ports';

let bound: Adapters | undefined;

/**
 * The adapters the handlers use. On AWS they are resolved from the function's environment;
 * the local runtime binds its own (s3rver, PGlite, console) before invoking any handler.
 */
export function adapters(): Adapters {
  return (bound ??= awsAdapters(process.env, { logger, metrics: emfMetricSink(metrics) }));
}

export function bindAdapters(local: Adapters): void {
  bound = local;
}
