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
import type { RecordFields } from './outcome.js';
import type { Replay } from './replay.js';
import type { Run } from './run.js';
import type { DeclaredVersion } from './version-book.js';

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
    declareVersions(context.run, context.task.id, fnName, declared);
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

/**
 * Declare the versions function `fn` was written for, called by `task` of `run`. Live, each newer one is recorded
 * now (written by `task`); during replay, at catch-up (written by the engine, task ''). Throws VersionConflictError
 * when another function of the same name declared the same version differently.
 */
export function declareVersions(run: Run, task: string, fn: string, versions: Readonly<Record<string, string>>): void {
  const declared = run.versions.declare(fn, versions);
  if (run.replay === null) {
    for (const each of declared) recordVersion(run, each, task);
  } else {
    applyVersionsOfCall(run, run.replay, task, fn);
  }
}

/**
 * A call that ran live recorded its function's new versions at once, so its body saw them. On replay they lie
 * after the records written before the call, among the records replay applies itself (versions, outside events
 * that came meanwhile) before the next record a call claims; replay has not applied them yet when the call
 * comes again. Apply them now (replay applies them again at their position, to the same effect). Versions
 * recorded at catch-up (task '') stay where they are: calls that came before them saw the old ones.
 */
function applyVersionsOfCall(run: Run, replay: Replay, task: string, fn: string): void {
  for (let offset = 0, record = replay.peek(0); record !== undefined && replay.isApplied(record); record = replay.peek(++offset)) {
    if (record.type === 'version' && record.fn === fn && record.task === task) run.versions.apply(record);
  }
}

/** At catch-up: record the versions the code declares that the history does not have, durably (undefined: nothing to wait for). */
export function recordNewVersions(run: Run): Promise<void> | undefined {
  for (const declared of run.versions.allDeclared()) recordVersion(run, declared, '');
  return run.flush();
}

/** Record a declared version that is newer than the one in effect for its function (versions only move forward). */
function recordVersion(run: Run, { fn, name, version }: DeclaredVersion, task: string): void {
  if (version <= run.versions.current(fn, name)) return;
  run.write(task, null, { type: 'version', id: '', fn, name, version } as RecordFields);
  run.versions.apply({ fn, name, version });
}
