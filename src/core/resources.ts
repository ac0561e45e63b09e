/**
 * Resource kinds: the state machines behind queues, states, events and identity queues. A resource only
 * knows how to apply an action now or say it would block; recording, replay and waiting live in the run
 * (run.ts, run-resources.ts), so every kind gets them for free.
 */
import { randomUUID } from 'node:crypto';
import { InvalidArgumentError, UnknownActionError } from './errors.js';
import { serialize, type Json } from './serializer.js';
import { estimateValueBytes } from './value-size.js';

/** What an action does, which decides whether it is recorded and whether an outside caller may use it. */
export interface ActionSpec {
  /** Changes the resource: recorded as an event, replayed in history order. */
  readonly mutates: boolean;
  /** May have to wait until the resource can perform it (a get on an empty queue). */
  readonly blocking: boolean;
  /** Number of arguments the action takes. */
  readonly arity: number;
  /**
   * Takes away something an earlier action added (a queue get takes a put's item). The record of that earlier
   * action is then owned by the taking record: both are pruned together, so replay stays consistent.
   */
  readonly consumes?: boolean;
  /**
   * Replaces the resource's whole state (a state set, an event set or clear): the record of the previous such
   * action stops mattering once nothing can observe the resource between the two, and is removed (see
   * Forgetting.supersede). This is what keeps a long loop that publishes its progress in a state bounded.
   */
  readonly supersedes?: boolean;
}

/**
 * Which record added an item, and who wrote it: `origin` is the step frame of the workflow code that wrote
 * it (null: top-level code), undefined when nobody replays it as a call (an outside event).
 */
export interface ItemTag {
  readonly seq: number;
  readonly origin: { readonly ended: boolean } | null | undefined;
}

/** Returned by {@link ResourceState.perform} when the action must wait for a change of the resource. */
export const WOULD_BLOCK: unique symbol = Symbol('would block');

/** The state of one open resource. */
export abstract class ResourceState {
  abstract readonly kind: string;
  abstract readonly actions: Readonly<Record<string, ActionSpec>>;
  /**
   * Apply `action` now, or return WOULD_BLOCK. Arguments are already validated. `tag` names the record that
   * describes this action (kinds that hold items remember which record added each).
   */
  abstract perform(action: string, args: readonly unknown[], tag?: ItemTag): unknown;
  /** After a consuming action: the tag of the record that had added what it took (see ActionSpec.consumes). */
  taken: ItemTag | undefined = undefined;
  /**
   * Estimated heap bytes of the values the resource holds (queued items, a state's value), kept up to date
   * by each action: a run's memory estimate sums these without walking the values again (see ./value-size.ts).
   */
  heldBytes = 0;
  /** A JSON view of the resource for listings, streams and the dashboard. */
  abstract view(): Json;
  /** Arguments an outside caller's action needs that the workflow must not invent on replay (fresh ids). */
  prepareExternal(_action: string, args: unknown[]): unknown[] {
    return args;
  }

  /** The spec of `action`, or UnknownActionError. Validates the argument count. */
  spec(action: string, args: readonly unknown[]): ActionSpec {
    const spec = Object.hasOwn(this.actions, action) ? this.actions[action] : undefined;
    if (spec === undefined) throw new UnknownActionError(this.kind, action, Object.keys(this.actions));
    if (args.length > spec.arity) {
      throw new InvalidArgumentError(
        `${this.kind}.${action} takes ${spec.arity} argument${spec.arity === 1 ? '' : 's'}, got ${args.length}.`,
      );
    }
    return spec;
  }
}

const MUTATE = { mutates: true, blocking: false, arity: 1 } as const;
const REPLACE = { mutates: true, blocking: false, arity: 1, supersedes: true } as const;
const REPLACE0 = { mutates: true, blocking: false, arity: 0, supersedes: true } as const;
const TAKE = { mutates: true, blocking: true, arity: 0, consumes: true } as const;
const READ = { mutates: false, blocking: false, arity: 0 } as const;

