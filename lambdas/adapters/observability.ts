import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

export const METRICS_NAMESPACE = 'Cartflow';

/** One logger and one EMF metrics buffer per Lambda runtime; the service name comes from POWERTOOLS_SERVICE_NAME. */
export const logger = new Logger({ serviceName: 'cartflow' });
export const metrics = new Metrics({
  namespace: METRICS_NAMESPACE,
  serviceName: 'cartflow',
  defaultDimensions: { environment: process.env.CARTFLOW_ENV ?? 'local' },
});
