/**
 * What list() reports for one workflow: its stored entry, overlaid with what this manager knows now (is it
 * running here, which aliases it holds, why it stopped).
 */
import { isQuestError } from '../core/errors.js';
import type { WorkflowEntry } from '../storage/store.js';
import type { ManagedWorkflow } from './managed-workflow.js';
import type { ManagedStatus, WorkflowInfo } from './types.js';

/**
 * The listing line of `entry`; `managed` is the manager's live workflow of that id, if any.
 *
 * @example
 * workflowInfo(entry, live.get(entry.id), aliases.aliasesOf(entry.id));
 */
export function workflowInfo(entry: WorkflowEntry, managed: ManagedWorkflow | undefined, aliases: string[], sharedStore = false): WorkflowInfo {
  // A 'running' entry that no run of this manager serves is waiting to be resumed (suspended), unless the store
  // is shared by many processes: then another process runs it, or will claim it (running).
  const status = managed === undefined ? (entry.state === 'running' ? (sharedStore ? 'running' : 'suspended') : entry.state) : managedStatus(managed);
  const info: WorkflowInfo = { id: entry.id, type: entry.type, status, startedAt: new Date(entry.startedAt), aliases };
  if (managed?.evicted === true) info.resident = false;
  if (entry.finishedAt !== undefined) info.finishedAt = new Date(entry.finishedAt);
  const error = managed?.halted ?? entry.error;
  if (error !== undefined) info.error = messageOf(error);
  return info;
}

/** The status of a workflow the manager holds, as list() reports it. */
export function managedStatus(managed: ManagedWorkflow): ManagedStatus {
  const status = managed.status;
  // Not run because its history is damaged: not resumable as it is, unlike a suspended workflow.
  return status === 'suspended' && isQuestError(managed.halted, 'CORRUPT_HISTORY') ? 'damaged' : status;
}

function messageOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string') {
    return (error as { message: string }).message;
  }
  return String(error);
}
