/** `quest send <workflow> <resource> <action> [args...]`: post an outside event to the database's inbox. */
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError } from 'commander';
import { resourceLabel, upgradeRecord } from '../../core/records.js';
import { serialize, type Json } from '../../core/serializer.js';
import { actionsOf, actionSpec, findVisible } from '../../core/resources.js';
import { rebuildResources } from '../../inspect/resources.js';
import type { EventInbox, EventOutcome } from '../../storage/store.js';
import {
  CliError,
  EXIT,
  findWorkflow,
  inboxOf,
  messageOf,
  parseArgument,
  printJson,
  showValue,
  withCommonOptions,
  withStore,
  type CliContext,
  type CommonOptions,
} from '../common.js';

interface SendOptions extends CommonOptions {
  identity?: string;
  wait?: boolean;
  timeout: number;
  ttl?: number;
}

/** How often `--wait` looks at the event's outcome. */
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
      .option('--ttl <ms>', 'time-to-live: reject the event if it is not applied within this many milliseconds', parseMilliseconds)
      .option('--wait', 'wait for the outcome: exit 0 once applied, 1 when rejected (with the reason)')
      .option('--timeout <ms>', 'with --wait: give up (exit 1) after this many milliseconds', parseMilliseconds, 30_000),
  )
    .addHelpText(
      'after',
      `
The event goes into the inbox of the database (durably, before this command returns) and prints its inbox
id. The process that runs the workflow (quest run, or any WorkflowManager over the database) delivers it:
it applies it once the workflow's replay has caught up and the resource is open, then records the outcome.
An event for a resource the workflow has not opened yet waits in the inbox until it does (or until its
--ttl passes); an event for a workflow that no process runs waits until one does. An event that can never
be applied (the workflow ended or was deleted, no such action, wrong arguments, its --ttl passed) is
rejected, and the reason is kept for a day: --wait prints it.

Delivery is at least once: if that process dies after applying the event and before recording it, the
next one applies it again.

The event is checked against the stored history first: an action the resource does not have, or one that
would wait for an answer (a queue get, an event wait), is refused. A resource the stored history does not
show open for the identity is only warned about (the workflow may open it later).

Exit codes: 0 posted (with --wait: applied), 1 rejected or still waiting at --timeout (with --wait), 2 bad
usage, unknown or finished workflow.

Examples:
  $ quest send game guess put 42                       # the number 42
  $ quest send game guess put '"42"'                   # the string "42"
  $ quest send order-1 approval set --identity manager
  $ quest send game guess put 50 --wait --timeout 5000  # wait for the outcome: applied (0) or rejected (1)
  $ quest send game guess put 50 --ttl 60000           # rejected unless applied within a minute
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
      const result = await withStore(options.db, async (opened) => {
        const store = inboxOf(opened);
        const entry = await findWorkflow(store, name);
        if (entry.state !== 'running') {
          throw new CliError(`workflow ${entry.id} has finished (${entry.state}): it takes no more events`, EXIT.usage);
        }
        const warning = check((await store.history(entry.id).load()).map(upgradeRecord), resource, identity, action, args);
        if (warning !== undefined) io.err(`quest: warning: ${warning}`);
        const ttl = options.ttl === undefined ? {} : { ttlMs: options.ttl };
        const id = await store.postEvent({ workflowId: name, resource, identity, action, args, ...ttl });
        const event = { id, workflowId: name, resource, identity, action, args, ...ttl };
        if (options.json !== true) {
          io.out(`Posted event ${id}: ${action} on ${resourceLabel({ name: resource, identity })} of workflow ${name}${args.length === 0 ? '' : ` with ${showValue(args)}`}.`);
        }
        if (options.wait !== true) return { event, outcome: undefined };
        return { event, outcome: await waitForOutcome(store, id, options.timeout) };
      }, 'post');
      if (options.json === true) printJson(io, { ...result.event, ...(result.outcome === undefined ? {} : { outcome: result.outcome }) });
      context.exit(reportOutcome(io, result.event.id, name, result.outcome, options));
    });
}

/** Say what became of the event (with --wait) and return the exit code: 0 applied, 1 rejected or not yet. */
function reportOutcome(io: CliContext['io'], id: number, workflow: string, outcome: EventOutcome | undefined | 'unknown', options: SendOptions): number {
  const text = options.json !== true;
  if (outcome === undefined) return EXIT.ok;
  if (outcome === 'unknown') {
    io.err(`quest: the outcome of event ${id} is not known any more (outcomes are kept for a day): look at the workflow with quest resources`);
    return EXIT.failed;
  }
  switch (outcome.status) {
    case 'applied':
      if (text) io.out(`Event ${id} was applied to workflow ${workflow}.`);
      return EXIT.ok;
    case 'rejected':
      io.err(`quest: event ${id} was rejected: ${outcome.code}: ${outcome.message}`);
      return EXIT.failed;
    case 'pending':
      io.err(
        `quest: event ${id} is still in the inbox after ${options.timeout} ms: is a process running workflow ${workflow} ` +
          '(quest run, or your application), and has the workflow opened the resource? It stays there and is applied when both are true' +
          `${options.ttl === undefined ? '' : ` (unless its time-to-live of ${options.ttl} ms passes first)`}.`,
      );
      return EXIT.failed;
  }
}

/**
 * Check the event against the resources the stored history has open: a CliError (exit 2) for an event that
 * can never be applied; a warning when the resource is not in the stored history.
 */
function check(records: Parameters<typeof rebuildResources>[0], name: string, identity: string | null, action: string, args: Json[]): string | undefined {
  const target = findVisible(rebuildResources(records).resources, name, identity);
  const who = identity === null ? 'the public' : identity;
  if (target === undefined) {
    // The same words whether the resource does not exist or is another identity's: they must not tell which.
    return (
      `the stored history does not show a resource ${JSON.stringify(name)} open for ${who}; posting anyway: the event waits in ` +
      'the inbox until the workflow opens it (or until its --ttl passes)'
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

/** Poll the outcome of event `id` until it is settled; still pending when `timeoutMs` passes first. */
async function waitForOutcome(store: EventInbox, id: number, timeoutMs: number): Promise<EventOutcome | 'unknown'> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const outcome = await store.eventOutcome(id);
    if (outcome === undefined) return 'unknown';
    if (outcome.status !== 'pending' || Date.now() >= deadline) return outcome;
    await sleep(Math.min(WAIT_POLL_MS, Math.max(1, deadline - Date.now())));
  }
}

function parseMilliseconds(value: string): number {
  const ms = Number(value);
  if (!Number.isFinite(ms) || ms < 0) throw new InvalidArgumentError('expected a number of milliseconds');
  return ms;
}
