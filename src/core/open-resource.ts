/**
 * A resource open in a run, the actions waiting on it, and the hand-off that lets them proceed in arrival
 * order when the resource changes.
 */
import { InvalidArgumentError } from './errors.js';
import type { ResourceKey } from './records.js';
import { WOULD_BLOCK, type ItemTag, type ResourceState } from './resources.js';
import type { StepFrame } from './context.js';

/** A blocked action waiting for a resource to change; may wait on several resources at once (MultiQueue). */
export interface Waiter {
  readonly action: string;
  readonly args: readonly unknown[];
  /** Who writes the record of this action (see ItemTag). */
  readonly origin: ItemTag['origin'];
  done: boolean;
  /** How many open resources it waits on; it fails when the last of them closes. */
  waitingOn: number;
  complete(value: unknown, resource: OpenResource): void;
  fail(reason: Error): void;
}

/** A resource open in this run. */
export class OpenResource {
  readonly waiters: Waiter[] = [];
  closed = false;
  constructor(
    readonly key: ResourceKey,
    readonly state: ResourceState,
    /** Op id of the open record; outside events on the resource carry it, so they are pruned with its scope. */
    readonly openId: string,
    /** The step whose pruning removes the resource's records (null: top level). */
    readonly frame: StepFrame | null,
  ) {}
  /**
   * Seq of the newest superseding change (a state set) that replay applies by itself; the next superseding
   * change may remove it (see Forgetting.supersede).
   */
  lastChange: number | undefined = undefined;
  /** The state's heldBytes as last counted in the run's heldBytes (Run.changed). */
  countedBytes = 0;
}

/** Map key of a resource: identity first so that `a` and `a`@x never collide. */
export function resourceMapKey(name: string, identity: string | null): string {
  return identity === null ? `-\u0000${name}` : `+${identity}\u0000${name}`;
}


/** A resource name is a non-empty string; an identity is null (public) or a non-empty string. */
export function checkResourceName(name: string, identity: string | null): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidArgumentError(`A resource name must be a non-empty string, got ${JSON.stringify(name)}.`);
  }
  if (identity !== null && (typeof identity !== 'string' || identity.length === 0)) {
    throw new InvalidArgumentError(`An identity must be null (public) or a non-empty string, got ${JSON.stringify(identity)}.`);
  }
}

/**
 * Hand `resource` to its waiting actions, in arrival order, until none can proceed. `nextSeq` is the seq the
 * next record takes (a waiter records synchronously when it completes); `changed` is told of each action.
 */
export function handOff(resource: OpenResource, nextSeq: () => number, changed: (resource: OpenResource) => void): void {
  let progressed = true;
  while (progressed && resource.waiters.length > 0) {
    progressed = false;
    for (let i = 0; i < resource.waiters.length; i++) {
      const waiter = resource.waiters[i] as Waiter;
      if (waiter.done) {
        resource.waiters.splice(i--, 1);
        continue;
      }
      const value = resource.state.perform(waiter.action, waiter.args, { seq: nextSeq(), origin: waiter.origin });
      if (value === WOULD_BLOCK) continue;
      waiter.done = true;
      resource.waiters.splice(i--, 1);
      waiter.complete(value, resource);
      changed(resource);
      progressed = true;
    }
  }
}

/** The resource closed or the run stopped: waiters that have no other resource to wait on fail. */
export function rejectWaiters(resource: OpenResource, reason: Error): void {
  for (const waiter of resource.waiters) {
    if (waiter.done || --waiter.waitingOn > 0) continue;
    waiter.done = true;
    waiter.fail(reason);
  }
  resource.waiters.length = 0;
}
