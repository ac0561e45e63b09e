/**
 * What a workflow's stored entry becomes when it ends, and what an ended or absent run tells a caller: the
 * entries the manager writes for a finished or cancelled workflow, and the answers getResult() and outside
 * calls get from an entry.
 */
import { WorkflowCancelledError, WorkflowFinishedError, WorkflowSuspendedError } from '../core/errors.js';
import type { WorkflowOutcome } from '../core/historian-types.js';
import { deserialize, deserializeError, serialize, serializeError } from '../core/serializer.js';
import type { Json, SerializedError } from '../core/serializer.js';
import type { WorkflowEntry, WorkflowState } from '../storage/store.js';

/**
 * The entry of a finished workflow. Never throws: a result that cannot be stored makes the workflow fail
 * with NotSerializableError instead.
 *
 * @example
 * await store.putWorkflow(finishedEntry(entry, { ok: true, value: 42 }));
 */
export function finishedEntry(entry: WorkflowEntry, outcome: WorkflowOutcome): WorkflowEntry {
  if (outcome.ok) {
    let result: Json;
    try {
      result = serialize(outcome.value, `result of workflow ${entry.id}`);
    } catch (error) {
      return endedEntry(entry, 'failed', { error: serializeError(error) });
    }
    return endedEntry(entry, 'completed', { result });
  }
  return endedEntry(entry, 'failed', { error: serializeError(outcome.error) });
}

/**
 * The entry of a cancelled workflow (its error is a WorkflowCancelledError).
 *
 * @example
 * await store.putWorkflow(cancelledEntry(entry));
 */
export function cancelledEntry(entry: WorkflowEntry): WorkflowEntry {
  return endedEntry(entry, 'cancelled', { error: serializeError(new WorkflowCancelledError(entry.id)) });
}

/**
 * `entry` ended now in `state` with its result or error. Built field by field: a spread of the entry followed
 * by fields it lacks (finishedAt, result) costs V8 about 2 µs per object (a slow map transition), once per
 * workflow that ends.
 *
 * @example
 * await store.putWorkflow(endedEntry(entry, 'failed', { error: serializeError(new Error('lost')) }));
 */
export function endedEntry(entry: WorkflowEntry, state: Exclude<WorkflowState, 'running'>, outcome: { result: Json } | { error: SerializedError }): WorkflowEntry {
  const ended: WorkflowEntry = { id: entry.id, type: entry.type, args: entry.args, state, startedAt: entry.startedAt, deleteOnFinish: entry.deleteOnFinish, finishedAt: Date.now() };
  if ('result' in outcome) ended.result = outcome.result;
  else ended.error = outcome.error;
  if (entry.timeout !== undefined) ended.timeout = entry.timeout;
  if (entry.parent !== undefined) ended.parent = entry.parent;
  return ended;
}

/**
 * The error outside actions (act, resources) get for a workflow of the store that no run of this manager
 * serves: WorkflowFinishedError once it has finished, WorkflowSuspendedError while another process runs it.
 *
 * @example
 * throw notLiveError(await store.getWorkflow('g1'));
 */
export function notLiveError(entry: WorkflowEntry): Error {
  if (entry.state === 'running') return new WorkflowSuspendedError(entry.id, 'it is not running in this manager (another process runs it, or it started after this manager opened)');
  const failure = entry.state === 'failed' && entry.error !== undefined ? `${entry.error.name}: ${entry.error.message}` : undefined;
  return new WorkflowFinishedError(entry.id, entry.state, failure);
}

/**
 * What a stored entry says getResult() returns or throws: the result; the recorded failure rebuilt as its
 * class; WorkflowCancelledError; WorkflowSuspendedError for an entry still 'running'.
 *
 * @example
 * const value = outcomeOf(await store.getWorkflow('g1'));
 */
export function outcomeOf(entry: WorkflowEntry): unknown {
  switch (entry.state) {
    case 'completed':
      return entry.result === undefined ? undefined : deserialize(entry.result);
    case 'failed':
      throw entry.error === undefined ? new Error(`Workflow ${JSON.stringify(entry.id)} failed.`) : deserializeError(entry.error);
    case 'cancelled':
      throw new WorkflowCancelledError(entry.id);
    case 'running':
      throw new WorkflowSuspendedError(entry.id);
  }
}
