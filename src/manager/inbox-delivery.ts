/**
 * Delivery of a store's inbox (EventInbox) to the workflows a manager runs: which events are applied, which
 * wait for their resource, and which are rejected (with the reason recorded for the sender). The manager owns
 * one; it polls every `inboxPollMs`, and `wake()` asks for a pass now (what a PostgreSQL LISTEN/NOTIFY
 * listener will call). The poll stays the source of truth: a lost wake only delays an event.
 */
import type { Logger } from 'pino';
import { EventExpiredError, InvalidArgumentError, isQuestError, isSuspension, type QuestErrorCode } from '../core/errors.js';
import type { Historian } from '../core/historian.js';
import type { ResourceInfo, ResourceStream } from '../core/resource-stream.js';
import { actionSpec, answersNothing, findVisible } from '../core/resources.js';
import { deserialize } from '../core/serializer.js';
import type { EventInbox, EventVerdict, PostedEvent } from '../storage/store.js';

/** What delivery needs from its manager. */
export interface InboxDeliveryDeps {
  readonly inbox: EventInbox;
  /** Poll every this many milliseconds (0: only through deliver() and wake()). */
  readonly pollMs: number;
  readonly log: Pick<Logger, 'warn'>;
  /** True once the manager closes: delivery stops and leaves the rest in the inbox. */
  isClosing(): boolean;
  /** The workflow id an id or alias names. */
  resolve(name: string): Promise<string>;
  /**
   * The Historian of workflow `id` running here. Throws the manager's reason otherwise (the same rule as
   * `act`): a reason in {@link NEVER_APPLICABLE} rejects the event, any other leaves it for whichever manager
   * runs the workflow.
   */
  running(id: string): Promise<Historian<unknown[], unknown>>;
  /** True while workflow `id` runs here. */
  isActive(id: string): boolean;
  /**
   * False when an event for `resource` cannot apply to workflow `id` without it running again first (it is
   * evicted, and that resource was not open then): the event waits, without waking the workflow.
   */
  mayApply?(id: string, resource: string): boolean;
  /**
   * On a store shared by many processes: true while the process that ran finished workflow `id` may still be
   * settling the events it applied (its settlement commits after the workflow's end). Such an event is left
   * for that process instead of being rejected as "finished" here.
   */
  settlingElsewhere?(id: string): Promise<boolean>;
}

/**
 * Reasons from `running()` that no later delivery can change: the workflow does not exist or has ended, or
 * the id is invalid. Any other reason (suspended, running in another process, stopped on an engine error)
 * leaves the event in the inbox.
 */
const NEVER_APPLICABLE: ReadonlySet<QuestErrorCode> = new Set(['WORKFLOW_NOT_FOUND', 'WORKFLOW_FINISHED', 'WORKFLOW_CANCELLED', 'INVALID_ARGUMENT']);

/** Inbox events read at a time. */
const INBOX_PAGE = 100;
const APPLIED = 'applied';
/** The workflow does not run here (now): this event and every later one of the workflow stay. */
const HOLD_WORKFLOW = 'hold workflow';
/** Its resource is not open (yet): this event and the later ones for the same resource and identity stay. */
const HOLD_RESOURCE = 'hold resource';
const HELD = 'held';
/**
 * Applied (recorded in the workflow's history), durable once `durable` resolves: the next events go on
 * meanwhile, so that the records of many events share one commit.
 */
interface Recorded {
  durable: Promise<unknown>;
}
type Delivery = typeof APPLIED | typeof HOLD_WORKFLOW | typeof HOLD_RESOURCE | typeof HELD | { rejected: unknown } | Recorded;

/** What one pass holds back, so that held events keep their order ahead of the later ones. */
interface Holds {
  workflows: Set<string>;
  resources: Set<string>;
}

/**
 * Delivers the inbox: see WorkflowManager.deliverInbox for the rules.
 *
 * @example
 * const delivery = new InboxDelivery(deps);
 * delivery.startPolling();
 * delivery.wake();              // an event was posted: look now
 * await delivery.deliver();     // one pass, resolves with the number applied
 * delivery.stop();
 */
export class InboxDelivery {
  private timer: NodeJS.Timeout | undefined;
  /** The pass in progress (the last one asked for): passes run one at a time. */
  private delivering: Promise<number> | undefined;
  private stopped = false;

  constructor(private readonly deps: InboxDeliveryDeps) {}

  /** Poll every `pollMs` until stop(). The timer never keeps the process alive by itself (the manager does). */
  startPolling(): void {
    this.schedule(this.deps.pollMs);
  }

