/**
 * Versioning: how code evolves under running workflows. A function declares the versions it was written
 * for; history recorded before a version replays with the old value, new work (after replay has caught up)
 * records the new one. `getVersion()` tells which path the current point of the history must take.
 *
 * Versions are strings compared in sort order, and `''` (no version yet) sorts before all others: use sortable
 * values such as '2' < '3' or dated strings ('2026-11-26 round totals'). Versions only move forward.
 */
import { requireContext } from './context.js';

/**
 * Declare that `fn` is written for `versions`: a string for the workflow's global version, or an object of
 * named versions. When the declared version is newer than the history's, it is recorded once replay has
 * caught up (at once when the function is first called live), and from that point of the history on
 * `getVersion(name)` returns it.
 *
 * @example
 * const play = versioned({ firstNum: '2' }, async function play(name: string) {
 *   const first = await numbers.get();
 *   return getVersion('firstNum') < '2' ? first : first + 2;
 * });
 */
export function versioned<A extends unknown[], R>(versions: string | Readonly<Record<string, string>>, fn: (...args: A) => R): (...args: A) => R {
  const declared: Readonly<Record<string, string>> = typeof versions === 'string' ? { '': versions } : { ...versions };
  for (const [name, version] of Object.entries(declared)) {
    if (typeof version !== 'string' || version === '') {
      throw new TypeError(`Version ${JSON.stringify(name)} must be a non-empty string, got ${JSON.stringify(version)}.`);
    }
  }
  const wrapper = (...args: A): R => {
    requireContext('a versioned function').run.declareVersions(declared);
    return fn(...args);
  };
  Object.defineProperty(wrapper, 'name', { value: fn.name });
  return wrapper;
}

/**
 * The version in effect at the current point of the history: `getVersion()` for the global version,
 * `getVersion('name')` for a named one; `''` when none was recorded yet.
 */
export function getVersion(name = ''): string {
  return requireContext('getVersion()').run.versions.get(name) ?? '';
}
