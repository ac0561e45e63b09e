/**
 * Reaching workflows that run in another process of a shared store (WorkflowLeases): wait for the outcome of
 * one (getResult), act on one through the inbox (act). Both wake on the store's notifications (a workflow
 * finished, an inbox event settled) and poll as well, since a notification may be lost.
 */
import { InvalidArgumentError, QuestError, WorkflowNotFoundError, WorkflowSuspendedError, isQuestError, type QuestErrorCode } from '../core/errors.js';
import { answersNothing } from '../core/resources.js';
import { serialize } from '../core/serializer.js';
import { hasInbox, type Store, type StoreChange, type WorkflowEntry, type WorkflowLeases } from '../storage/store.js';

/** How often a waiter looks at the store when no notification came. */
const POLL_MS = 1000;

/** Who waits for what: a workflow's end, an event's settlement. */
export class ChangeWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();
  private closed = false;

  /** Wake whoever waits for what `change` is about. */
  heard(change: StoreChange): void {
    if (change.kind === 'finished') this.wake(`finished:${change.workflowId}`);
    else if (change.kind === 'settled') this.wake(`settled:${change.eventId}`);
  }

  /** Resolve at the next change of `key`, after `POLL_MS`, or at close(), whichever comes first. */
  next(key: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const set = this.waiting.get(key) ?? new Set();
      this.waiting.set(key, set);
      const done = (): void => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.waiting.get(key) === set) this.waiting.delete(key);
        resolve();
      };
      const timer = setTimeout(done, POLL_MS);
      timer.unref();
      set.add(done);
    });
  }

  /** Wake everybody for good (the manager closes). */
  close(): void {
    this.closed = true;
    for (const key of [...this.waiting.keys()]) this.wake(key);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private wake(key: string): void {
    for (const done of [...(this.waiting.get(key) ?? [])]) done();
  }
}

/**
 * Wait until workflow `id` (running in another process, or waiting to be claimed) has finished, and return
 * its stored entry; `runsHere()` true means this manager took it meanwhile: the caller waits for its run
 * instead (undefined is returned). WorkflowNotFoundError once it is gone, WorkflowSuspendedError when the
 * manager closes first.
 */
export async function awaitFinished(
  store: Store,
  waiters: ChangeWaiters,
  id: string,
  asked: string,
  runsHere: () => boolean,
): Promise<WorkflowEntry | undefined> {
  for (;;) {
    // Listen first, then read: a change between the read and the wait is not missed.
    const changed = waiters.next(`finished:${id}`);
    if (runsHere()) return undefined;
    let entry: WorkflowEntry | undefined;
    try {
      entry = await store.getWorkflow(id);
    } catch (error) {
      // The database may be restarting: the workflow goes on meanwhile; look again.
      if (!isQuestError(error, 'STORAGE_FAILURE') || waiters.isClosed) throw error;
      await changed;
      continue;
    }
    if (entry === undefined) throw new WorkflowNotFoundError(asked);
    if (entry.state !== 'running') return entry;
    if (waiters.isClosed) throw new WorkflowSuspendedError(id, 'its workflow manager is closing');
    await changed;
  }
}

/**
 * Act on workflow `id`, which runs in another process, through the store's inbox: post the event, wait for
 * its outcome (the owner applies it as soon as the event's resource is open), and throw the reason when it
 * was rejected. Only actions that answer nothing (put, set, clear) go this way: a read or a take would answer
 * in the other process, and its value would be lost (InvalidArgumentError says where to call it instead).
 */
export async function actElsewhere(
  store: Store & WorkflowLeases,
  waiters: ChangeWaiters,
  id: string,
  event: { resource: string; identity: string | null; action: string; args: unknown[] },
): Promise<unknown> {
  if (!hasInbox(store)) throw new WorkflowSuspendedError(id, 'it runs in another process, and this store has no inbox to reach it');
  if (!answersNothing(event.action)) {
    throw new InvalidArgumentError(
      `${event.action} on ${event.resource} answers a value, and workflow ${id} runs in another process, where that value ` +
        `would stay: call it through the process that runs the workflow (its QuestServer), or send an action that ` +
        `answers nothing (put, set, clear).`,
    );
  }
  const args = event.args.map((arg, n) => serialize(arg, `argument ${n} of ${event.action} on ${event.resource}`));
  const eventId = await store.postEvent({ workflowId: id, resource: event.resource, identity: event.identity, action: event.action, args });
  for (;;) {
    const settled = waiters.next(`settled:${eventId}`);
    let outcome: Awaited<ReturnType<typeof store.eventOutcome>>;
    try {
      outcome = await store.eventOutcome(eventId);
    } catch (error) {
      if (!isQuestError(error, 'STORAGE_FAILURE') || waiters.isClosed) throw error;
      await settled;
      continue;
    }
    if (outcome !== undefined && outcome.status === 'applied') return undefined;
    if (outcome !== undefined && outcome.status === 'rejected') throw rejectionError(outcome.code, outcome.message);
    if (waiters.isClosed) throw new WorkflowSuspendedError(id, `its workflow manager is closing (inbox event ${eventId} stays in the inbox)`);
    await settled;
  }
}

/** The error of a rejected inbox event, as the Quest error of its code where it is one. */
function rejectionError(code: string, message: string): Error {
  const quest = new QuestError(code as QuestErrorCode, message);
  if (isQuestError(quest)) return quest;
  const error = new Error(message);
  error.name = code;
  return error;
}

/** True for a run that stopped because its workflow moved to another process (or may: a storage failure). */
export function movedAway(halted: unknown): boolean {
  return isQuestError(halted, 'LEASE_LOST') || isQuestError(halted, 'STORAGE_FAILURE');
}