/** A queued item's own objects: the entry, its tag and its slot in the array. */
const QUEUE_ITEM_BYTES = 32 + 32 + 8;

/** A first-in, first-out queue. Outside callers usually `put`; the workflow `get`s (or the other way round). */
export class QueueState extends ResourceState {
  readonly kind: string = 'queue';
  readonly actions: Readonly<Record<string, ActionSpec>> = { put: MUTATE, get: TAKE, size: READ };
  /** Items in order, each with the seq of the record that put it. */
  protected items: Array<{ value: unknown; tag: ItemTag | undefined; bytes: number } | undefined> = [];
  private head = 0;

  perform(action: string, args: readonly unknown[], tag?: ItemTag): unknown {
    switch (action) {
      case 'put': {
        const bytes = QUEUE_ITEM_BYTES + estimateValueBytes(args[0]);
        this.items.push({ value: args[0], tag, bytes });
        this.heldBytes += bytes;
        return undefined;
      }
      case 'get': {
        if (this.head === this.items.length) return WOULD_BLOCK;
        const item = this.items[this.head];
        this.items[this.head++] = undefined;
        this.taken = item?.tag;
        this.heldBytes -= item?.bytes ?? 0;
        // Compact now and then so a long-lived queue does not keep a growing dead prefix.
        if (this.head > 1024 && this.head * 2 > this.items.length) {
          this.items = this.items.slice(this.head);
          this.head = 0;
        }
        return item?.value;
      }
      case 'size':
        return this.items.length - this.head;
    }
    return undefined;
  }

  view(): Json {
    const pending = this.items.slice(this.head);
    return { size: pending.length, items: viewItems(pending.slice(0, 20).map((item) => item?.value)) };
  }
}

/**
 * A queue in which every outside `put` gets a fresh identity (a UUID), returned to the caller; the workflow
 * `get`s `[identity, value]` pairs and can answer on resources scoped to that identity.
 */
export class IdentityQueueState extends QueueState {
  override readonly kind: string = 'identityQueue';

  override prepareExternal(action: string, args: unknown[]): unknown[] {
    return action === 'put' ? [[randomUUID(), args[0]]] : args;
  }

  override perform(action: string, args: readonly unknown[], tag?: ItemTag): unknown {
    if (action === 'put') {
      const entry = args[0];
      if (!isIdentityPair(entry)) throw new InvalidArgumentError('identityQueue.put expects [identity, value].');
      super.perform('put', [entry], tag);
      return entry[0];
    }
    return super.perform(action, args, tag);
  }
}

function isIdentityPair(value: unknown): value is [string, unknown] {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === 'string';
}

/** A single value the workflow and outside callers can read and set. */
export class StateState extends ResourceState {
  readonly kind = 'state';
  readonly actions: Readonly<Record<string, ActionSpec>> = { get: READ, set: REPLACE };
  constructor(private value: unknown) {
    super();
    this.heldBytes = estimateValueBytes(value);
  }

  perform(action: string, args: readonly unknown[]): unknown {
    if (action === 'set') {
      this.value = args[0];
      this.heldBytes = estimateValueBytes(args[0]);
    } else {
      return this.value;
    }
    return undefined;
  }

  view(): Json {
    return { value: viewItems([this.value])[0] ?? null };
  }
}

/** A flag that can be set, cleared and waited for. */
export class EventState extends ResourceState {
  readonly kind = 'event';
  readonly actions: Readonly<Record<string, ActionSpec>> = {
    set: REPLACE0,
    clear: REPLACE0,
    wait: { mutates: false, blocking: true, arity: 0 },
    isSet: READ,
  };
  private flag = false;

  perform(action: string): unknown {
    switch (action) {
      case 'set':
        this.flag = true;
        return undefined;
      case 'clear':
        this.flag = false;
        return undefined;
      case 'wait':
        return this.flag ? undefined : WOULD_BLOCK;
      case 'isSet':
        return this.flag;
    }
    return undefined;
  }

