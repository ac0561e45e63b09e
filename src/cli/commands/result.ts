/** `quest result <workflow>`: the stored outcome of a workflow. */
import { Command } from 'commander';
import { EXIT, findWorkflow, printJson, withCommonOptions, withStore, type CliContext, type CommonOptions } from '../common.js';

export function resultCommand(context: CliContext): Command {
  return withCommonOptions(
    new Command('result')
      .description('print the result of a finished workflow as JSON')
      .argument('<workflow>', 'the workflow id (or an alias it holds)'),
  )
    .addHelpText(
      'after',
      `
The result is printed as stored: JSON, with Quest's encoding for values JSON lacks (a Date is
{"$q":"Date","v":"2025-01-01T00:00:00.000Z"}, undefined is {"$q":"undefined"}).

Exit codes: 0 completed (the result on stdout), 1 failed or cancelled (the error on stderr),
2 no such workflow, 3 still running. With --json every outcome is printed on stdout as
{ id, type, state, result | error }, with the same exit codes.

Examples:
  $ quest result game --db .quest/guessing-game.sqlite
  $ quest result order-1 --json`,
    )
    .action(async (name: string, options: CommonOptions) => {
      const { io } = context;
      const entry = await withStore(options.db, (store) => findWorkflow(store, name));
      const code = entry.state === 'completed' ? EXIT.ok : entry.state === 'running' ? EXIT.running : EXIT.failed;
      if (options.json === true) {
        const outcome =
          entry.state === 'completed'
            ? { result: entry.result ?? { $q: 'undefined' } }
            : entry.state === 'running'
              ? {}
              : { error: entry.error === undefined ? null : { name: entry.error.name, message: entry.error.message } };
        printJson(io, { id: entry.id, type: entry.type, state: entry.state, ...outcome });
      } else if (entry.state === 'completed') {
        io.out(JSON.stringify(entry.result ?? { $q: 'undefined' }, null, 2));
      } else if (entry.state === 'running') {
        io.err(`quest: workflow ${entry.id} is still running`);
      } else {
        const error = entry.error === undefined ? 'no error recorded' : `${entry.error.name}: ${entry.error.message}`;
        io.err(`quest: workflow ${entry.id} ${entry.state === 'cancelled' ? 'was cancelled' : 'failed'}: ${error}`);
      }
      context.exit(code);
    });
}
