import { openDatabase } from '../../../local/embedded-postgres';
import { schemaMigrationScenarios } from './ensure-warehouse-migration';

// A fresh database of the process's throwaway embedded server per call.
schemaMigrationScenarios('embedded PostgreSQL', async () => ({
  db: await openDatabase({}),
  drop: async () => undefined,
}));
