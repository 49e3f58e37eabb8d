import { recordsToCsv, toCsv } from '../csv';
import { UsageError, type Command } from './command';

export const command: Command = {
  usage: `query  "SQL"                                query the warehouse: RFC 4180 CSV, a header, every column in
                                              order, LF line ends, NULL empty and the empty string ""`,
  aws: true,
  dataApiUse: 'to run the SQL',
  async run({ rest, out, services, aws }) {
    if (rest.length !== 1)
      throw new UsageError('query takes exactly one SQL string, e.g. cartflow query "SELECT 1"');
    if (aws) {
      // Through the Data API: columns by name (Redshift names every column), values as the adapter maps them.
      out.write(recordsToCsv(await (await aws()).warehouse.query<Record<string, unknown>>(rest[0])));
      return 0;
    }
    // By position, not by name: `SELECT 1 AS a, 2 AS a` and `SELECT count(*), count(DISTINCT x)` keep every column.
    const { columns, rows } = await (await services()).warehouse.queryArrays(rest[0]);
    out.write(toCsv(columns, rows));
    return 0;
  },
};
