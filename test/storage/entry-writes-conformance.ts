/**
 * Conformance checks of the one-write entry operations (WorkflowEntryWrites: insertWorkflow, finishWorkflow),
 * for the stores that have them, and of what their reads see of entry writes still in flight.
 */
import assert from 'node:assert/strict';
import { capabilityChecks, type RegisterCheck } from './capability-checks.js';
import { isQuestError } from '../../src/core/errors.js';
import type { HistoryRecord } from '../../src/core/records.js';
import { hasEntryWrites, type WorkflowEntry } from '../../src/storage/store.js';


function entry(id: string, state: WorkflowEntry['state'] = 'running'): WorkflowEntry {
  return { id, type: 'order', args: [{ id }, 'ü'], state, startedAt: 1_700_000_000_000, deleteOnFinish: false };
}

function record(seq: number): HistoryRecord {
  return { v: 1, seq, t: 1_700_000_000_000 + seq, task: 'main', id: `main/step-${seq}`, type: 'step_end', result: seq };
}

function finished(id: string): WorkflowEntry {
  return { ...entry(id, 'completed'), finishedAt: 1_700_000_000_100, result: { total: 42 } };
}

const isDuplicate = (error: unknown): boolean => isQuestError(error, 'DUPLICATE_WORKFLOW');

/** Register the checks with `check` (the conformance suite's: a fresh store per check). */
export function entryWriteChecks(check: RegisterCheck): void {
  const writes = capabilityChecks(check, hasEntryWrites, 'WorkflowEntryWrites');

  writes('insertWorkflow creates a new entry, durably', async (store, reopen) => {
    await store.insertWorkflow(entry('w1'));
    assert.deepEqual(await store.getWorkflow('w1'), entry('w1'));
    assert.deepEqual((await store.listWorkflows('running')).map((e) => e.id), ['w1']);
    if (reopen === undefined) return;
    await store.close();
    assert.deepEqual(await (await reopen()).getWorkflow('w1'), entry('w1'));
  });

  writes('insertWorkflow of an id that exists rejects with DuplicateWorkflowError and changes nothing; writes queued with it are kept', async (store) => {
    await store.putWorkflow(finished('w1'));
    const inserted = store.insertWorkflow(entry('w1'));
    const other = store.insertWorkflow(entry('w2'));
    const history = store.history('w2').commit({ append: [record(1)], remove: [] });
    await assert.rejects(inserted, isDuplicate);
    await Promise.all([other, history]);
    assert.deepEqual(await store.getWorkflow('w1'), finished('w1'));
    assert.deepEqual(await store.getWorkflow('w2'), entry('w2'));
    assert.deepEqual(await store.history('w2').load(), [record(1)]);
  });

  writes('getWorkflow right after an insert not yet awaited sees what the insert leaves: the new entry, or the one that had the id', async (store) => {
    await store.putWorkflow(finished('taken'));
    const fresh = store.insertWorkflow(entry('fresh'));
    const refused = store.insertWorkflow(entry('taken'));
    refused.catch(() => undefined);
    assert.deepEqual(await store.getWorkflow('fresh'), entry('fresh'));
    assert.deepEqual(await store.getWorkflow('taken'), finished('taken'));
    await fresh;
    await assert.rejects(refused, isDuplicate);
  });

  writes('getWorkflow sees the entry writes issued before it, awaited or not: a save, then a deletion', async (store) => {
    const saved = store.putWorkflow(entry('w1'));
    assert.deepEqual(await store.getWorkflow('w1'), entry('w1'));
    const replaced = store.putWorkflow(finished('w1'));
    assert.deepEqual(await store.getWorkflow('w1'), finished('w1'));
    const deleted = store.deleteWorkflow('w1');
    assert.equal(await store.getWorkflow('w1'), undefined);
    await Promise.all([saved, replaced, deleted]);
    assert.equal(await store.getWorkflow('w1'), undefined);
  });

  writes('finishWorkflow saves the finished entry and clears the history, together and durably', async (store, reopen) => {
    await store.insertWorkflow(entry('w1'));
    await store.history('w1').commit({ append: [record(1), record(2)], remove: [] });
    await store.finishWorkflow(finished('w1'));
    assert.deepEqual(await store.getWorkflow('w1'), finished('w1'));
    assert.deepEqual(await store.history('w1').load(), []);
    if (reopen === undefined) return;
    await store.close();
    const again = await reopen();
    assert.deepEqual(await again.getWorkflow('w1'), finished('w1'));
    assert.deepEqual(await again.history('w1').load(), []);
  });
}
