/**
 * Graceful shutdown on SIGINT / SIGTERM: suspend every workflow (nothing is lost, the next process resumes
 * them), close the store, then exit.
 */
import { constants } from 'node:os';

/**
 * Options of {@link WorkflowManager.handleSignals}.
 *
 * @example
 * manager.handleSignals({ signals: ['SIGTERM'], exit: (code) => process.exit(code) });
 */
export interface SignalOptions {
  /** Signals to handle. Default SIGINT and SIGTERM. */
  signals?: readonly NodeJS.Signals[];
  /**
   * Called once the manager is closed (code 0), or when closing failed (code 1). Default `process.exit`.
   * A second signal while closing exits at once with 128 + the signal number (130 for SIGINT).
   */
  exit?: (code: number) => void;
  /** Told about a failed close before exiting with 1 (default: console.error). */
  onError?: (error: unknown) => void;
}

/**
 * Install handlers that call `close()` and then exit. Returns a function that removes them.
 *
 * @example
 * const remove = installSignalHandlers(() => manager.close());
 */
export function installSignalHandlers(close: () => Promise<void>, options: SignalOptions = {}): () => void {
  const signals = options.signals ?? ['SIGINT', 'SIGTERM'];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const onError = options.onError ?? ((error: unknown) => console.error('Quest: closing the workflow manager failed:', error));
  let closing = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (closing) {
      // Asked twice: the user wants out now; unsaved work resumes by replay anyway.
      exit(128 + (constants.signals[signal] ?? 0));
      return;
    }
    closing = true;
    close().then(
      () => exit(0),
      (error: unknown) => {
        onError(error);
        exit(1);
      },
    );
  };
  for (const signal of signals) process.on(signal, handler);
  return () => {
    for (const signal of signals) process.off(signal, handler);
  };
}
