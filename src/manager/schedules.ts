/**
 * Schedules: recurring starts of a workflow type, by cron expression (parsed by `croner`) or fixed interval.
 *
 * A schedule is itself a workflow of the manager (type `quest.schedule`, id `schedule:<name>`), a `loop()` whose
 * state is the time of its last firing: each iteration computes the next firing from it, sleeps durably until
 * then and starts that firing's workflow as a child, with an id made of the schedule's name and the firing's
 * time (`nightly@2027-01-02T03:00:00.000Z`). So a restart never doubles a firing (the start is a recorded step,
 * and a step run again finds the workflow of that id) and never skips one (firings whose time passed while no
 * process ran the schedule are started one after the other on resume, oldest first). Its history stays
 * bounded however long it runs (each iteration is pruned at its checkpoint).
 */
import { Cron } from 'croner';
import { startChild } from '../core/child.js';
import { clock } from '../core/clock.js';
import { InvalidArgumentError, isSuspension } from '../core/errors.js';
import { logger } from '../logging.js';
import { loop } from '../core/loop.js';
import { sleep } from '../core/sleep.js';
import type { WorkflowRegistry } from '../core/workflow-types.js';

/** The workflow type of schedules, registered in every manager. */
export const SCHEDULE_TYPE = 'quest.schedule';

/** The workflow id of schedule `name`. */
export function scheduleId(name: string): string {
  return `schedule:${name}`;
}

/** What a schedule starts, and when. Exactly one of `cron` and `everyMs`. */
export interface ScheduleSpec {
  /** A cron expression (five fields, or six with seconds first), e.g. `0 3 * * *` for 03:00 every day. */
  cron?: string;
  /** IANA time zone of `cron` (default UTC), e.g. `Europe/Paris`. */
  timezone?: string;
  /** A fixed interval in milliseconds between firings (the first one this long after the schedule starts). */
  everyMs?: number;
  /** The workflow type each firing starts. */
  type: string;
  /** Its arguments (the same for every firing). */
  args?: unknown[];
}

/** A schedule's stored arguments: its spec and when it was created (firings come after it). */
interface StoredSchedule extends ScheduleSpec {
  name: string;
  since: number;
}

/** The handle manager functions need. */
interface ScheduleManager {
  readonly types: string[];
  startWith(type: string, id: string, args: unknown[], options: { ifExists: 'resume' }): Promise<unknown>;
  delete(id: string): Promise<void>;
}

/**
 * Start schedule `name` in `manager` (or find it running: a second call with the same name changes nothing, so
 * an application can call it at every start). Each firing starts workflow `spec.type` with `spec.args`, as a
 * workflow with id `<name>@<firing time ISO>`. InvalidArgumentError for a bad cron expression or interval, or
 * a type the manager does not have. To change a schedule, `unschedule` it and schedule it again.
 *
 * @example
 * await schedule(manager, 'nightly-report', { cron: '0 3 * * *', timezone: 'Europe/Paris', type: 'report', args: ['daily'] });
 * await schedule(manager, 'heartbeat', { everyMs: 60_000, type: 'ping' });
 */
export async function schedule(manager: ScheduleManager, name: string, spec: ScheduleSpec): Promise<string> {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError('A schedule needs a non-empty name.');
  checkSpec(spec);
  if (!manager.types.includes(spec.type)) {
    throw new InvalidArgumentError(`Schedule ${JSON.stringify(name)} starts workflow type ${JSON.stringify(spec.type)}, which this manager does not have: register it in workflows.`);
  }
  const stored: StoredSchedule = { ...spec, args: spec.args ?? [], name, since: clock().now() };
  const id = scheduleId(name);
  await manager.startWith(SCHEDULE_TYPE, id, [stored], { ifExists: 'resume' });
  return id;
}

/**
 * Stop schedule `name` and forget it (its workflow is deleted), so that `schedule` with that name starts a new
 * one. Workflows its firings started go on. WorkflowNotFoundError for a name that is not scheduled.
 */
export async function unschedule(manager: ScheduleManager, name: string): Promise<void> {
  await manager.delete(scheduleId(name));
}

/** The time of the firing after `after` (milliseconds since the epoch). */
export function nextFiring(spec: ScheduleSpec, after: number): number {
  if (spec.everyMs !== undefined) return after + spec.everyMs;
  const next = cronOf(spec).nextRun(new Date(after));
  // A pattern with no future time (a date in the past): never again.
  return next === null ? Number.POSITIVE_INFINITY : next.getTime();
}

/** The schedule workflow: fire, durably, for as long as it is not cancelled. */
async function runSchedule(stored: StoredSchedule): Promise<never> {
  return loop('firings', stored.since, async (after: number) => {
    const at = nextFiring(stored, after);
    if (at === Number.POSITIVE_INFINITY) await new Promise<never>(() => undefined);
    await sleep(new Date(at));
    const id = `${stored.name}@${new Date(at).toISOString()}`;
    try {
      await startChild(stored.type, stored.args ?? [], { id, cancelWithParent: false });
    } catch (error) {
      if (isSuspension(error)) throw error;
      // The firing could not start (its type is no longer registered, its id is taken by another type): the
      // failed start is recorded, so replay skips it the same way; the schedule goes on with the next firing.
      logger.warn({ schedule: stored.name, firing: id, err: error }, 'a scheduled firing could not start; the schedule goes on');
    }
    return at;
  });
}

/**
 * The manager's workflow types plus the schedule type. The schedule type is not enumerable: the manager's
 * `types` (and the errors that list them) name the application's types only.
 */
export function withScheduleType<W extends WorkflowRegistry>(workflows: W): W {
  if (Object.hasOwn(workflows, SCHEDULE_TYPE)) return workflows;
  return Object.defineProperty({ ...workflows }, SCHEDULE_TYPE, { value: runSchedule, enumerable: false });
}

function checkSpec(spec: ScheduleSpec): void {
  if (typeof spec !== 'object' || spec === null) throw new InvalidArgumentError('schedule() needs a spec: { cron | everyMs, type, args? }.');
  if ((spec.cron === undefined) === (spec.everyMs === undefined)) {
    throw new InvalidArgumentError('A schedule takes exactly one of cron (an expression) and everyMs (an interval).');
  }
  if (spec.everyMs !== undefined && (typeof spec.everyMs !== 'number' || !Number.isFinite(spec.everyMs) || spec.everyMs <= 0)) {
    throw new InvalidArgumentError(`everyMs must be a positive number of milliseconds, got ${String(spec.everyMs)}.`);
  }
  if (spec.cron !== undefined) cronOf(spec);
  if (spec.args !== undefined && !Array.isArray(spec.args)) throw new InvalidArgumentError('A schedule\'s args must be an array.');
}

function cronOf(spec: ScheduleSpec): Cron {
  try {
    return new Cron(spec.cron as string, { timezone: spec.timezone ?? 'UTC', paused: true });
  } catch (error) {
    throw new InvalidArgumentError(`Invalid cron expression ${JSON.stringify(spec.cron)}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
