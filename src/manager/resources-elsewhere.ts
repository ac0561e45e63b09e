/**
 * The resources of a workflow that runs in another process of a shared store (WorkflowLeases), read from its
 * stored history: the open and close records and the recorded events rebuild them as replay would
 * (src/inspect/resources.ts). `resources()` reads them once; a resource stream (and `waitForResource`, which
 * follows one) reads them again at each poll of the store and sends a snapshot when what the identity sees
 * has changed, until the workflow is no longer running or the manager closes.
 *
 * The view is the history as stored: outside events are durable before `act` returns, so they show at once;
 * the records a busy workflow has not written yet (workflow-side, written with its next durable write or once
 * it waits for the outside) show at the next poll after they are. The stream keeps following the stored
 * history when the workflow moves to this process, so that a watcher (the dashboard) is not cut off.
 */
import { isQuestError } from '../core/errors.js';
import { upgradeRecord } from '../core/records.js';
import { ResourceStream, type ResourceInfo, type ResourceSnapshot } from '../core/resource-stream.js';
import { visibleResources } from '../inspect/resources.js';
import type { Store } from '../storage/store.js';
import type { ChangeWaiters } from './elsewhere.js';

/** The resources of workflow `id` that `identity` sees, as its stored history has them. */
export async function storedResources(store: Store, id: string, identity: string | null): Promise<ResourceInfo[]> {
  const records = (await store.history(id).load()).map(upgradeRecord);
  return visibleResources(records, identity).map(({ name, identity: owner, kind, view }) => ({ name, identity: owner, kind, view }));
}

/**
 * A stream of the resources of running workflow `id` that `identity` sees, read from the store at each of
 * `waiters`' polls (or when the workflow finishes): a first snapshot ('initial'), then one per change seen.
 * It ends when the workflow is no longer running, the manager closes, or the reader ends it.
 */
export function followStoredResources(store: Store, waiters: ChangeWaiters, id: string, identity: string | null): ResourceStream {
  let followed = true;
  const stream = new ResourceStream(identity, () => (followed = false));
  void (async () => {
    let seen: ResourceInfo[] | undefined;
    try {
      while (followed && !waiters.isClosed) {
        // Listen first, then read: a finish between the read and the wait is not missed.
        const looked = waiters.next(`finished:${id}`);
        const now = await readIfRunning(store, waiters, id, identity);
        if (now === 'ended') break;
        if (now !== 'retry') {
          const change = changeBetween(seen, now);
          if (change !== undefined) stream.push({ ...change, resources: now });
          seen = now;
        }
        await looked;
      }
    } finally {
      stream.end();
    }
  })();
  return stream;
}

/**
 * What `identity` sees of workflow `id` now; 'ended' once it is no longer running (or cannot be read: the
 * stream ends, and its reader asks for the outcome), 'retry' when the store is unreachable for a moment.
 */
async function readIfRunning(store: Store, waiters: ChangeWaiters, id: string, identity: string | null): Promise<ResourceInfo[] | 'ended' | 'retry'> {
  try {
    if ((await store.getWorkflow(id))?.state !== 'running') return 'ended';
    return await storedResources(store, id, identity);
  } catch (error) {
    // The database may be restarting: the workflow goes on meanwhile; look again at the next poll.
    return isQuestError(error, 'STORAGE_FAILURE') && !waiters.isClosed ? 'retry' : 'ended';
  }
}

/** The snapshot's change from `before` to `after`; undefined when the identity sees the same. */
function changeBetween(before: ResourceInfo[] | undefined, after: ResourceInfo[]): Omit<ResourceSnapshot, 'resources'> | undefined {
  if (before === undefined) return { change: 'initial' };
  const key = (resource: ResourceInfo): string => JSON.stringify([resource.name, resource.identity]);
  const was = new Map(before.map((resource) => [key(resource), resource]));
  const is = new Map(after.map((resource) => [key(resource), resource]));
  const named = ({ name, identity }: ResourceInfo) => ({ name, identity });
  const opened = after.find((resource) => !was.has(key(resource)));
  if (opened !== undefined) return { change: 'open', resource: named(opened) };
  const closed = before.find((resource) => !is.has(key(resource)));
  if (closed !== undefined) return { change: 'close', resource: named(closed) };
  const acted = after.find((resource) => JSON.stringify(resource.view) !== JSON.stringify(was.get(key(resource))?.view));
  return acted === undefined ? undefined : { change: 'act', resource: named(acted) };
}
