/**
 * The workflow side of resources: `queue`, `state`, `event`, `identityQueue` and `multiQueue`. Each opens a
 * named resource for the calling scope, visible to outside callers with the given identity (`null` = public),
 * and closes it when the scope ends. Two forms:
 *
 * @example
 * await using words = await queue<string>('words', null);   // closed at the end of the block
 * const word = await words.get();
 *
 * await queue<string>('words', null, async (words) => {     // closed when the callback returns
 *   const word = await words.get();
 * });
 */
import { currentContext, requireContext, type WorkflowContext } from './context.js';
import { InvalidArgumentError } from './errors.js';
import { EventState, IdentityQueueState, QueueState, StateState, type ResourceState } from './resources.js';
import type { OpenResource } from './open-resource.js';
import { internalAction, internalActionAny } from './resource-actions.js';
import type { Run } from './run.js';
import { closeResource, openResource } from './run-resources.js';
import { checkTimeout, waitDeadline, type WaitOptions } from './timeout.js';

/** Base of every workflow-side resource handle. */
abstract class ResourceHandle implements AsyncDisposable {
  constructor(protected readonly run: Run, protected readonly opener: WorkflowContext, protected readonly resource: OpenResource) {}

  /** The resource's name. */
  get name(): string {
    return this.resource.key.name;
  }

  /** The identity that may see it (`null`: everyone). */
  get identity(): string | null {
    return this.resource.key.identity;
  }

