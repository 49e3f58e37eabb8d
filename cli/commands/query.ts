import { UsageError } from '../usage-error';
import { toCsv } from '../csv';
import { type Command } from './command';

export const command: Command = {
  usage: `query  "SQL"                                query the warehouse: RFC 4180 CSV, a header, every column in
                                              order, LF line ends, NULL empty and the empty string ""`,
  aws: true,
  dataApiUse: 'to run the SQL',
  async run({ rest, out, services, aws }) {
    if (rest.length !== 1)
      throw new UsageError('query takes exactly one SQL string, e.g. cartflow query "SELECT 1"');
    // By position, not by name: `SELECT 1 AS a, 2 AS a` and `SELECT count(*), count(DISTINCT x)` keep every
    // column, locally and through the Data API (values there as the adapter maps them).
    const warehouse = aws ? (await aws()).warehouse : (await services()).warehouse;
    const { columns, rows } = await warehouse.queryArrays(rest[0]);
    out.write(toCsv(columns, rows));
    return 0;
  },
};
