/** `quest resources <workflow>`: the resources open in a workflow, as its stored history says, and their content. */
import { Command } from 'commander';
import { upgradeRecord } from '../../core/records.js';
import type { Json } from '../../core/serializer.js';
import { isVisible, rebuildResources } from '../../inspect/resources.js';
import {
  EXIT,
  describeWorkflow,
  findWorkflow,
  printJson,
  showValue,
  table,
  withCommonOptions,
  withStore,
  type CliContext,
  type CommonOptions,
} from '../common.js';

interface ResourcesOptions extends CommonOptions {
  identity?: string;
}

export function resourcesCommand(context: CliContext): Command {
  return withCommonOptions(
    new Command('resources')
      .description('show the open resources of a workflow and their content, as an identity sees them')
      .argument('<workflow>', 'the workflow id (or an alias it holds)')
      .option('--identity <id>', 'see as this identity: the public resources and its own (default: public ones only)'),
  )
    .addHelpText(
      'after',
      `
The content is rebuilt from the history alone (the recorded events re-applied in order), without the
workflow's code. A workflow waiting for an event has written everything it did before waiting; one busy in a
process may hold a few changes it has not written yet (workflow-side changes are written with its next
durable write, or once it waits); outside events are written before they are acknowledged.
Another identity's private resources are never shown.

Examples:
  $ quest resources game --db .quest/guessing-game.sqlite
  $ quest resources order-1 --identity manager
  $ quest resources order-1 --identity manager --json`,
    )
    .action(async (name: string, options: ResourcesOptions) => {
      const { io } = context;
      const identity = options.identity ?? null;
      const { entry, records } = await withStore(options.db, async (store) => {
        const entry = await findWorkflow(store, name);
        return { entry, records: (await store.history(entry.id).load()).map(upgradeRecord) };
      });
      const rebuilt = rebuildResources(records);
      const visible = rebuilt.resources.filter((resource) => isVisible(resource, identity));
      const who = identity === null ? 'the public' : `${identity} (public resources and ${identity}'s own)`;
      if (options.json === true) {
        printJson(io, {
          id: entry.id,
          type: entry.type,
          state: entry.state,
          identity,
          resources: visible.map(({ name: resource, identity: owner, kind, view }) => ({ name: resource, identity: owner, kind, view })),
          warnings: rebuilt.warnings,
        });
        context.exit(EXIT.ok);
        return;
      }
      for (const warning of rebuilt.warnings) io.err(`quest: warning: ${warning}`);
      if (entry.state !== 'running') {
        io.out(`${describeWorkflow(entry)}: it has finished, so no resource is open (see quest result ${entry.id}).`);
      } else if (visible.length === 0) {
        io.out(`${describeWorkflow(entry)}: no open resources visible to ${who}.`);
      } else {
        io.out(`${describeWorkflow(entry)}: resources visible to ${who}`);
        const rows = visible.map((resource) => [resource.name, resource.identity ?? 'public', resource.kind, showContent(resource.kind, resource.view)]);
        io.out(table(['NAME', 'IDENTITY', 'KIND', 'CONTENT'], rows));
      }
      context.exit(EXIT.ok);
    });
}

/** A resource's view (see ResourceState.view) in words. */
function showContent(kind: string, view: Json): string {
  if (typeof view !== 'object' || view === null || Array.isArray(view)) return showValue(view);
  if ((kind === 'queue' || kind === 'identityQueue') && typeof view['size'] === 'number') {
    const size = view['size'];
    const items = Array.isArray(view['items']) ? view['items'] : [];
    if (size === 0) return 'empty';
    const shown = items.map((item) => showValue(item, 60)).join(', ');
    return `${size} item${size === 1 ? '' : 's'}: ${shown}${size > items.length ? ', …' : ''}`;
  }
  if (kind === 'state' && 'value' in view) return showValue(view['value']);
  if (kind === 'event' && typeof view['isSet'] === 'boolean') return view['isSet'] ? 'set' : 'not set';
  return showValue(view);
}
