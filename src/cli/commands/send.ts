/** `quest send <workflow> <resource> <action> [args...]`: post an outside event to the database's inbox. */
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError } from 'commander';
import { resourceLabel, upgradeRecord } from '../../core/records.js';
import { serialize, type Json } from '../../core/serializer.js';
import { actionsOf, actionSpec, findVisible, rebuildResources } from '../../inspect/resources.js';
import {
  CliError,
  EXIT,
  findWorkflow,
  messageOf,
  parseArgument,
  printJson,
  showValue,
  withCommonOptions,
  withStore,
  type CliContext,
  type CommonOptions,
  type CliStore,
} from '../common.js';

interface SendOptions extends CommonOptions {
  identity?: string;
  wait?: boolean;
  timeout: number;
}

/** How often `--wait` looks at the inbox. */
const WAIT_POLL_MS = 100;

export function sendCommand(context: CliContext): Command {
  return withCommonOptions(
    new Command('send')
      .description('send an outside event to a workflow run by another process (through the inbox)')
      .argument('<workflow>', 'the workflow id (or an alias)')
      .argument('<resource>', 'the resource name')
      .argument('<action>', 'the action: put (queue), set (state, event), clear (event), ...')
      .argument('[args...]', 'the arguments: JSON when they parse as JSON (42, true, \'"42"\', \'{"a":1}\'), else strings')
      .option('--identity <id>', 'act as this identity (default: anonymous, public resources only)')
      .option('--wait', 'wait until a running manager has taken the event from the inbox')
      .option('--timeout <ms>', 'with --wait: give up (exit 1) after this many milliseconds', parseMilliseconds, 30_000),
  )
    .addHelpText(
      'after',
      `
The event goes into the inbox of the database (durably, before this command returns) and prints its inbox
id. The process that runs the workflow (quest run, or any WorkflowManager over the database) delivers it:
it applies it to the workflow once the workflow's replay has caught up, then removes it. An event that
cannot be applied (no such resource or action, the workflow finished) is removed and logged there; an
event for a workflow that no process runs waits in the inbox until one does.

Delivery is at least once: if that process dies after applying the event and before removing it, the
next one applies it again.

The event is checked against the stored history first: an action the resource does not have, or one that
would wait for an answer (a queue get, an event wait), is refused. A resource the stored history does not
show open is only warned about (the running process may not have written its opening yet).

Examples:
  $ quest send game guess put 42                       # the number 42
  $ quest send game guess put '"42"'                   # the string "42"
  $ quest send order-1 approval set --identity manager
  $ quest send game guess put 50 --wait --timeout 5000  # wait until the running game took it
  $ quest send game guess put -- -5                     # a negative number after --`,
    )
    .action(async (name: string, resource: string, action: string, rawArgs: string[], options: SendOptions) => {
      const { io } = context;
      const identity = options.identity ?? null;
      const args = rawArgs.map((text, n) => {
        try {
          return serialize(parseArgument(text), `argument ${n + 1}`);
        } catch (error) {
          throw new CliError(messageOf(error), EXIT.usage);
        }
      });
      const result = await withStore(options.db, async (store) => {
        const entry = await findWorkflow(store, name);
        if (entry.state !== 'running') {
          throw new CliError(`workflow ${entry.id} has finished (${entry.state}): it takes no more events`, EXIT.usage);
        }
        const warning = check((await store.history(entry.id).load()).map(upgradeRecord), resource, identity, action, args);
        if (warning !== undefined) io.err(`quest: warning: ${warning}`);
        const id = await store.postEvent({ workflowId: name, resource, identity, action, args });
        const event = { id, workflowId: name, resource, identity, action, args };
        if (options.json !== true) {
          io.out(`Posted event ${id}: ${action} on ${resourceLabel({ name: resource, identity })} of workflow ${name}${args.length === 0 ? '' : ` with ${showValue(args)}`}.`);
        }
        if (options.wait !== true) return { event, taken: undefined };
        return { event, taken: await waitUntilTaken(store, id, options.timeout) };
      }, 'post');
      if (options.json === true) printJson(io, { ...result.event, ...(result.taken === undefined ? {} : { taken: result.taken }) });
      if (result.taken === false) {
        io.err(
          `quest: event ${result.event.id} is still in the inbox after ${options.timeout} ms: is a process running workflow ${name} ` +
            '(quest run, or your application)? It stays there and is delivered when one does.',
        );
        context.exit(EXIT.failed);
        return;
      }
      if (result.taken === true && options.json !== true) io.out(`Event ${result.event.id} was taken by the running manager.`);
      context.exit(EXIT.ok);
    });
}

/**
 * Check the event against the resources the stored history has open: a CliError (exit 2) for an event that
 * can never be applied; a warning when the resource is not in the stored history.
 */
function check(records: Parameters<typeof rebuildResources>[0], name: string, identity: string | null, action: string, args: Json[]): string | undefined {
  const target = findVisible(rebuildResources(records).resources, name, identity);
  const who = identity === null ? 'the public' : identity;
  if (target === undefined) {
    return (
      `the stored history does not show a resource ${JSON.stringify(name)} open for ${who} (a running process may not have written ` +
      'its opening yet); posting anyway: if the workflow has no such resource when the event is delivered, it is dropped'
    );
  }
  const spec = actionSpec(target.kind, action);
  const sendable = Object.entries(actionsOf(target.kind))
    .filter(([, candidate]) => candidate.mutates && !candidate.blocking)
    .map(([candidate]) => candidate);
  if (spec === undefined) {
    if (sendable.length === 0) return undefined; // A kind this Quest does not know: let the workflow's process decide.
    throw new CliError(`a ${target.kind} has no action ${JSON.stringify(action)}; send one of: ${sendable.join(', ')}`, EXIT.usage);
  }
  if (spec.blocking) {
    throw new CliError(`${action} on a ${target.kind} waits for the workflow and answers the caller: the inbox cannot do that (send one of: ${sendable.join(', ')})`, EXIT.usage);
  }
  if (!spec.mutates) {
    throw new CliError(`${action} on a ${target.kind} only reads it: see quest resources instead`, EXIT.usage);
  }
  if (args.length > spec.arity) {
    throw new CliError(`${target.kind}.${action} takes ${spec.arity} argument${spec.arity === 1 ? '' : 's'}, got ${args.length}`, EXIT.usage);
  }
  return undefined;
}

/** Poll the inbox until event `id` is gone (taken); false when `timeoutMs` passes first. */
async function waitUntilTaken(store: CliStore, id: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [next] = await store.takeEvents(1, id - 1);
    if (next?.id !== id) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(WAIT_POLL_MS, Math.max(1, deadline - Date.now())));
  }
}

function parseMilliseconds(value: string): number {
  const ms = Number(value);
  if (!Number.isFinite(ms) || ms < 0) throw new InvalidArgumentError('expected a number of milliseconds');
  return ms;
}
