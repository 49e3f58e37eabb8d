import { UsageError } from '../usage-error';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { CATALOG_LANDING_PREFIX } from '../../lambdas/core/layout';
import { catalogDebounceSecondsOf, loadConfig } from '../../lib/config';
import { dropCatalogFile } from '../../local/arrival-debounce';
import { failureLines, nextAfterRefresh } from '../../local/failure-line';
import { intOption, type Command } from './command';

export const command: Command = {
  usage: `drop   <file> [--window-ms N]               put a catalog file into ${CATALOG_LANDING_PREFIX}; files dropped within
                                              the debounce window (config catalogDebounceSeconds) start ONE refresh`,
  async run({ values, rest, out, err, runtime }) {
    if (rest.length !== 1)
      throw new UsageError('drop takes one file path (.json, .jsonl or .csv catalog file)');
    const body = await readFile(rest[0]).catch((error: Error) => {
      throw new UsageError(`cannot read ${rest[0]}: ${error.message}`);
    });
    const windowMs = intOption(values, 'window-ms', catalogDebounceSecondsOf(loadConfig('dev')) * 1000);
    const local = await runtime();
    const key = `${CATALOG_LANDING_PREFIX}${basename(rest[0])}`;
    err.write(`dropped s3://${local.lake.bucket}/${key}\n`);
    const { refreshes, poller } = await dropCatalogFile(local, key, body, {
      windowMs,
      onWait: (until, queued) =>
        err.write(
          `waiting until ${new Date(until).toISOString()} for more catalog files (${queued} queued; debounce window ${windowMs / 1000} s)\n`,
        ),
    });
    if (refreshes.length === 0) {
      out.write(`queued: the catalog refresh waiting${poller ? ` in process ${poller}` : ''} takes ${key}\n`);
      return 0;
    }
    for (const { arrivals, status, error, state } of refreshes) {
      const files = arrivals.map((a) => a.key);
      err.write(`catalog refresh of ${arrivals.length} arrival(s) ${status}: ${files.join(', ')}\n`);
      if (status !== 'SUCCEEDED')
        err.write(failureLines(error, state, nextAfterRefresh(error, files), status));
    }
    if (refreshes.some((r) => r.status !== 'SUCCEEDED')) return 1;
    const [{ products }] = await local.warehouse.query<{ products: string }>(
      'SELECT count(*)::text AS products FROM analytics.dim_product',
    );
    out.write(
      `catalog refreshed ${refreshes.length === 1 ? 'once' : `${refreshes.length} times`}: analytics.dim_product has ${products} products\n`,
    );
    return 0;
  },
};
