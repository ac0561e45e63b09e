/** Helpers of the inbox delivery tests: a manager that does not poll by itself, events, store views. */
import { event, queue } from '../../src/index.js';
import { alias } from '../../src/index.js';
import { WorkflowManager } from '../../src/manager/workflow-manager.js';
import type { WorkflowRegistry } from '../../src/manager/types.js';
import type { MemoryStore } from '../../src/storage/memory.js';
import type {
  EventInbox,
  EventOutcome,
  EventVerdict,
  InboxEvent,
  PostedEvent,
  Store,
  WorkflowEntry,
  WorkflowState,
} from '../../src/storage/store.js';
import type { History } from '../../src/core/history.js';
import { collect, quick, secrets } from './fixtures/workflows.js';

/** Listens on the public queue `words` under the alias `lobby`. */
async function lobby(): Promise<unknown> {
  await using _lobby = await alias('lobby');
  await using words = await queue<unknown>('words', null);
  return await words.get();
}

/** Opens the public queue `words` only once the public event `go` is set, then collects two words. */
async function late(): Promise<unknown[]> {
  {
    await using go = await event('go', null);
    await go.wait();
  }
  await using words = await queue<unknown>('words', null);
  return [await words.get(), await words.get()];
}

export const workflows = { collect, quick, secrets, lobby, late } satisfies WorkflowRegistry;

/** A manager over `store` that does not poll by itself (unless told), and the warnings it logs. */
export async function open(store: Store, inboxPollMs = 0): Promise<{ manager: WorkflowManager<typeof workflows>; warnings: string[] }> {
  const warnings: string[] = [];
  const manager = await WorkflowManager.open({
    store,
    workflows,
    inboxPollMs,
    logger: { warn: (...args: unknown[]) => void warnings.push(args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' ')) },
  });
  return { manager, warnings };
}

/** A `put` event. */
export const put = (workflowId: string, value: unknown, resource = 'words', identity: string | null = null): InboxEvent => ({
  workflowId, resource, identity, action: 'put', args: [value as never],
});

/** What is left in the inbox, one line per event. */
export async function inbox(store: EventInbox): Promise<string[]> {
  return (await store.takeEvents(100)).map((event) => `${event.workflowId} ${event.action} ${event.resource} ${JSON.stringify(event.args)}`);
}

/** The outcome of event `id` without its time: `pending`, `applied`, or `rejected CODE: message`. */
export async function outcome(store: EventInbox, id: number): Promise<string> {
  const found = await store.eventOutcome(id);
  if (found === undefined) return 'unknown';
  return found.status === 'rejected' ? `rejected ${found.code}: ${found.message}` : found.status;
}

/** One process's view of a shared MemoryStore: closing it leaves the data for the next view ("process"). */
export class StoreView implements Store, EventInbox {
  constructor(private readonly inner: MemoryStore) {}
  history(workflowId: string): History {
    return this.inner.history(workflowId);
  }
  putWorkflow(entry: WorkflowEntry): Promise<void> {
    return this.inner.putWorkflow(entry);
  }
  getWorkflow(workflowId: string): Promise<WorkflowEntry | undefined> {
    return this.inner.getWorkflow(workflowId);
  }
  listWorkflows(state?: WorkflowState): Promise<WorkflowEntry[]> {
    return this.inner.listWorkflows(state);
  }
  deleteWorkflow(workflowId: string): Promise<void> {
    return this.inner.deleteWorkflow(workflowId);
  }
  putAlias(name: string, workflowId: string): Promise<void> {
    return this.inner.putAlias(name, workflowId);
  }
  deleteAlias(name: string, workflowId: string): Promise<void> {
    return this.inner.deleteAlias(name, workflowId);
  }
  getAlias(name: string): Promise<string | undefined> {
    return this.inner.getAlias(name);
  }
  postEvent(event: InboxEvent): Promise<number> {
    return this.inner.postEvent(event);
  }
  takeEvents(limit: number, afterId?: number): Promise<PostedEvent[]> {
    return this.inner.takeEvents(limit, afterId);
  }
  settleEvent(id: number, verdict: EventVerdict): Promise<void> {
    return this.inner.settleEvent(id, verdict);
  }
  eventOutcome(id: number): Promise<EventOutcome | undefined> {
    return this.inner.eventOutcome(id);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A store without the inbox methods. */
export function withoutInbox(inner: MemoryStore): Store {
  const view = new StoreView(inner);
  Object.assign(view, { postEvent: undefined, takeEvents: undefined, settleEvent: undefined, eventOutcome: undefined });
  return view;
}
