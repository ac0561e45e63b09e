/**
 * Keeps the process alive while a manager runs workflows. A workflow that waits for an outside event (an
 * inbox event, a timer far away) leaves nothing on Node's event loop, so without this a script that awaits
 * `getResult()` of such a workflow would end at once with exit code 13 (an unsettled top-level await). A
 * manager holds its running workflows here; the process may exit once none runs, and after close().
 */
export class KeepAlive<T> {
  private readonly holders = new Set<T>();
  private timer: NodeJS.Timeout | undefined;

  /** `holder` runs: keep the process alive until it is released. */
  hold(holder: T): void {
    this.holders.add(holder);
    // An interval that never fires in practice: it only exists to keep the event loop open.
    this.timer ??= setInterval(() => undefined, MAX_TIMER_MS);
  }

  /** `holder` stopped running; the last one lets the process exit. */
  release(holder: T): void {
    this.holders.delete(holder);
    if (this.holders.size === 0) this.stop();
  }

  /** Let the process exit, whatever still holds. */
  stop(): void {
    this.holders.clear();
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** The longest delay Node's timers take (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;
