/** `quest versions`: which code versions the live histories still replay. */
import { Command } from 'commander';
import { versionsInUse } from '../../inspect/versions.js';
import { EXIT, printJson, table, withCommonOptions, withStore, type CliContext, type CommonOptions } from '../common.js';

export function versionsCommand(context: CliContext): Command {
  return withCommonOptions(
    new Command('versions').description('list the code versions that unfinished workflows still replay'),
  )
    .addHelpText(
      'after',
      `
Code declares versions with versioned(...) and branches with getVersion(name). A version belongs to
the function that declares it (FUNCTION: its name, or versioned(v, fn, { name })). A workflow's
history replays the code path of every version it recorded, so an old path must stay while an
unfinished workflow still replays it. A version no longer listed here is replayed by no live
history: its code path can be deleted. "(none)" is the code from before the function's first
version of that name was recorded; "(global)" is a function's own version (versioned('2', fn));
"(all)" marks a version recorded by an older Quest (history format 1), which applied to every
function declaring that name.

Examples:
  $ quest versions
  $ quest versions --json --db .quest/guessing-game.sqlite`,
    )
    .action(async (options: CommonOptions) => {
      const { io } = context;
      const usages = await withStore(options.db, (store) => versionsInUse(store));
      if (options.json === true) {
        printJson(io, usages);
      } else if (usages.length === 0) {
        io.out('No unfinished workflow replays a versioned code path: no old version is needed.');
      } else {
        const rows = usages.map((usage) => [
          usage.fn ?? '(all)',
          usage.name === '' ? '(global)' : usage.name,
          usage.version === '' ? '(none)' : usage.version,
          String(usage.workflows.length),
          usage.workflows.length <= 10 ? usage.workflows.join(', ') : `${usage.workflows.slice(0, 10).join(', ')}, … (${usage.workflows.length - 10} more)`,
        ]);
        io.out(table(['FUNCTION', 'NAME', 'VERSION', 'COUNT', 'WORKFLOWS'], rows));
      }
      context.exit(EXIT.ok);
    });
}