  /** Deliver now instead of at the next poll (a store's notification, a test); wakes in a row share passes. */
  wake(): void {
    if (this.stopped) return;
    if (this.deps.pollMs > 0) this.schedule(0);
    else this.deliver().catch((error: unknown) => this.pollFailed(error));
  }

  /** One pass over the inbox after the one in progress; resolves with how many events were applied. */
  deliver(): Promise<number> {
    const previous = this.delivering;
    const next = previous === undefined ? this.pass() : previous.then(() => this.pass(), () => this.pass());
    this.delivering = next;
    const settled = (): void => {
      if (this.delivering === next) this.delivering = undefined;
    };
    next.then(settled, settled);
    return next;
  }

  /**
   * Stop polling. Returns a promise that resolves once the pass in progress has ended, or undefined when none
   * runs (no extra await then: code racing close(), such as a signal handler's exit, keeps its timing).
   */
  stop(): Promise<void> | undefined {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    return this.delivering?.then(() => undefined, () => undefined);
  }

  private schedule(delayMs: number): void {
    if (this.stopped || !(this.deps.pollMs > 0)) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.deliver().then(
        () => this.schedule(this.deps.pollMs),
        (error: unknown) => {
          this.pollFailed(error);
          this.schedule(this.deps.pollMs);
        },
      );
    }, delayMs);
    this.timer.unref();
  }

  private pollFailed(error: unknown): void {
    this.deps.log.warn({ err: error }, 'could not deliver the events of the inbox; trying again at the next poll');
  }

  private async pass(): Promise<number> {
    const { inbox } = this.deps;
    const holds: Holds = { workflows: new Set(), resources: new Set() };
    let applied = 0;
    let after = 0;
    // Settling does not hold up the next event (a store may write both in one transaction); the pass ends
    // once every settlement is durable, so the next pass never sees an event this one applied.
    const settling: Promise<void>[] = [];
    const settle = (id: number, verdict: EventVerdict): void => {
      const pending = inbox.settleEvent(id, verdict);
      pending.catch(() => undefined); // reported by settled(); never an unhandled rejection if the pass throws first
      settling.push(pending);
    };
    const settled = async (): Promise<number> => {
      const failed = (await Promise.allSettled(settling)).find((result) => result.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      return applied;
    };
    for (;;) {
      if (this.deps.isClosing()) return settled();
      const events = await inbox.takeEvents(INBOX_PAGE, after);
      for (const event of events) {
        after = event.id;
        if (this.deps.isClosing()) return settled();
        const delivery = await this.deliverEvent(event, holds);
        if (delivery === APPLIED) {
          applied++;
          settle(event.id, { status: 'applied' });
        } else if (typeof delivery === 'object' && 'durable' in delivery) {
          // Settled once its record is durable; when that fails (the run stopped), it stays in the inbox.
          const afterCommit = delivery.durable.then(
            () => {
              applied++;
              return inbox.settleEvent(event.id, { status: 'applied' });
            },
            () => undefined,
          );
          afterCommit.catch(() => undefined);
          settling.push(afterCommit);
        } else if (typeof delivery === 'object') {
          const verdict = rejection(delivery.rejected);
          this.deps.log.warn(eventFields(event), `inbox event ${event.id} rejected: ${verdict.code}: ${verdict.message}`);
          settle(event.id, verdict);
        }
      }
      if (events.length < INBOX_PAGE) return settled();
    }
  }

  /** Deliver one event unless an earlier one of the same workflow or resource is held. */
  private async deliverEvent(event: PostedEvent, holds: Holds): Promise<Delivery> {
    let id: string;
    try {
      id = await this.deps.resolve(event.workflowId);
    } catch (error) {
      return { rejected: error };
    }
    const resourceKey = JSON.stringify([id, event.resource, event.identity]);
    if (holds.workflows.has(id)) return HELD;
    if (holds.resources.has(resourceKey)) {
      // Behind an earlier event that waits for the same resource, which this manager saw not open: rejecting
      // an expired one does not change the order in which the others are applied.
      return expired(event) ? { rejected: new EventExpiredError(event.id, event.ttlMs ?? 0, `${notOpen(id, event)} in time`) } : HELD;
    }
    const delivery = await this.apply(id, event);
    if (delivery === HOLD_WORKFLOW) holds.workflows.add(id);
    if (delivery === HOLD_RESOURCE) holds.resources.add(resourceKey);
    return delivery;
  }

  /** Apply one event to workflow `id` (resolved), or say why it waits or is rejected. */
  private async apply(id: string, event: PostedEvent): Promise<Delivery> {
    if (this.deps.mayApply?.(id, event.resource) === false) {
      return expired(event) ? { rejected: new EventExpiredError(event.id, event.ttlMs ?? 0, `${notOpen(id, event)} in time`) } : HOLD_RESOURCE;
    }
    let historian: Historian<unknown[], unknown>;
    try {
      historian = await this.deps.running(id);
    } catch (error) {
      if (!isQuestError(error) || !NEVER_APPLICABLE.has(error.code)) return HOLD_WORKFLOW;
      if (isQuestError(error, 'WORKFLOW_FINISHED') && (await this.deps.settlingElsewhere?.(id)) === true) return HOLD_WORKFLOW;
      return { rejected: error };
    }
    // Once replay has caught up: the resources the event's identity sees now.
    const visible = await firstSnapshot(historian.resourceStream(event.identity));
    if (visible === undefined) return HOLD_WORKFLOW; // The run stopped meanwhile.
    const resource = findVisible(visible, event.resource, event.identity);
    if (expired(event)) {
      const why = resource === undefined ? `${notOpen(id, event)} in time` : 'it was not delivered in time';
      return { rejected: new EventExpiredError(event.id, event.ttlMs ?? 0, why) };
    }
    if (resource === undefined) return HOLD_RESOURCE;
    // An unknown action is left to act(), which names the actions there are.
    if (actionSpec(resource.kind, event.action) !== undefined && !answersNothing(event.action, resource.kind)) {
      return {
        rejected: new InvalidArgumentError(
          `${event.action} on a ${resource.kind} answers the caller (it reads, waits or takes), and an inbox event has nobody to ` +
            'answer: send an action that only changes the resource (a queue put, a state set, an event set).',
        ),
      };
    }
    let args: unknown[];
    try {
      args = event.args.map((arg) => deserialize(arg));
    } catch (error) {
      return { rejected: new InvalidArgumentError(`The arguments of event ${event.id} cannot be read: ${messageOf(error)}`) };
    }
    try {
      const acting = historian.act(event.resource, event.identity, event.action, ...args);
      // An action that fails does so before it is recorded, within microtasks; one still pending a turn later
      // is recorded and waits for its commit, which the next events may share.
      const early = await Promise.race([acting.then(() => APPLIED), new Promise<undefined>((resolve) => setImmediate(() => resolve(undefined)))]);
      if (early === undefined) {
        acting.catch(() => undefined); // its failure leaves the event in the inbox (see pass)
        return { durable: acting };
      }
      return APPLIED;
    } catch (error) {
      // Suspended or stopped meanwhile: whether it was recorded is for the next run to tell; keep it.
      if (this.deps.isClosing() || isSuspension(error) || !this.deps.isActive(id)) return HOLD_WORKFLOW;
      // Closed between the snapshot and act: it waits for the resource to open again, as before it opened.
      if (isQuestError(error, 'RESOURCE_NOT_FOUND')) return HOLD_RESOURCE;
      return { rejected: error };
    }
  }
}

