/**
 * A warehouse database of a suite's own: a fresh database on the PostgreSQL server of
 * WAREHOUSE_DATABASE_URL (dropped by `drop`), so a suite owns its tables outright while sharing the server.
 * Without WAREHOUSE_DATABASE_URL: no URL, and the runtime uses its embedded warehouse.
 */
import pg from 'pg';

export interface OwnWarehouse {
  /** For startLocalRuntime's warehouseDatabaseUrl; undefined: the embedded warehouse. */
  url?: string;
  drop(): Promise<void>;
}

export async function ownWarehouseDatabase(
  name: string,
  serverUrl = process.env.WAREHOUSE_DATABASE_URL,
): Promise<OwnWarehouse> {
  if (!serverUrl) return { drop: async () => undefined };
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
