import { stateMachineRuns } from '../aws/step-functions';
import { summaryTable } from '../../local/backfill';
import { waitUnlessInterrupted } from './backfill';
import { failureSummary, runOne, summary } from './batch';
import { dateOption, type Command } from './command';

export const command: Command = {
  usage: `run    --date D                             run the batch state machine for one business date`,
  aws: true,
  dataApiUse: 'to read the rows the run loaded from ops.dataset_load',
  async run({ values, out, err, runtime, aws }) {
    const date = dateOption(values, 'date');
    const started = Date.now();
    if (aws) {
      const environment = await aws();
      err.write(
        `starting the batch state machine for ${date} (${environment.outputs.batchStateMachineArn}) …\n`,
      );
      // A run of a date already running is joined, not doubled (deterministic execution names).
      const outcome = await waitUnlessInterrupted(err, (abandon) =>
        stateMachineRuns(environment).runDate(date, true, abandon),
      );
      if (!outcome) return 130;
      out.write(summaryTable([{ date, ms: Date.now() - started, ...outcome }], values.env, 'run'));
      return outcome.status === 'SUCCEEDED' ? 0 : 1;
    }
    const local = await runtime();
    const outcome = await runOne(local, date, err);
    if (outcome.state) out.write(await summary(local, outcome.state, Date.now() - started));
    out.write(failureSummary(outcome, date));
    // 0 only when this run published the date: a superseded one did not (runOne said which run does).
    return outcome.status === 'SUCCEEDED' && outcome.superseded === undefined ? 0 : 1;
  },
};