/** True when the event's time-to-live has passed. */
function expired(event: PostedEvent): boolean {
  return event.ttlMs !== undefined && Date.now() >= event.postedAt + event.ttlMs;
}

/** The sentence for a resource an event's identity does not see: the same for a missing or another's private one. */
function notOpen(id: string, event: PostedEvent): string {
  const who = event.identity === null ? 'the public' : `identity ${JSON.stringify(event.identity)}`;
  return `workflow ${JSON.stringify(id)} did not open a resource ${JSON.stringify(event.resource)} visible to ${who}`;
}

/** The recorded verdict for an error: its Quest code (or class name) and its message. */
function rejection(error: unknown): Extract<EventVerdict, { status: 'rejected' }> {
  if (isQuestError(error)) return { status: 'rejected', code: error.code, message: error.message };
  if (error instanceof Error) return { status: 'rejected', code: error.name, message: error.message };
  return { status: 'rejected', code: 'Error', message: String(error) };
}

/** The first snapshot of a stream (the resources once replay has caught up), or undefined if it ended first. */
async function firstSnapshot(stream: ResourceStream): Promise<ResourceInfo[] | undefined> {
  try {
    const first = await stream.next();
    return first.done === true ? undefined : first.value.resources;
  } finally {
    stream.end();
  }
}

function eventFields(event: PostedEvent): Record<string, unknown> {
  return { event: event.id, workflow: event.workflowId, resource: event.resource, identity: event.identity, action: event.action };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
