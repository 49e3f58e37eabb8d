import { batchScenarios } from './batch-scenarios';

batchScenarios('embedded PostgreSQL and s3rver');
