import { ARRIVALS_STATE_KEY, resumeState } from '../../lambdas/core/clickstream/load';
import { findObject } from '../../lambdas/adapters/lake-tables';
import { dateOption, type Command } from './command';

/** Sets the events loader's lost position again (the way LoaderStateMissingError tells), locally or with --env. */
export const command: Command = {
  usage: `events-resume --from D [--force]             set load-events' lost position: it lists arrival hours from D
                                              (UTC) on; --force replaces a position that exists`,
  aws: true,
  async run({ values, out, err, services, aws }) {
    const from = dateOption(values, 'from');
    const lake = aws ? (await aws()).lake : (await services()).lake;
    const where = `s3://${lake.bucket}/${ARRIVALS_STATE_KEY}`;
    if (!values.force && (await findObject(lake, ARRIVALS_STATE_KEY))) {
      err.write(`${where} exists: load-events has its position; --force replaces it\n`);
      return 1;
    }
    await lake.put(ARRIVALS_STATE_KEY, JSON.stringify(resumeState(from)), 'application/json');
    out.write(`wrote ${where}: the next load-events run lists arrival hours from ${from} 00:00 UTC on\n`);
    return 0;
  },
};
