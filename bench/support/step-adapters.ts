/** The adapters a step is built over in the tests and benchmarks, shared by both. */
import { localLogger, RecordedMetrics } from '../../lambdas/adapters/observability';
import type { Adapters } from '../../lambdas/adapters/ports';

/** An adapter method the step under test must not call: calling it fails the run. */
const unused = (adapter: string) => () => {
  throw new Error(`the step must not use the ${adapter} adapter`);
};

/**
 * Adapters over `lake` and the other `overrides`; the source, warehouse and alerts not given throw when
 * touched, the logger is the local one and the metrics are recorded (pass `metrics` to read them).
 */
export function stepAdapters(overrides: Partial<Adapters> & Pick<Adapters, 'lake'>): Adapters {
  return {
    source: { connect: unused('source') },
    warehouse: { dialect: 'postgres', executeBatch: unused('warehouse'), query: unused('warehouse') },
    alerts: { publish: unused('alerts') },
    logger: localLogger({}),
    metrics: new RecordedMetrics(),
    ...overrides,
  };
}
