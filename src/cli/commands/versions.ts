/** `quest versions`: which code versions the live histories still replay. */
import { Command } from 'commander';
import type { QuestError } from '../../core/errors.js';
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
      const unread: Unread = { damaged: [], newer: [] };
      const onUnread = (id: string, error: QuestError): void => void (error.code === 'UNSUPPORTED_FORMAT' ? unread.newer : unread.damaged).push(id);
      const usages = await withStore(options.db, (store) => versionsInUse(store, { onUnread }));
      const notes = unreadNotes(unread);
      if (options.json === true) {
        printJson(io, usages);
        for (const note of notes) io.err(`quest: ${note.charAt(0).toLowerCase()}${note.slice(1)}`);
        context.exit(EXIT.ok);
        return;
      }
      if (usages.length === 0) {
        io.out(notes.length === 0 ? 'No unfinished workflow replays a versioned code path: no old version is needed.' : 'No history read replays a versioned code path.');
      } else {
        const rows = usages.map((usage) => [
          usage.fn ?? '(all)',
          usage.name === '' ? '(global)' : usage.name,
          usage.version === '' ? '(none)' : usage.version,
          String(usage.workflows.length),
          someOf(usage.workflows),
        ]);
        io.out(table(['FUNCTION', 'NAME', 'VERSION', 'COUNT', 'WORKFLOWS'], rows));
      }
      if (notes.length > 0) io.out(`\n${notes.join('\n')}`);
      context.exit(EXIT.ok);
    });
}

/** The running workflows whose history could not be read, by why. */
interface Unread {
  damaged: string[];
  newer: string[];
}

/** What the report leaves out, a line per reason: the versions those workflows replay are not known. */
function unreadNotes({ damaged, newer }: Unread): string[] {
  const notes: string[] = [];
  if (damaged.length > 0) {
    notes.push(
      `Not read: ${workflowsWhose(damaged)} history is damaged (${someOf(damaged)}). ${damaged.length === 1 ? 'It replays' : 'They replay'} no code until ` +
        `${damaged.length === 1 ? 'its history is' : 'their histories are'} restored (quest list --state damaged says why); check the versions again then.`,
    );
  }
  if (newer.length > 0) notes.push(`Not read: ${workflowsWhose(newer)} history a newer Quest wrote (${someOf(newer)}): upgrade Quest to read ${newer.length === 1 ? 'it' : 'them'}.`);
  return notes;
}

function workflowsWhose(ids: readonly string[]): string {
  return `${ids.length} running ${ids.length === 1 ? 'workflow' : 'workflows'} whose`;
}

/** The first ten ids, and how many more. */
function someOf(ids: readonly string[]): string {
  return ids.length <= 10 ? ids.join(', ') : `${ids.slice(0, 10).join(', ')}, … (${ids.length - 10} more)`;
}