  /** Close the resource (recorded); outside callers can no longer see it. Closing twice does nothing. */
  async close(): Promise<void> {
    this.opener.scope.resources.delete(this.resource);
    await closeResource(this.run, currentOr(this.opener), this.resource);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  protected act(action: string, args: readonly unknown[] = []): Promise<unknown> {
    return internalAction(this.run, requireContext(`${action} on ${this.name}`), this.resource, action, args);
  }

  /** A wait for outside input, with an optional recorded timeout (see timeout.ts). */
  protected waitFor(action: string, options: WaitOptions | undefined): Promise<unknown> {
    // Without a timeout, exactly the plain action (no extra await: the common path stays as it was).
    if (options?.timeoutMs === undefined) return this.act(action);
    return this.waitWithTimeout(action, options.timeoutMs);
  }

  private async waitWithTimeout(action: string, requested: number): Promise<unknown> {
    const where = `${action} on ${this.name}`;
    const timeoutMs = checkTimeout(where, requested);
    const deadline = (await waitDeadline({ timeoutMs }, where)) as number;
    return internalAction(this.run, requireContext(where), this.resource, action, [], { deadline, timeoutMs });
  }

  protected read(action: string): unknown {
    return this.resource.state.perform(action, []);
  }
}

/** A FIFO queue: outside callers `put`, the workflow `get`s (waiting while it is empty), or the other way round. */
export class Queue<T> extends ResourceHandle {
  /** Append an item (recorded). */
  async put(item: T): Promise<void> {
    await this.act('put', [item]);
  }
  /**
   * Take the oldest item, waiting until there is one (recorded). With `timeoutMs`, throws TimeoutError when
   * none came in time (recorded too: a replay throws it at the same point without waiting).
   */
  async get(options?: WaitOptions): Promise<T> {
    return (await this.waitFor('get', options)) as T;
  }
  /** Items waiting in the queue. */
  get size(): number {
    return this.read('size') as number;
  }
}

/** A queue whose outside `put`s each get a fresh identity; `get` returns `[identity, item]`. */
export class IdentityQueue<T> extends ResourceHandle {
  /** Take the oldest `[identity, item]`, waiting until there is one (recorded); `timeoutMs` as in Queue.get. */
  async get(options?: WaitOptions): Promise<[string, T]> {
    return (await this.waitFor('get', options)) as [string, T];
  }
  /** Items waiting in the queue. */
  get size(): number {
    return this.read('size') as number;
  }
}

/** A value shared with outside callers, who can `get` and `set` it. */
export class State<T> extends ResourceHandle {
  /** The current value (not recorded: reading does not change anything). */
  get(): T {
    return this.read('get') as T;
  }
  /** Replace the value (recorded). */
  async set(value: T): Promise<void> {
    await this.act('set', [value]);
  }
}

/** A flag that outside callers (or the workflow) set; `wait` blocks until it is set. */
export class Event extends ResourceHandle {
  async set(): Promise<void> {
    await this.act('set');
  }
  async clear(): Promise<void> {
    await this.act('clear');
  }
  /** Wait until the event is set (recorded); `timeoutMs` as in Queue.get. */
  async wait(options?: WaitOptions): Promise<void> {
    await this.waitFor('wait', options);
  }
  isSet(): boolean {
    return this.read('isSet') as boolean;
  }
}

type Body<H, R> = (handle: H) => Promise<R> | R;

async function open<H extends ResourceHandle, R>(
  kind: string,
  name: string,
  identity: string | null,
  state: ResourceState,
  init: unknown,
  make: (run: Run, context: WorkflowContext, resource: OpenResource) => H,
  body: Body<H, R> | undefined,
): Promise<H | R> {
  const context = requireContext(`${kind}(${JSON.stringify(name)})`);
  const resource = await openResource(context.run, context, kind, name, identity, state, init);
  context.scope.resources.add(resource);
  const handle = make(context.run, context, resource);
  if (body === undefined) return handle;
  try {
    return await body(handle);
  } finally {
    await handle.close();
  }
}

/** Open a queue named `name` for `identity` (`null`: public). See the module example for both forms. */
export function queue<T>(name: string, identity: string | null): Promise<Queue<T>>;
export function queue<T, R>(name: string, identity: string | null, body: Body<Queue<T>, R>): Promise<R>;
export function queue<T, R>(name: string, identity: string | null, body?: Body<Queue<T>, R>): Promise<Queue<T> | R> {
  return open('queue', name, identity, new QueueState(), undefined, (r, c, res) => new Queue<T>(r, c, res), body);
}

/** Open an identity queue named `name` (always public: each outside put gets its own new identity). */
export function identityQueue<T>(name: string): Promise<IdentityQueue<T>>;
export function identityQueue<T, R>(name: string, body: Body<IdentityQueue<T>, R>): Promise<R>;
export function identityQueue<T, R>(name: string, body?: Body<IdentityQueue<T>, R>): Promise<IdentityQueue<T> | R> {
  return open('identityQueue', name, null, new IdentityQueueState(), undefined, (r, c, res) => new IdentityQueue<T>(r, c, res), body);
}

/** Open a state named `name` for `identity`, starting at `initial`. */
export function state<T>(name: string, identity: string | null, initial: T): Promise<State<T>>;
export function state<T, R>(name: string, identity: string | null, initial: T, body: Body<State<T>, R>): Promise<R>;
export function state<T, R>(name: string, identity: string | null, initial: T, body?: Body<State<T>, R>): Promise<State<T> | R> {
  return open('state', name, identity, new StateState(initial), initial, (r, c, res) => new State<T>(r, c, res), body);
}

/** Open an event named `name` for `identity`. */
export function event(name: string, identity: string | null): Promise<Event>;
export function event<R>(name: string, identity: string | null, body: Body<Event, R>): Promise<R>;
export function event<R>(name: string, identity: string | null, body?: Body<Event, R>): Promise<Event | R> {
  return open('event', name, identity, new EventState(), undefined, (r, c, res) => new Event(r, c, res), body);
}

/** Options of {@link multiQueue}. */
export interface MultiQueueOptions {
  /** Stop listening to an identity after its first message (collect one answer from each). */
  singleResponse?: boolean;
}

/**
 * One queue named `name` per identity, read as one stream of `[identity, message]` pairs in arrival order.
 * `remove(identity)` stops listening to (and closes) one identity's queue; iteration ends when none is left.
 *
 * @example
 * await using answers = await multiQueue<string>('answer', ['ann', 'bob'], { singleResponse: true });
 * for await (const [player, answer] of answers) scores.set(player, grade(answer));
 */
export async function multiQueue<T>(name: string, identities: Iterable<string>, options: MultiQueueOptions = {}): Promise<MultiQueue<T>> {
  const context = requireContext(`multiQueue(${JSON.stringify(name)})`);
  const queues = new Map<string, OpenResource>();
  for (const identity of identities) {
    if (typeof identity !== 'string' || identity.length === 0) {
      throw new InvalidArgumentError(`multiQueue identities must be non-empty strings, got ${JSON.stringify(identity)}.`);
    }
    if (queues.has(identity)) continue;
    const resource = await openResource(context.run, context, 'queue', name, identity, new QueueState());
    context.scope.resources.add(resource);
    queues.set(identity, resource);
  }
  return new MultiQueue<T>(context, name, queues, options.singleResponse ?? false);
}

/** See {@link multiQueue}. */
export class MultiQueue<T> implements AsyncIterable<[string, T]>, AsyncDisposable {
  constructor(
    private readonly opener: WorkflowContext,
    readonly name: string,
    private readonly queues: Map<string, OpenResource>,
    private readonly singleResponse: boolean,
  ) {}

