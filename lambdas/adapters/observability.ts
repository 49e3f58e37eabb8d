import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { HANDLER_ENV, METRICS_NAMESPACE, METRICS_SERVICE, type MetricName } from '../contract';
import type { Env, Log, MetricSink } from './ports';

export function createLogger(env: Env, logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR'): Logger {
  return new Logger({
    serviceName: METRICS_SERVICE,
    logLevel: logLevel ?? (env[HANDLER_ENV.powertoolsLogLevel] as never),
  });
}

/** Powertools Metrics (EMF on stdout) for one function; the environment is a default dimension. */
export function createMetrics(env: Env): Metrics {
  return new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: METRICS_SERVICE,
    defaultDimensions: { environment: env[HANDLER_ENV.environment] ?? 'local' },
  });
}

/** The MetricSink port over Powertools Metrics: a datapoint with dimensions of its own is a single metric. */
export function emfMetricSink(metrics: Metrics): MetricSink {
  return {
    count(name, value, dimensions) {
      if (!dimensions) {
        metrics.addMetric(name, MetricUnit.Count, value);
        return;
      }
      const single = metrics.singleMetric();
      for (const [key, dimension] of Object.entries(dimensions)) single.addDimension(key, dimension);
      single.addMetric(name, MetricUnit.Count, value);
    },
    flush() {
      metrics.publishStoredMetrics();
    },
  };
}

export interface RecordedMetric {
  name: MetricName;
  value: number;
  dimensions?: Readonly<Record<string, string>>;
}

/** A MetricSink that keeps the datapoints in memory: the local runtime's per-run metrics. */
export class RecordedMetrics implements MetricSink {
  readonly datapoints: RecordedMetric[] = [];

  count(name: MetricName, value: number, dimensions?: Readonly<Record<string, string>>): void {
    this.datapoints.push({ name, value, dimensions });
  }

  flush(): void {}

  /** The sum of a metric's datapoints. */
  total(name: string): number {
    return this.datapoints.filter((d) => d.name === name).reduce((sum, d) => sum + d.value, 0);
  }
}

/** A quiet Powertools Logger for the laptop: errors only, unless POWERTOOLS_LOG_LEVEL says otherwise. */
export const localLogger = (env: Env): Log =>
  createLogger(env, (env[HANDLER_ENV.powertoolsLogLevel] as never) ?? 'ERROR');
