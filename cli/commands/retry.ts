import { UsageError } from '../usage-error';
import { stateMachineRuns } from '../aws/step-functions';
import { summaryTable } from '../../local/backfill';
import { waitUnlessInterrupted } from './backfill';
import { failureSummary, summary } from './batch';
import { type Command } from './command';

export const command: Command = {
  usage: `retry  <run>                                resume a failed run from its failed step: the steps it finished
                                              return their recorded results without running again`,
  aws: true,
  dataApiUse: 'to check in ops.pipeline_run that no later run of the date succeeded before redriving',
  async run({ values, rest, out, err, runtime, aws }) {
    if (rest.length !== 1) throw new UsageError('retry takes one run id (cartflow status lists them)');
    const [runId] = rest;
    if (aws) {
      const environment = await aws();
      err.write(`redriving execution ${runId} of ${environment.outputs.batchStateMachineArn} …\n`);
      const outcome = await waitUnlessInterrupted(err, (abandon) =>
        stateMachineRuns(environment).redrive(runId, abandon),
      );
      if (!outcome) return 130;
      out.write(summaryTable([{ ms: 0, ...outcome }], values.env, 'run'));
      return outcome.status === 'SUCCEEDED' ? 0 : 1;
    }
    const started = Date.now();
    const local = await runtime();
    err.write(`retry ${runId}\n`);
    const outcome = await local.retryBatch(runId);
    const replayed = outcome.steps.filter((s) => s.status === 'replayed').length;
    const ran = outcome.steps.filter((s) => s.status === 'ok').length;
    err.write(
      `retry ${runId} (attempt ${outcome.attempt}) ${outcome.status}: ${ran} steps ran, ${replayed} finished before and were not rerun\n`,
    );
    if (outcome.superseded !== undefined) err.write(`SUPERSEDED: ${outcome.superseded}\n`);
    if (outcome.state) out.write(await summary(local, outcome.state, Date.now() - started));
    // The run id starts with its business date (runOne names it so).
    out.write(failureSummary(outcome, runId.slice(0, 10)));
    return outcome.status === 'SUCCEEDED' && outcome.superseded === undefined ? 0 : 1;
  },
};
