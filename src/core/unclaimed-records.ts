/**
 * The records replay applies by itself, at their position in the history, because no call claims them: outside
 * events, versions, configurations, and the closes and cancels made by scopes that have completed (see
 * Replay.isApplied). Each must apply now as it did when it was recorded; when it cannot, the code has diverged.
 */
import { replayConfiguration } from './configurations.js';
import { NonDeterminismError } from './errors.js';
import { resourceMapKey } from './open-resource.js';
import type { ExternalEventRecord, HistoryRecord, InternalEventRecord, ResourceCloseRecord } from './records.js';
import { WOULD_BLOCK } from './resources.js';
import type { Run } from './run.js';
import { deserialize } from './serializer.js';
import { replayTaskCancel } from './task-cancel.js';

/** Apply a record nobody claims: an outside event, a version, a configuration, an event in a completed step. */
export async function applyUnclaimedRecord(run: Run, record: HistoryRecord): Promise<void> {
  switch (record.type) {
    case 'external':
    case 'internal':
      replayEvent(run, record);
      return;
    case 'version':
      run.versions.apply(record);
      return;
    case 'config':
      await replayConfiguration(run, record);
      return;
    case 'resource_close':
      replayClose(run, record);
      return;
    case 'task_cancel':
      replayTaskCancel(run, record);
      return;
    default:
      throw new NonDeterminismError(`Replay found the unclaimed record ${record.type} ${record.id}`);
  }
}

/** A close made by a scope that completed: the resource closes at this point of the history, as it did. */
function replayClose(run: Run, record: ResourceCloseRecord): void {
  const resource = run.resources.get(resourceMapKey(record.resource.name, record.resource.identity));
  if (resource === undefined || resource.openId !== record.id) {
    throw new NonDeterminismError(
      `Replay found the close of resource ${record.resource.name} (${record.id}), which the workflow has not opened`,
    );
  }
  // Pruned with the resource, as when it was written.
  resource.frame?.seqs.push(record.seq);
  run.forgetResource(resource);
}

/** Re-apply a recorded event on its resource; it must succeed now, as it did when recorded. */
function replayEvent(run: Run, record: ExternalEventRecord | InternalEventRecord): void {
  // A wait that timed out changed nothing.
  if (record.type === 'internal' && record.error !== undefined) return;
  const resource = run.resources.get(resourceMapKey(record.resource.name, record.resource.identity));
  if (resource === undefined) {
    throw new NonDeterminismError(
      `Replay found an event (${record.action}) on resource ${record.resource.name}, which the workflow has not opened`,
    );
  }
  const args = record.args.map((arg) => deserialize(arg));
  const value = resource.state.perform(record.action, args, { seq: record.seq, origin: undefined });
  if (value === WOULD_BLOCK) {
    throw new NonDeterminismError(`Replay could not repeat ${record.action} on ${record.resource.name}: it would wait`);
  }
  run.forget(run.forgetting.eventReplayed(resource, record.action, record.seq));
  run.changed(resource, 'act');
}
