import { rebuildScenarios } from './rebuild-scenarios';

rebuildScenarios('embedded PostgreSQL and s3rver');
