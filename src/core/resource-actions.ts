/**
 * Actions on the resources of a run: the workflow's own (recorded, replayed at their position and checked
 * against the record, waiting in line when the resource cannot serve them yet, with an optional time limit)
 * and an outside caller's (by name and identity, durable before they answer).
 */
import { createDeferred } from './deferred.js';
import { NonDeterminismError, ResourceNotFoundError } from './errors.js';
import type { InternalEventRecord } from './records.js';
import { WOULD_BLOCK, visibleCandidates, type ItemTag } from './resources.js';
import { deserialize, serialize } from './serializer.js';
import type { WorkflowContext } from './context.js';
import type { TaskState } from './task-state.js';
import { armExpiry, type WaitExpiry } from './wait-expiry.js';
import { resourceMapKey, type OpenResource, type Waiter } from './open-resource.js';
import { errorOutcome, outcomeOf, valueOf } from './outcome.js';
import type { Run } from './run.js';

/**
 * A workflow-side action on a resource. Reads run at once and are not recorded; changes and waits are
 * recorded (and on replay re-applied at their position and checked against the record).
 */
export async function internalAction(
  run: Run,
  context: WorkflowContext,
  resource: OpenResource,
  action: string,
  args: readonly unknown[],
  timeout?: { deadline: number; timeoutMs: number },
): Promise<unknown> {
  context.task.check();
  if (resource.closed) throw new ResourceNotFoundError(resource.key.name, resource.key.identity, run.workflowId);
  const spec = resource.state.spec(action, args);
  if (!spec.mutates && !spec.blocking) return resource.state.perform(action, args);
  const id = context.scope.nextId(`${resource.key.name}.${action}`);
  const serializedArgs = args.map((arg, n) => serialize(arg, `argument ${n} of ${action} on ${resource.key.name}`));
  const record = (value: unknown): void => {
    run.write(context.task.id, null, {
      type: 'internal', id, resource: resource.key, action, args: serializedArgs, ...outcomeOf(value),
    });
    run.forget(run.forgetting.actionRecorded(context.scope.frame, resource, action, run.lastSeq));
  };
  // A wait that times out records the TimeoutError in place of its value (see timeout.ts).
  const expire: WaitExpiry | undefined = timeout === undefined ? undefined : {
    ...timeout,
    what: `${action} on ${resource.key.name} (${id})`,
    record: (error: Error): void => {
      run.write(context.task.id, context.scope.frame, {
        type: 'internal', id, resource: resource.key, action, args: serializedArgs, ...errorOutcome(error),
      });
    },
  };
  const live = (): Promise<unknown> | unknown => {
    if (resource.closed) throw new ResourceNotFoundError(resource.key.name, resource.key.identity, run.workflowId);
    return performLive(run, resource, action, args, context.scope.frame, record, context.task, expire);
  };
  const replay = run.replay;
  if (replay === null) return live();
  const position = replay.find('internal', id);
  if (position < 0) return afterReplay(run, context.task, `${action} on ${resource.key.name} (${id})`, live);
  const recorded = await context.task.track(replay.claim(position));
  return replayInternal(run, context, resource, recorded as InternalEventRecord, args);
}

/**
 * Run `action` once replay has caught up. It starts synchronously when released, in the order the calls
 * came (see Replay.waitLive), so that a queue get made during replay keeps its place in line.
 */
function afterReplay<T>(run: Run, task: TaskState | undefined, what: string, action: () => T | Promise<T>): Promise<T> {
  const replay = run.replay;
  if (replay === null) return Promise.resolve().then(action);
  task?.check();
  const result = createDeferred<T>();
  const gate = replay.waitLive(what, () => {
    try {
      Promise.resolve(action()).then(result.resolve, result.reject);
    } catch (error) {
      result.reject(error);
    }
  });
  gate.promise.catch(result.reject);
  return task === undefined ? result.promise : task.track(result);
}

/**
 * Wait for the first of several resources to allow `action` (MultiQueue). The chosen resource is recorded,
 * so replay takes from the same one.
 */
export async function internalActionAny(
  run: Run,
  context: WorkflowContext,
  resources: readonly OpenResource[],
  action: string,
  label: string,
  timeout?: { deadline: number; timeoutMs: number },
): Promise<[OpenResource, unknown]> {
  context.task.check();
  const id = context.scope.nextId(`${label}.${action}`);
  if (run.replay !== null) {
    const recorded = await run.claimOrLive(context, 'internal', id, `${action} on ${label} (${id})`);
    if (recorded !== null) {
      const record = recorded as InternalEventRecord;
      const resource = run.resources.get(resourceMapKey(record.resource.name, record.resource.identity));
      if (resource === undefined) throw new NonDeterminismError(`Replay found ${action} on ${record.resource.name}, which is not open`);
      return [resource, replayInternal(run, context, resource, record, [])];
    }
  }
  const deferred = createDeferred<[OpenResource, unknown]>();
  const waiter: Waiter = {
    action,
    args: [],
    origin: context.scope.frame,
    done: false,
    waitingOn: 0,
    fail: (reason) => deferred.reject(reason),
    complete: (value, resource) => {
      run.write(context.task.id, null, {
        type: 'internal', id, resource: resource.key, action, args: [], ...outcomeOf(value),
      });
      run.forget(run.forgetting.actionRecorded(context.scope.frame, resource, action, run.lastSeq));
      deferred.resolve([resource, value]);
    },
  };
  for (const resource of resources) {
    if (resource.closed) continue;
    waiter.waitingOn++;
    resource.waiters.push(waiter);
    run.handOff(resource);
    if (waiter.done) break;
  }
  const waitEnded = waiter.done ? undefined : run.idleBegan();
  const first = resources.find((resource) => !resource.closed);
  const timer = waiter.done || timeout === undefined || first === undefined ? undefined : armExpiry(
    {
      ...timeout,
      what: `${action} on ${label} (${id})`,
      record: (error) => run.write(context.task.id, context.scope.frame, {
        type: 'internal', id, resource: first.key, action, args: [], ...errorOutcome(error),
      }),
    },
    waiter,
    () => run.stopReason === undefined,
    deferred.reject,
  );
  const quietEnded = waiter.done ? undefined : run.quiescence.waitBegan(context.task, timeout?.deadline);
  try {
    return await context.task.track(deferred);
  } finally {
    waiter.done = true;
    timer?.clear();
    waitEnded?.();
    quietEnded?.();
  }
}

