import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { compareDate, comparisonSummary } from '../compare';
import { dateOption, type Command } from './command';
import { REPORTS_DIR } from './report';

/** `compare`'s exit status when the shadow run differs from what is published (0: the same, 1: failed). */
export const DIFFERS_EXIT_CODE = 3;

export const command: Command = {
  usage: `compare --date D [--json] [--out FILE]      a shadow run of the current code for a past date (from its raw
                                              extract, into the shadow schema, never the published tables), then
                                              rows added/removed/changed per table by key, numeric column sums and
                                              quarantined rows per check against what is published, and its HTML
                                              report (default <data-dir>/${REPORTS_DIR}/<shadow run>.html); exit status
                                              0 the same, 3 different, 1 failed; local runtime only for now`,
  quietSteps: true,
  async run({ values, out, err, services }) {
    const date = dateOption(values, 'date');
    const local = await services();
    err.write(`compare ${date}: shadow run of the current code into the shadow schema\n`);
    const comparison = await compareDate(
      { lake: local.lake, warehouse: local.warehouse, build: local.build },
      date,
    );
    const reportFile = resolve(
      values.out ?? join(local.dataDir, REPORTS_DIR, `${comparison.shadowRun}.html`),
    );
    await mkdir(dirname(reportFile), { recursive: true });
    await writeFile(reportFile, await local.lake.getText(comparison.report));
    out.write(
      values.json
        ? `${JSON.stringify({ ...comparison, reportFile }, null, 2)}\n`
        : `${comparisonSummary(comparison)}report: ${reportFile}\n`,
    );
    return comparison.differ ? DIFFERS_EXIT_CODE : 0;
  },
};
