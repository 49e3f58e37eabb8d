import { previousUtcDate } from '../../lambdas/core/dates';
import { seedDay } from './batch';
import { dateOption, type Command } from './command';

export const command: Command = {
  usage: `seed   [--date D] [--orders N] [--seed N] [--bad-rows N]
                                              sample source rows and a catalog file for a date`,
  async run({ values, out, runtime }) {
    const date = dateOption(values, 'date', previousUtcDate(new Date()));
    const day = await seedDay(await runtime(), values, date, 1000);
    out.write(
      `seeded ${date}: ${day.orders.length} orders, ${day.items.length} order items, ${day.catalog.length} products\n`,
    );
    return 0;
  },
};
