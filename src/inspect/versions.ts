/**
 * Which code versions live histories still replay: the answer to "can I delete this old code path yet?"
 * (the seed: "Eventually, the old code paths will no longer replay and the supporting code can be deleted").
 */
import { CLAIMED_TYPES, upgradeRecord, type HistoryRecord } from '../core/records.js';
import type { Store } from '../storage/store.js';

/** One version of one versioned name, and the live workflows whose histories still replay it. */
export interface VersionUsage {
  /** The version name ('' is the workflow's global version). */
  name: string;
  /** The version value ('' means "before any version was recorded"). */
  version: string;
  /** Ids of the running workflows whose histories replay code under this version. */
  workflows: string[];
}

/**
 * The versions a history replays, per name: every recorded version, and `''` when records that code
 * claims on replay precede the first version recorded for that name (they ran before it existed).
 */
export function versionsOfHistory(records: readonly HistoryRecord[]): Map<string, Set<string>> {
  const versions = new Map<string, Set<string>>();
  let claimedSoFar = false;
  for (const record of records) {
    if (record.type === 'version') {
      let values = versions.get(record.name);
      if (values === undefined) {
        values = new Set(claimedSoFar ? [''] : []);
        versions.set(record.name, values);
      }
      values.add(record.version);
    } else if (CLAIMED_TYPES.has(record.type)) {
      claimedSoFar = true;
    }
  }
  return versions;
}

/**
 * Scan every running workflow's history in `store` and report, for each versioned name, which versions are
 * still replayed and by which workflows (sorted by name, then version). A version missing from the report is
 * replayed by no live history: its code path can be deleted.
 *
 * @example
 * for (const usage of await versionsInUse(store)) console.log(usage.name, usage.version, usage.workflows.length);
 */
export async function versionsInUse(store: Store): Promise<VersionUsage[]> {
  const usage = new Map<string, VersionUsage>();
  for (const entry of await store.listWorkflows('running')) {
    const records = (await store.history(entry.id).load()).map(upgradeRecord);
    for (const [name, versions] of versionsOfHistory(records)) {
      for (const version of versions) {
        const key = `${name}\u0000${version}`;
        let item = usage.get(key);
        if (item === undefined) {
          item = { name, version, workflows: [] };
          usage.set(key, item);
        }
        item.workflows.push(entry.id);
      }
    }
  }
  return [...usage.values()].sort((a, b) => (a.name === b.name ? (a.version < b.version ? -1 : 1) : a.name < b.name ? -1 : 1));
}
