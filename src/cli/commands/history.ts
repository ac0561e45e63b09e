/** `quest history <workflow>`: the stored history of a workflow, record by record (read only). */
import { Command } from 'commander';
import { upgradeRecord } from '../../core/records.js';
import {
  EXIT,
  describeWorkflow,
  findWorkflow,
  formatTime,
  printJson,
  table,
  withCommonOptions,
  withStore,
  type CliContext,
  type CommonOptions,
} from '../common.js';
import { historyItems, prunedCount, prunedLine, recordDetails } from '../../inspect/history-view.js';

export function historyCommand(context: CliContext): Command {
  return withCommonOptions(
    new Command('history')
      .description('show the stored history of a workflow, record by record (reads only)')
      .argument('<workflow>', 'the workflow id (or an alias it holds)'),
  )
    .addHelpText(
      'after',
      `
Columns: SEQ (position in the history), TIME (when it was recorded, UTC), TASK (the task that wrote it;
"-" for outside events, versions and configurations), TYPE, OP ID (the deterministic id of the call),
DETAILS (result or error, resource, action and arguments, version, ...). Records pruned when the step (or
loop iteration) around them ended show as "… 14 records pruned …" where their seqs are missing.
A finished workflow's history is cleared: see quest result.

Examples:
  $ quest history game --db .quest/guessing-game.sqlite
  $ quest history order-1 --json`,
    )
    .action(async (name: string, options: CommonOptions) => {
      const { io } = context;
      const { entry, records } = await withStore(options.db, async (store) => {
        const entry = await findWorkflow(store, name);
        const records = (await store.history(entry.id).load()).map(upgradeRecord);
        return { entry, records };
      });
      const items = historyItems(records);
      if (options.json === true) {
        printJson(io, { id: entry.id, type: entry.type, state: entry.state, records: records.length, pruned: prunedCount(records), items });
        context.exit(EXIT.ok);
        return;
      }
      if (records.length === 0) {
        io.out(
          entry.state === 'running'
            ? `${describeWorkflow(entry)}: no records yet.`
            : `${describeWorkflow(entry)}: its history was cleared when it finished (see quest result ${entry.id}).`,
        );
        context.exit(EXIT.ok);
        return;
      }
      io.out(`${describeWorkflow(entry)}: ${records.length} record${records.length === 1 ? '' : 's'} stored, ${prunedCount(records)} pruned`);
      const header = ['SEQ', 'TIME', 'TASK', 'TYPE', 'OP ID', 'DETAILS'];
      const rows = items.map((item) =>
        item.type === 'pruned'
          ? ['', prunedLine(item)]
          : [String(item.seq), formatTime(item.t), item.task === '' ? '-' : item.task, item.type, item.id === '' ? '-' : item.id, recordDetails(item)],
      );
      // Pruned lines span the row: lay out the records, then put the pruned lines in their places.
      const laidOut = table(header, rows.map((row) => (row.length === 2 ? header.map(() => '') : row))).split('\n');
      const seqWidth = Math.max(3, ...rows.map((row) => (row.length === 2 ? 0 : (row[0] ?? '').length)));
      rows.forEach((row, index) => {
        if (row.length === 2) laidOut[index + 1] = `${' '.repeat(seqWidth + 2)}${row[1] ?? ''}`;
      });
      io.out(laidOut.join('\n'));
      context.exit(EXIT.ok);
    });
}
