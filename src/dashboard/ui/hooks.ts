/** Small hooks shared by the views. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorText } from './api.js';

/** What a loaded value looks like while it loads, once it has, or after it failed. */
export interface Loaded<T> {
  value: T | undefined;
  error: string | null;
  /** Load again now. */
  reload(): void;
}

/**
 * Load with `load` whenever `deps` change, and again every `pollMs` while the tab is visible (undefined: no
 * polling). A poll never overlaps the previous one; `reload()` during a load waits for it and loads once
 * more; an answer to an outdated request (the deps changed meanwhile) is dropped.
 */
export function usePolled<T>(load: () => Promise<T>, deps: unknown[], pollMs?: number): Loaded<T> {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const generation = useRef(0);
  const busy = useRef(false);
  /** A reload asked for while one was loading: done once that one ends (bursts of changes cost two loads). */
  const again = useRef(false);
  const run = useRef<() => void>(() => undefined);
  run.current = () => {
    const mine = ++generation.current;
    busy.current = true;
    again.current = false;
    load().then(
      (loaded) => {
        if (mine !== generation.current) return;
        setValue(loaded);
        setError(null);
      },
      (failure: unknown) => {
        if (mine === generation.current) setError(errorText(failure));
      },
    ).finally(() => {
      if (mine !== generation.current) return;
      busy.current = false;
      if (again.current) run.current();
    });
  };
  useEffect(() => {
    run.current();
    if (pollMs === undefined) return undefined;
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible' && !busy.current) run.current();
    }, pollMs);
    return () => clearInterval(timer);
  }, deps);
  const reload = (): void => {
    if (busy.current) again.current = true;
    else run.current();
  };
  return { value, error, reload };
}