  /** Identities still listened to. */
  get identities(): string[] {
    this.dropClosed();
    return [...this.queues.keys()];
  }

  /**
   * Wait for the next `[identity, message]` from any identity; undefined when no identity is left. With
   * `timeoutMs`, throws TimeoutError when no message came in time (recorded, as in Queue.get).
   */
  async next(options?: WaitOptions): Promise<[string, T] | undefined> {
    this.dropClosed();
    if (this.queues.size === 0) return undefined;
    const where = `next on multiQueue ${this.name}`;
    const timeoutMs = options?.timeoutMs === undefined ? undefined : checkTimeout(where, options.timeoutMs);
    const deadline = await waitDeadline(options, where);
    this.dropClosed();
    if (this.queues.size === 0) return undefined;
    const context = requireContext(where);
    const timeout = deadline === undefined || timeoutMs === undefined ? undefined : { deadline, timeoutMs };
    const [resource, value] = await internalActionAny(context.run, context, [...this.queues.values()], 'get', `${this.name}*`, timeout);
    const identity = resource.key.identity as string;
    if (this.singleResponse) await this.remove(identity);
    return [identity, value as T];
  }

  async *[Symbol.asyncIterator](): AsyncIterator<[string, T]> {
    for (let item = await this.next(); item !== undefined; item = await this.next()) yield item;
  }

  /** Stop listening to `identity` and close its queue. */
  async remove(identity: string): Promise<void> {
    this.dropClosed();
    const resource = this.queues.get(identity);
    if (resource === undefined) throw new InvalidArgumentError(`multiQueue ${this.name} has no identity ${JSON.stringify(identity)}.`);
    this.queues.delete(identity);
    this.opener.scope.resources.delete(resource);
    await closeResource(this.opener.run, currentOr(this.opener), resource);
  }

  /**
   * Forget queues closed without remove() being called here: on replay, a remove() made inside a completed loop
   * iteration or step is applied from the history, since that code does not run again.
   */
  private dropClosed(): void {
    for (const [identity, resource] of this.queues) {
      if (!resource.closed) continue;
      this.queues.delete(identity);
      this.opener.scope.resources.delete(resource);
    }
  }

  /** Close every remaining queue. */
  async close(): Promise<void> {
    for (const identity of [...this.queues.keys()]) await this.remove(identity);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The caller's context when there is one (another task closing), else the opener's. */
function currentOr(fallback: WorkflowContext): WorkflowContext {
  const current = currentContext();
  return current !== undefined && current.run === fallback.run ? current : fallback;
}
