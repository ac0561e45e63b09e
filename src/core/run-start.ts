/**
 * How a run starts: a new workflow records its configurations and versions and starts at once; a resumed one
 * replays its history (applying the records no call claims as replay reaches them), catches up, and goes on live.
 */
import { applyNewConfigurations } from './configurations.js';
import { settle } from './deferred.js';
import { WorkflowSuspendedError } from './errors.js';
import type { HistoryRecord } from './records.js';
import { Replay } from './replay.js';
import type { Run } from './run.js';
import { applyUnclaimedRecord } from './unclaimed-records.js';
import { recordNewVersions } from './versioning.js';

/** Why a replay-only run stops when its history is consumed. */
export const REPLAY_CHECKED = 'its history was replayed to the end (replay only: nothing runs live)';

/**
 * Start `run`: replay `records` (if any), applying configurations and versions in history order; start the
 * workflow with `startMain` once the records that precede it are applied.
 */
export function beginRun(run: Run, records: readonly HistoryRecord[], startMain: () => void): Promise<void> | undefined {
  // Suspended before it began (suspend() right after run()): replay nothing.
  if (run.stopReason !== undefined) throw run.stopReason;
  if (records.length === 0) {
    // A new workflow with nothing to record first (no configuration, no version): it starts at once,
    // without a promise (most short workflows).
    const caughtUp = catchUp(run);
    if (caughtUp === undefined) {
      startLive(run, startMain);
      return undefined;
    }
    return caughtUp.then(() => startLive(run, startMain));
  }
  replayHistory(run, records, startMain);
  return undefined;
}

/** After catching up on an empty history: start the workflow, unless the run stopped meanwhile. */
function startLive(run: Run, startMain: () => void): void {
  // Stopped while catching up: the workflow must not start (nobody would await it).
  if (run.stopReason !== undefined) throw run.stopReason;
  run.finishReplay();
  startMain();
}

/** Replay `records`, then catch up and go on live (see beginRun). */
function replayHistory(run: Run, records: readonly HistoryRecord[], startMain: () => void): void {
  const replay = new Replay(records, run.options.stallTimeoutMs);
  run.replay = replay;
  run.forgetting.loaded(records, (record) => replay.isApplied(record));
  startMain();
  replay
    .drive((record) => applyUnclaimedRecord(run, record))
    .then(async () => {
      if (run.stopReason !== undefined) return;
      if (run.replayOnly) {
        run.stop(new WorkflowSuspendedError(run.workflowId, REPLAY_CHECKED));
        return;
      }
      await settle();
      await catchUp(run);
      run.replay = null;
      run.finishReplay();
      replay.finish();
    })
    .catch((error: unknown) => run.fail(error instanceof Error ? error : new Error(String(error))));
}

/** Once replay has caught up: record configurations and versions that are new in this code. */
function catchUp(run: Run): Promise<void> | undefined {
  if (run.configsApplied < run.options.configurations.length) return applyNewConfigurations(run);
  return recordNewVersions(run);
}