  view(): Json {
    return { isSet: this.flag };
  }
}

function viewItems(values: readonly unknown[]): Json[] {
  return values.map((value) => {
    try {
      return serialize(value);
    } catch {
      return String(value);
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// The kinds by name, and who sees which resource: one rule for the engine, the manager, the inbox and the CLI.

/** The resource kinds a history can name, by the `kind` of their open records. */
const KINDS: Readonly<Record<string, (init: unknown) => ResourceState>> = {
  queue: () => new QueueState(),
  identityQueue: () => new IdentityQueueState(),
  state: (init) => new StateState(init),
  event: () => new EventState(),
};

/**
 * A fresh state of resource kind `kind` (`init`: a state's initial value), or undefined for a kind this
 * version of Quest does not know.
 *
 * @example
 * const queue = createResourceState('queue');
 */
export function createResourceState(kind: string, init?: unknown): ResourceState | undefined {
  const make = Object.hasOwn(KINDS, kind) ? KINDS[kind] : undefined;
  return make?.(init);
}

/**
 * What action `action` does on a resource of kind `kind` (mutates? blocks? arity), or undefined when the
 * kind or the action is unknown.
 *
 * @example
 * actionSpec('queue', 'get');   // { mutates: true, blocking: true, arity: 0, consumes: true }
 */
export function actionSpec(kind: string, action: string): ActionSpec | undefined {
  const actions = createResourceState(kind)?.actions;
  return actions !== undefined && Object.hasOwn(actions, action) ? actions[action] : undefined;
}

/**
 * True when `action` answers nothing (a put, a set, a clear) on resources of kind `kind`, or on every kind that
 * has it when `kind` is not known: it can travel through an inbox, whose sender learns only whether it was
 * applied. A read, a wait or a take (a queue's get) answers a value, which would be lost there.
 */
export function answersNothing(action: string, kind?: string): boolean {
  const specs = (kind === undefined ? Object.keys(KINDS) : [kind]).flatMap((name) => actionSpec(name, action) ?? []);
  return specs.length > 0 && specs.every((spec) => spec.mutates && !spec.blocking && spec.consumes !== true);
}

/** The actions of resource kind `kind` (empty for an unknown kind). */
export function actionsOf(kind: string): Readonly<Record<string, ActionSpec>> {
  return createResourceState(kind)?.actions ?? {};
}

/** A resource's name and owner: `identity` null for a public resource. */
export interface ResourceOwner {
  readonly name: string;
  readonly identity: string | null;
}

/**
 * True when `identity` sees `resource`: it is public, or it is that identity's own (never another
 * identity's). An outside caller cannot tell another identity's private resource from one that does not
 * exist: every answer (not found, waiting in the inbox, expired) is the same for both.
 */
export function isVisible(resource: ResourceOwner, identity: string | null): boolean {
  return resource.identity === null || (identity !== null && resource.identity === identity);
}

/**
 * The resources an outside caller `identity` may reach under `name`, in the order the engine picks them:
 * its own first, then the public one.
 *
 * @example
 * visibleCandidates('mailbox', 'ann');   // [{ name: 'mailbox', identity: 'ann' }, { name: 'mailbox', identity: null }]
 */
export function visibleCandidates(name: string, identity: string | null): ResourceOwner[] {
  return identity === null ? [{ name, identity: null }] : [{ name, identity }, { name, identity: null }];
}

/**
 * The resource an outside caller `identity` reaches under `name` among `resources` (see
 * {@link visibleCandidates}), or undefined.
 */
export function findVisible<R extends ResourceOwner>(resources: readonly R[], name: string, identity: string | null): R | undefined {
  for (const candidate of visibleCandidates(name, identity)) {
    const found = resources.find((resource) => resource.name === candidate.name && resource.identity === candidate.identity);
    if (found !== undefined) return found;
  }
  return undefined;
}
