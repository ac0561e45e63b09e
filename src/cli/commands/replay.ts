/**
 * `quest replay <module> <type>`: check the code of a module against the live histories of a database before
 * deploying it (read only: the database is opened read-only, and nothing of the workflows runs live).
 */
import { Command } from 'commander';
import { deserialize } from '../../core/serializer.js';
import type { WorkflowFunction } from '../../core/historian-types.js';
import { replayHistory, type ReplayReport } from '../../testing/replay-history.js';
import { CliError, EXIT, messageOf, printJson, table, withCommonOptions, withStore, type CliContext, type CommonOptions } from '../common.js';
import { loadWorkflows } from './run.js';
import { withScheduleType } from '../../manager/schedules.js';

interface ReplayOptions extends CommonOptions {
  id?: string[];
}

export function replayCommand(context: CliContext): Command {
  return withCommonOptions(
    new Command('replay')
      .description('check a module\'s code against the stored histories of running workflows (reads only)')
      .argument('<module>', 'a module that exports `workflows` (as for quest run): the code to check')
      .argument('<type>', 'the workflow type whose histories to replay')
      .option('--id <ids...>', 'only these workflows (default: every running workflow of <type>)'),
  )
    .addHelpText(
      'after',
      `
Each history is replayed against the module's code as a restart would replay it, except that nothing runs
live: replay stops at the end of the history, and steps that had started and not ended are not run again
(they are listed). The first point where the code and a history disagree is reported (NonDeterminismError:
the record expected and the call that came). The database is opened read-only; another process may run the
workflows meanwhile (a history is read as one snapshot). Exit 0 when every history replays, 1 when one does not.

Examples:
  $ quest replay ./dist/workflows.js checkout --db app.sqlite
  $ quest replay ./dist/workflows.js checkout --id order-1 order-2 --json`,
    )
    .action(async (modulePath: string, type: string, options: ReplayOptions) => {
      const { io } = context;
      // Schedules are workflows of Quest's own (quest.schedule): their histories can be checked too.
      const workflows = withScheduleType(await loadWorkflows(modulePath));
      const workflow = Object.hasOwn(workflows, type) ? (workflows[type] as WorkflowFunction<never[], unknown>) : undefined;
      if (workflow === undefined) {
        throw new CliError(`${modulePath} has no workflow type ${JSON.stringify(type)} (it has ${Object.keys(workflows).join(', ')})`, EXIT.usage);
      }
      const results = await withStore(options.db, async (store) => {
        const entries = (await store.listWorkflows('running')).filter((entry) => entry.type === type && (options.id === undefined || options.id.includes(entry.id)));
        const missing = (options.id ?? []).filter((id) => !entries.some((entry) => entry.id === id));
        if (missing.length > 0) throw new CliError(`no running workflow of type ${type} with id ${missing.join(', ')} in ${store.path}`, EXIT.usage);
        const checked: Array<{ id: string; report: ReplayReport }> = [];
        for (const entry of entries) {
          let report: ReplayReport;
          try {
            const records = await store.history(entry.id).load();
            report = await replayHistory(workflow, records, { args: entry.args.map((arg) => deserialize(arg)), workflowId: entry.id });
          } catch (error) {
            report = { ok: false, outcome: 'diverged', error, records: 0, unfinishedSteps: [] };
          }
          checked.push({ id: entry.id, report });
        }
        return checked;
      });
      const ok = results.every(({ report }) => report.ok);
      if (options.json === true) {
        printJson(io, results.map(({ id, report }) => ({
          id,
          ok: report.ok,
          outcome: report.outcome,
          records: report.records,
          unfinishedSteps: report.unfinishedSteps,
          ...(report.ok ? {} : { error: messageOf(report.error) }),
        })));
      } else if (results.length === 0) {
        io.out(`no running workflow of type ${type} to check`);
      } else {
        io.out(table(['WORKFLOW', 'RESULT', 'RECORDS', 'DETAILS'], results.map(({ id, report }) => [
          id,
          report.ok ? 'ok' : 'DIVERGED',
          String(report.records),
          report.ok ? (report.unfinishedSteps.length === 0 ? report.outcome : `${report.outcome}; not run again: ${report.unfinishedSteps.join(', ')}`) : messageOf(report.error),
        ])));
        io.out(ok ? `${results.length} histor${results.length === 1 ? 'y replays' : 'ies replay'} with this code` : 'some histories do not replay with this code: keep the old paths behind getVersion()');
      }
      context.exit(ok ? EXIT.ok : EXIT.failed);
    });
}
