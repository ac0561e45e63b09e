/**
 * Whole-workflow timeouts (`startWith(..., { timeoutMs })`). The deadline is part of the workflow's entry,
 * durable with its start, so a restart neither forgets nor extends it: the manager that resumes the workflow
 * arms a timer for the same deadline (one already passed fires at once). When it fires, the manager stops the
 * run (as a cancel does: never waiting on user code) and records the workflow as failed with TimeoutError.
 */
import { clock, type ClockTimer } from '../core/clock.js';
import { TimeoutError } from '../core/errors.js';
import { serializeError } from '../core/serializer.js';
import { endedEntry } from './entry-outcomes.js';
import type { WorkflowEntry } from '../storage/store.js';
import { checkTimeout } from '../core/timeout.js';

/** A workflow's time limit as its entry stores it. */
export interface WorkflowTimeout {
  /** The limit asked for at start, in milliseconds. */
  readonly ms: number;
  /** When it runs out (clock milliseconds since the epoch). */
  readonly deadline: number;
}

/** The entry field of a workflow started with `timeoutMs` (undefined without one). */
export function timeoutAtStart(timeoutMs: number | undefined): WorkflowTimeout | undefined {
  if (timeoutMs === undefined) return undefined;
  const ms = checkTimeout('startWith()', timeoutMs);
  return { ms, deadline: clock().now() + ms };
}

/** The TimeoutError of a workflow whose time ran out. */
export function workflowTimeoutError(entry: WorkflowEntry & { timeout: WorkflowTimeout }): TimeoutError {
  return new TimeoutError(`workflow ${JSON.stringify(entry.id)}`, entry.timeout.ms);
}

/** The entry of a workflow whose time ran out: failed, with its TimeoutError. */
export function timedOutEntry(entry: WorkflowEntry & { timeout: WorkflowTimeout }): WorkflowEntry {
  return endedEntry(entry, 'failed', { error: serializeError(workflowTimeoutError(entry)) });
}

/** The timers of the workflows with a deadline that run in one manager. */
export class WorkflowDeadlines {
  private readonly timers = new Map<string, ClockTimer>();

  /** Call `expire` at the deadline of `entry`, if it has one (replacing a timer armed before). */
  arm(entry: WorkflowEntry, expire: (id: string) => void): void {
    const timeout = entry.timeout;
    if (timeout === undefined) return;
    this.disarm(entry.id);
    const timer = clock().setTimer(() => {
      this.timers.delete(entry.id);
      expire(entry.id);
    }, timeout.deadline - clock().now());
    // A pending deadline alone does not keep the process alive (the running workflow does).
    timer.unref?.();
    this.timers.set(entry.id, timer);
  }

  disarm(id: string): void {
    this.timers.get(id)?.clear();
    this.timers.delete(id);
  }

  /** The manager closes: no deadline fires any more (the next manager arms them again). */
  clear(): void {
    for (const timer of this.timers.values()) timer.clear();
    this.timers.clear();
  }
}
