/**
 * The store interface is public: `Store`, its optional capabilities and their guards come from the package's main
 * entry (src/index.ts), as the README's "Storage" section names them, so a store of one's own is written against
 * it and code can ask what a store can do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  MemoryHistory,
  WorkflowManager,
  hasEntryWrites,
  hasHistoryScan,
  hasInbox,
  hasLeases,
  hasOwnership,
  hasPages,
  hasTimeline,
  step,
  type Store,
  type WorkflowEntry,
  type WorkflowState,
} from '../../src/index.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { inTempDir } from '../helpers.js';

/** A store of one's own, written against the public entry alone: Maps, and a MemoryHistory per workflow. */
class MapStore implements Store {
  private readonly histories = new Map<string, MemoryHistory>();
  private readonly entries = new Map<string, WorkflowEntry>();
  private readonly aliases = new Map<string, string>();

  history(workflowId: string): MemoryHistory {
    let history = this.histories.get(workflowId);
    if (history === undefined) this.histories.set(workflowId, (history = new MemoryHistory()));
    return history;
  }

  async putWorkflow(entry: WorkflowEntry): Promise<void> {
    this.entries.set(entry.id, structuredClone(entry));
  }

  async getWorkflow(workflowId: string): Promise<WorkflowEntry | undefined> {
    const entry = this.entries.get(workflowId);
    return entry === undefined ? undefined : structuredClone(entry);
  }

  async listWorkflows(state?: WorkflowState): Promise<WorkflowEntry[]> {
    return [...this.entries.values()].filter((entry) => state === undefined || entry.state === state).sort((a, b) => a.startedAt - b.startedAt);
  }

  async deleteWorkflow(workflowId: string): Promise<void> {
    this.entries.delete(workflowId);
    this.histories.delete(workflowId);
    for (const [alias, id] of this.aliases) if (id === workflowId) this.aliases.delete(alias);
  }

  async putAlias(alias: string, workflowId: string): Promise<void> {
    this.aliases.set(alias, workflowId);
  }

  async deleteAlias(alias: string, workflowId: string): Promise<void> {
    if (this.aliases.get(alias) === workflowId) this.aliases.delete(alias);
  }

  async getAlias(alias: string): Promise<string | undefined> {
    return this.aliases.get(alias);
  }

  async close(): Promise<void> {}
}

const double = step('double', async (n: number) => n * 2);

test('a store written against the package entry alone runs a workflow through a manager, and the guards say what each store can do', () => inTempDir(async (directory) => {
  const own = new MapStore();
  const manager = await WorkflowManager.open({ store: own, workflows: { twice: (n: number) => double(n) } });
  try {
    assert.equal(await (await manager.start('twice', 'w1', 21)).result(), 42);
  } finally {
    await manager.close();
  }
  assert.equal((await own.getWorkflow('w1'))?.state, 'completed');

  const sqlite = new SqliteStore(join(directory, 'quest.sqlite'));
  try {
    const guards = { hasEntryWrites, hasInbox, hasOwnership, hasLeases, hasPages, hasTimeline, hasHistoryScan };
    const can = (store: Store): string[] => Object.entries(guards).filter(([, has]) => has(store)).map(([name]) => name);
    assert.deepEqual(can(own), []);
    assert.deepEqual(can(new MemoryStore()), ['hasEntryWrites', 'hasInbox', 'hasOwnership', 'hasPages', 'hasTimeline']);
    assert.deepEqual(can(sqlite), ['hasEntryWrites', 'hasInbox', 'hasOwnership', 'hasPages', 'hasTimeline', 'hasHistoryScan']);
  } finally {
    await sqlite.close();
  }
}));
