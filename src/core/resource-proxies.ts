/**
 * Typed handles on one resource of a managed workflow, for outside callers: `manager.queue<T>(...)`,
 * `client.queue<T>(...)` (over the network) and friends. A handle holds no connection: each call resolves the workflow id (or alias) anew, so a handle on
 * an alias follows the alias when it is handed to another workflow.
 *
 * Every call has the failure semantics of {@link WorkflowManager.act}: WorkflowNotFoundError for an unknown
 * id, WorkflowSuspendedError when the workflow is not running here, ResourceNotFoundError when no resource of
 * that name is visible to the identity (nothing is changed then).
 */

/**
 * The one call every handle is made of: WorkflowManager.act and QuestClient.act implement it.
 *
 * @example
 * new QueueProxy<string>(manager, 'g1', 'guesses', null);
 */
export interface ResourceActor {
  act(workflowId: string, name: string, identity: string | null, action: string, ...args: unknown[]): Promise<unknown>;
}

/** Fields shared by every resource handle. */
abstract class ResourceProxy {
  constructor(
    protected readonly actor: ResourceActor,
    /** The workflow id or alias the handle reaches. */
    readonly workflowId: string,
    readonly name: string,
    /** The identity the calls are made as (`null`: public resources only). */
    readonly identity: string | null,
  ) {}

  protected call(action: string, ...args: unknown[]): Promise<unknown> {
    return this.actor.act(this.workflowId, this.name, this.identity, action, ...args);
  }
}

/**
 * A workflow's queue, from outside.
 *
 * @example
 * await manager.queue<string>('game-1', 'guesses', 'ann').put('42');
 */
export class QueueProxy<T> extends ResourceProxy {
  /** Append an item; recorded durably before this resolves. */
  async put(item: T): Promise<void> {
    await this.call('put', item);
  }
  /** Take the oldest item, waiting until there is one (for queues the workflow fills). */
  async get(): Promise<T> {
    return (await this.call('get')) as T;
  }
  /** Items waiting in the queue now. */
  async size(): Promise<number> {
    return (await this.call('size')) as number;
  }
}

/**
 * A workflow's state, from outside.
 *
 * @example
 * const score = await manager.state<number>('game-1', 'score', null).get();
 */
export class StateProxy<T> extends ResourceProxy {
  /** The current value (not recorded). */
  async get(): Promise<T> {
    return (await this.call('get')) as T;
  }
  /** Replace the value; recorded durably before this resolves. */
  async set(value: T): Promise<void> {
    await this.call('set', value);
  }
}

/**
 * A workflow's event, from outside.
 *
 * @example
 * await manager.event('order-1', 'approved', 'boss').set();
 */
export class EventProxy extends ResourceProxy {
  async set(): Promise<void> {
    await this.call('set');
  }
  async clear(): Promise<void> {
    await this.call('clear');
  }
  /** Wait until the event is set. */
  async wait(): Promise<void> {
    await this.call('wait');
  }
  async isSet(): Promise<boolean> {
    return (await this.call('isSet')) as boolean;
  }
}

/**
 * A workflow's identity queue, from outside: every put gets a fresh identity, which the workflow then uses
 * to answer on resources private to it.
 *
 * @example
 * const me = await manager.identityQueue<string>('lobby', 'join').put('ann');
 * const seat = await manager.queue<number>('lobby', 'seat', me).get();
 */
export class IdentityQueueProxy<T> extends ResourceProxy {
  /** Append an item; resolves with the fresh identity it was given. */
  async put(item: T): Promise<string> {
    return (await this.call('put', item)) as string;
  }
}
