import { batchScenarios } from './batch-scenarios';

batchScenarios('embedded PGlite and s3rver');
