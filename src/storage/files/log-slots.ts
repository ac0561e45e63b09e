/**
 * The bound on history logs a FileStore keeps open (FileStoreOptions.maxOpenFiles): a log takes a slot before
 * its file is opened and gives it back once the file is closed. When none is free, the least recently used
 * open logs are asked to close (after the work already queued on them), one per waiting log.
 */
import { Slots } from './fs.js';

/** What a log must offer to be closed when its slot is needed. */
export interface ClosableLog {
  /** Close the file once the work queued on the log is done. */
  release(): Promise<void>;
}

export class LogSlots<Log extends ClosableLog> {
  private readonly slots: Slots;
  /** Logs holding a slot and not yet asked to give it back, least recently used first. */
  private readonly open = new Set<Log>();
  /** Logs asked to give their slot back, whose close has not happened yet. */
  private readonly closing = new Set<Log>();

  constructor(readonly size: number) {
    this.slots = new Slots(size);
  }

  /** Take a slot for `log`, which is about to open its file. */
  async acquire(log: Log): Promise<void> {
    const taken = this.slots.acquire();
    this.relieve();
    await taken;
    this.open.add(log);
    this.relieve();
  }

  /** `log` used its file: it becomes the most recently used. */
  touched(log: Log): void {
    if (!this.open.delete(log)) return;
    this.open.add(log);
  }

  /** `log` closed its file (or failed to open it): its slot is free. */
  released(log: Log): void {
    this.open.delete(log);
    this.closing.delete(log);
    this.slots.release();
  }

  /** Ask as many logs to close as there are logs waiting for a slot and not already provided for. */
  private relieve(): void {
    for (const oldest of this.open) {
      if (this.slots.waiters <= this.closing.size) break;
      this.open.delete(oldest);
      this.closing.add(oldest);
      // Closing can only fail if the file is gone already; the next commit reopens it either way.
      oldest.release().catch(() => undefined);
    }
  }
}
