/**
 * Which code versions live histories still replay: the answer to "can I delete this old code path yet?"
 * (the seed: "Eventually, the old code paths will no longer replay and the supporting code can be deleted").
 */
import { isQuestError, type QuestError } from '../core/errors.js';
import { CLAIMED_TYPES, upgradeRecord, type HistoryRecord } from '../core/records.js';
import { runningHistories, type ScannedHistory } from '../storage/history-scan.js';
import type { Store } from '../storage/store.js';

/** One version of one function's versioned name, and the live workflows whose histories still replay it. */
export interface VersionUsage {
  /**
   * The function that declares the version (its name, or its `versioned(..., { name })`); null for a version
   * recorded by Quest's record format 1, which applied to every function declaring the name.
   */
  fn: string | null;
  /** The version name ('' is the function's global version). */
  name: string;
  /** The version value ('' means "before any version was recorded"). */
  version: string;
  /** Ids of the running workflows whose histories replay code under this version. */
  workflows: string[];
}

/** The versions one history replays for one function's versioned name. */
export interface ReplayedVersions {
  fn: string | null;
  name: string;
  versions: Set<string>;
}

/**
 * The versions a history replays, per declaring function and name: every recorded version, and the one in
 * effect before the first record of that function's name when records that code claims on replay precede it
 * (they ran before it existed): `''`, or the workflow-wide format 1 version of that name the function saw then.
 */
export function versionsOfHistory(records: readonly HistoryRecord[]): ReplayedVersions[] {
  const found = new Map<string, ReplayedVersions>();
  const workflowWide = new Map<string, string>();
  let claimedSoFar = false;
  for (const record of records) {
    if (record.type === 'version') {
      const key = JSON.stringify([record.fn, record.name]);
      let entry = found.get(key);
      if (entry === undefined) {
        const before = record.fn === null ? '' : (workflowWide.get(record.name) ?? '');
        entry = { fn: record.fn, name: record.name, versions: new Set(claimedSoFar ? [before] : []) };
        found.set(key, entry);
      }
      entry.versions.add(record.version);
      if (record.fn === null) workflowWide.set(record.name, record.version);
    } else if (CLAIMED_TYPES.has(record.type)) {
      claimedSoFar = true;
    }
  }
  return [...found.values()];
}

/** Options of {@link versionsInUse}. */
export interface VersionsInUseOptions {
  /**
   * Called for each running workflow whose history cannot be read: damaged (CorruptHistoryError) or written by
   * a newer Quest (UnsupportedFormatError). Its versions are unknown, so it is left out of the report; it replays
   * no code until its history is restored (or Quest upgraded), and the report holds for it only after that.
   */
  onUnread?: (workflowId: string, error: QuestError) => void;
}

/**
 * Scan every running workflow's history in `store` and report, for each function's versioned name, which
 * versions are still replayed and by which workflows (sorted by function, name, then version). A version missing
 * from the report is replayed by no live history: its code path can be deleted (but see
 * {@link VersionsInUseOptions.onUnread} for the histories that cannot be read, which are left out).
 *
 * @example
 * for (const usage of await versionsInUse(store)) console.log(usage.fn, usage.name, usage.version, usage.workflows.length);
 */
export async function versionsInUse(store: Pick<Store, 'listWorkflows' | 'history'>, options: VersionsInUseOptions = {}): Promise<VersionUsage[]> {
  const usage = new Map<string, VersionUsage>();
  for await (const scanned of runningHistories(store)) {
    const records = readable(scanned, options);
    if (records === undefined) continue;
    for (const { fn, name, versions } of versionsOfHistory(records)) {
      for (const version of versions) {
        const key = JSON.stringify([fn, name, version]);
        let item = usage.get(key);
        if (item === undefined) {
          item = { fn, name, version, workflows: [] };
          usage.set(key, item);
        }
        item.workflows.push(scanned.workflowId);
      }
    }
  }
  return [...usage.values()].sort(byFunctionNameVersion);
}

/** The records of a scanned history, upgraded, or undefined when they cannot be read (told to `onUnread`). */
function readable(scanned: ScannedHistory, { onUnread }: VersionsInUseOptions): HistoryRecord[] | undefined {
  try {
    if ('damage' in scanned) throw scanned.damage;
    return scanned.records.map(upgradeRecord);
  } catch (error) {
    if (!isQuestError(error, 'CORRUPT_HISTORY') && !isQuestError(error, 'UNSUPPORTED_FORMAT')) throw error;
    onUnread?.(scanned.workflowId, error);
    return undefined;
  }
}

/** By function (format 1's workflow-wide versions first: function names are never empty), name and version. */
function byFunctionNameVersion(a: VersionUsage, b: VersionUsage): number {
  return compare(a.fn ?? '', b.fn ?? '') || compare(a.name, b.name) || compare(a.version, b.version);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
