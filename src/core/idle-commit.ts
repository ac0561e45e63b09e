/**
 * Writing what a waiting workflow buffered. Workflow-side records wait in the write buffer for the next
 * durable write (a step's end, an outside event), so that the records of busy workflows go out together
 * (group commit). A workflow that waits for the outside makes no durable write until something outside acts:
 * without this, its resource opens would stay in memory, and tools that read the store (`quest resources`,
 * `quest send`) would not see what it waits on.
 */
import type { WriteBuffer } from './write-buffer.js';

/**
 * Counts the workflow-side waits on resources (a get on an empty queue, an event wait, a multiQueue
 * iteration). When a turn of the event loop ends with one still waiting, the workflow is idle until
 * something outside acts: what is buffered is committed then. The wait does not await that commit (a failure
 * fails the run, as any write's does), and waits that the workflow's own tasks end within the turn commit
 * nothing: busy workflows keep their group commit.
 *
 * @example
 * const ended = idle.began();   // the action must wait
 * await waiting.finally(ended);
 */
export class IdleCommit {
  private waits = 0;
  private checkScheduled = false;

  /** `onIdle`: told after each such commit (the manager's eviction looks then whether the run is quiet). */
  constructor(private readonly buffer: WriteBuffer, private readonly stopped: () => boolean, private readonly onIdle?: () => void) {}

  /** A workflow-side wait began; returns the function to call when it ends (once or more). */
  began(): () => void {
    this.waits++;
    if (!this.checkScheduled) {
      this.checkScheduled = true;
      setImmediate(() => this.commitIfIdle());
    }
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.waits--;
    };
  }

  private commitIfIdle(): void {
    this.checkScheduled = false;
    // A stopped run writes nothing more (a finished one has cleared its history; a suspended one drains).
    if (this.waits === 0 || this.stopped()) return;
    try {
      // A failure has already failed the run (WriteBuffer's onFailure): every waiter hears of it there.
      this.buffer.flush()?.catch(() => undefined);
    } catch {
      // Same: the run failed with it.
    }
    this.onIdle?.();
  }
}
