/** Seeds a warehouse with test/fixtures/freshness/runs.json: ops.* run records and loaded event minutes. */
import { readFileSync } from 'node:fs';
import type { Warehouse } from '../../lambdas/adapters/ports';
import { CLICKSTREAM_TABLES } from '../../lambdas/core/clickstream/tables';
import type { Dataset } from '../../lambdas/core/model';
import { EVENT_LOAD_LEDGER, insertSql, recordRunStatements, warehouseDdl } from '../../lambdas/core/sql';
import { typedRows } from './warehouse-fixtures';

interface RunsFixture {
  runs: {
    runId: string;
    businessDate: string;
    status: string;
    startedAt: string;
    finishedAt: string;
    datasets: Dataset[];
  }[];
  eventMinutes: Record<string, unknown>[];
  ledger: Record<string, unknown>[];
}

/** The runs as record-run (and cleanup) write them, the events as load-events does. */
export async function seedFreshnessFixture(warehouse: Warehouse): Promise<void> {
  const fixture = JSON.parse(
    readFileSync(new URL('../fixtures/freshness/runs.json', import.meta.url), 'utf8'),
  ) as RunsFixture;
  await warehouse.executeBatch(warehouseDdl('postgres'));
  for (const run of fixture.runs) {
    await warehouse.executeBatch(
      recordRunStatements({
        ...run,
        checks: [],
        datasets: run.datasets.map((dataset) => ({
          dataset,
          rowsIn: 10,
          rowsValid: 10,
          rowsQuarantined: 0,
          quarantineShare: 0,
          threshold: 0.05,
          passed: true,
          rowsLoaded: 10,
        })),
      }),
    );
  }
  const minutes = CLICKSTREAM_TABLES.agg_event_minute;
  await warehouse.executeBatch([
    ...insertSql(minutes, typedRows(minutes, fixture.eventMinutes)),
    ...insertSql(EVENT_LOAD_LEDGER, typedRows(EVENT_LOAD_LEDGER, fixture.ledger)),
  ]);
}
