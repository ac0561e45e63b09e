/**
 * Versioning: how code evolves under running workflows. A function declares the versions it was written
 * for; history recorded before a version replays with the old value, new work (after replay has caught up)
 * records the new one. `getVersion()` tells which path the current point of the history must take.
 *
 * A version belongs to the function that declares it, as in quest.py (where it is qualified by the function):
 * two functions that each declare the global version, or the same named version, evolve independently.
 *
 * Versions are strings compared in sort order, and `''` (no version yet) sorts before all others: use sortable
 * values such as '2' < '3' or dated strings ('2026-11-26 round totals'). Versions only move forward.
 */
import { contextStorage, requireContext, type VersionedCall } from './context.js';
import { InvalidNameError } from './errors.js';

/** Options of {@link versioned}. */
export interface VersionedOptions {
  /**
   * The name that identifies the function's versions in the history; default `fn.name`. Give one when the
   * function is anonymous, when a bundler may rename it, or to keep a function's versions when renaming it.
   */
  name?: string;
}

/**
 * Declare that `fn` is written for `versions`: a string for the function's global version, or an object of
 * named versions (its key `''` is the global version). When a declared version is newer than the history's, it is recorded once replay has caught
 * up (at once when the function is first called live), and from that point of the history on `getVersion(name)`
 * inside `fn` returns it.
 *
 * The versions belong to `fn`, identified by its name (`options.name`, else `fn.name`; an anonymous function
 * needs `options.name`): another function declaring the same version names has its own versions. Two functions
 * with the same name share theirs, and declaring different values for one of them fails with
 * VersionConflictError.
 *
 * @example
 * const play = versioned({ firstNum: '2' }, async function play(name: string) {
 *   const first = await numbers.get();
 *   return getVersion('firstNum') < '2' ? first : first + 2;
 * });
 * const tally = versioned('3', async (scores: number[]) => (getVersion() < '3' ? scores.length : scores.length * 10), { name: 'tally' });
 */
export function versioned<A extends unknown[], R>(
  versions: string | Readonly<Record<string, string>>,
  fn: (...args: A) => R,
  options: VersionedOptions = {},
): (...args: A) => R {
  const declared: Readonly<Record<string, string>> = typeof versions === 'string' ? { '': versions } : { ...versions };
  for (const [name, version] of Object.entries(declared)) {
    if (typeof version !== 'string' || version === '') {
      throw new TypeError(`Version ${JSON.stringify(name)} must be a non-empty string, got ${JSON.stringify(version)}.`);
    }
  }
  const fnName = declaringName(options.name ?? fn.name);
  const wrapper = (...args: A): R => {
    const context = requireContext('a versioned function');
    context.run.declareVersions(context.task.id, fnName, declared);
    const call: VersionedCall = { fn: fnName, versions: declared, caller: context.versioned };
    return contextStorage.run({ ...context, versioned: call }, fn, ...args);
  };
  Object.defineProperty(wrapper, 'name', { value: fn.name });
  return wrapper;
}

/**
 * The version in effect at the current point of the history for the innermost versioned function on the call
 * path that declares `name` (`getVersion()` for its global version, `getVersion('name')` for a named one); the
 * call path includes the steps and tasks started inside it. `''` when that function has no version recorded yet,
 * or when no function on the call path declares `name`.
 */
export function getVersion(name = ''): string {
  const context = requireContext('getVersion()');
  for (let call = context.versioned; call !== null; call = call.caller) {
    if (Object.hasOwn(call.versions, name)) return context.run.versions.current(call.fn, name);
  }
  return '';
}

function declaringName(name: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.includes('/') || name.includes('#')) {
    throw new InvalidNameError('versioned function', String(name), "versioned('2', fn, { name: 'play' })");
  }
  return name;
}