function replayInternal(run: Run, context: WorkflowContext, resource: OpenResource, record: InternalEventRecord, args: readonly unknown[]): unknown {
  if (record.error !== undefined) {
    // A wait that timed out: it changed nothing; it throws its recorded TimeoutError again.
    context.scope.frame?.seqs.push(record.seq);
    return valueOf(record);
  }
  const value = resource.state.perform(record.action, args, { seq: record.seq, origin: context.scope.frame });
  if (value === WOULD_BLOCK) {
    throw run.diverged(`Replay could not repeat ${record.action} on ${resource.key.name} (${record.id}): it would wait`);
  }
  const actual = serialize(value);
  if (record.error === undefined && JSON.stringify(actual) !== JSON.stringify(record.result ?? null)) {
    throw run.diverged(
      `Replay of ${record.action} on ${resource.key.name} (${record.id}) gave ${JSON.stringify(actual)}, but the history recorded ${JSON.stringify(record.result)}`,
    );
  }
  run.forget(run.forgetting.actionRecorded(context.scope.frame, resource, record.action, record.seq));
  run.changed(resource, 'act');
  run.handOff(resource);
  return value;
}

/** An outside caller's action, by resource name and the caller's identity. */
export async function externalAction(run: Run, name: string, identity: string | null, action: string, args: readonly unknown[]): Promise<unknown> {
  if (run.stopReason !== undefined) throw run.stopReason;
  if (run.replay === null) return externalNow(run, name, identity, action, args);
  return afterReplay(run, undefined, `outside ${action} on ${name}`, () => externalNow(run, name, identity, action, args));
}

async function externalNow(run: Run, name: string, identity: string | null, action: string, args: readonly unknown[]): Promise<unknown> {
  if (run.stopReason !== undefined) throw run.stopReason;
  const resource = findVisible(run, name, identity);
  const spec = resource.state.spec(action, args);
  if (!spec.mutates && !spec.blocking) return resource.state.perform(action, args);
  const prepared = resource.state.prepareExternal(action, [...args]);
  const serializedArgs = prepared.map((arg, n) => serialize(arg, `argument ${n} of ${action} on ${name}`));
  // The workflow sees a copy, exactly as it will on replay; the caller cannot change it afterwards.
  const copies = serializedArgs.map((arg) => deserialize(arg));
  let durable: Promise<void> | undefined;
  const value = await performLive(run, resource, action, copies, undefined, (result) => {
    if (!spec.mutates) return;
    run.write('', resource.frame, {
      type: 'external', id: resource.openId, resource: resource.key, action, args: serializedArgs, ...outcomeOf(result),
    });
    run.forget(run.forgetting.outsideChange(resource, action, run.lastSeq));
    durable = run.flush();
  });
  if (durable !== undefined) await durable;
  return value;
}

/** The resource `name` visible to `identity` (core/resources.ts visibleCandidates: its own, then the public one). */
export function findVisible(run: Run, name: string, identity: string | null): OpenResource {
  for (const candidate of visibleCandidates(name, identity)) {
    const found = run.resources.get(resourceMapKey(candidate.name, candidate.identity));
    if (found !== undefined) return found;
  }
  throw new ResourceNotFoundError(name, identity, run.workflowId);
}

/** Perform now if possible (recording synchronously), else wait in line for the resource to change. */
function performLive(
  run: Run,
  resource: OpenResource,
  action: string,
  args: readonly unknown[],
  origin: ItemTag['origin'],
  record: (value: unknown) => void,
  task?: TaskState,
  expire?: WaitExpiry,
): Promise<unknown> | unknown {
  const value = resource.state.perform(action, args, { seq: run.lastSeq + 1, origin });
  if (value !== WOULD_BLOCK) {
    record(value);
    run.changed(resource, 'act');
    run.handOff(resource);
    return value;
  }
  const deferred = createDeferred<unknown>();
  const waiter: Waiter = {
    action,
    args,
    origin,
    done: false,
    waitingOn: 1,
    fail: (reason) => deferred.reject(reason),
    complete: (result) => {
      record(result);
      deferred.resolve(result);
    },
  };
  resource.waiters.push(waiter);
  // An outside caller waiting (a get on a queue the workflow fills) is not the workflow waiting.
  if (task === undefined) {
    return deferred.promise.finally(() => {
      waiter.done = true;
    });
  }
  const tracked = task.track(deferred);
  const waitEnded = run.idleBegan();
  const timer = expire === undefined ? undefined : armExpiry(expire, waiter, () => run.stopReason === undefined, deferred.reject);
  const quietEnded = run.quiescence.waitBegan(task, expire?.deadline);
  return tracked.finally(() => {
    waiter.done = true;
    timer?.clear();
    waitEnded();
    quietEnded();
  });
}
