/** The types of a Historian's API: the workflow function it runs, its options, where its workflow stands, how it ended. */
import type { AliasRegistry } from './alias.js';
import type { ChildWorkflowHost } from './child.js';

/** A workflow: an async function whose steps, tasks and resources Quest records. */
export type WorkflowFunction<A extends unknown[] = never[], R = unknown> = (...args: A) => Promise<R>;

/** Where a historian's workflow stands. */
export type WorkflowStatus = 'idle' | 'running' | 'suspended' | 'completed' | 'failed';

export interface HistorianOptions {
  /**
   * How long replay waits for the workflow to claim the next record before reporting non-determinism
   * (only reached when the code diverged from its history). Default 2000 ms.
   */
  stallTimeoutMs?: number;
  /** Where aliases opened by the workflow are registered (the WorkflowManager passes its registry). */
  aliases?: AliasRegistry;
  /** Where child workflows are started (the WorkflowManager passes itself; see startChild). */
  children?: ChildWorkflowHost;
  /**
   * Called when the workflow finishes (returns or throws), before its history is cleared: persist the
   * outcome here, so that a crash in between never loses both the history and the result.
   */
  onFinish?: (outcome: WorkflowOutcome) => Promise<void> | void;
  /**
   * Replay the history and stop (WorkflowSuspendedError) once it is consumed, without running anything live:
   * steps that had started and not ended are not run again (see `replayHistory` in `quest-ts/testing`).
   */
  replayOnly?: boolean;
  /** With `replayOnly`: told of each step that had started and not ended (its body is not run again). */
  onStepNotRun?: (stepId: string) => void;
  /** Called when the workflow has gone idle, waiting for the outside or a timer (see {@link Historian.evictable}). */
  onIdle?: () => void;
}

/** Options of {@link Historian.suspend}. */
export interface SuspendOptions {
  /**
   * How long to wait for steps that are still running to return once their AbortSignal is aborted
   * (milliseconds, default 0; Infinity: as long as they take). Their results are dropped either way; past
   * it, suspend() resolves regardless.
   */
  graceMs?: number;
  /** Why the workflow is suspended, for the message of the WorkflowSuspendedError its callers get. */
  why?: string;
}

/** How a workflow finished. */
export type WorkflowOutcome = { ok: true; value: unknown } | { ok: false; error: unknown };
