/**
 * Checking new code against stored histories before a deploy: `replayHistory` replays a history (from
 * production, a fixture, `quest history --json`) against the workflow function as it is now and reports the
 * first point where they disagree. Nothing runs live and nothing is written anywhere: the history is copied.
 */
import { isQuestError } from '../core/errors.js';
import { Historian } from '../core/historian.js';
import type { WorkflowFunction } from '../core/historian-types.js';
import { upgradeRecord, type HistoryRecord } from '../core/records.js';
import { MemoryHistory } from '../storage/memory.js';

/** Options of {@link replayHistory}. */
export interface ReplayHistoryOptions {
  /** The arguments the workflow was started with (a manager keeps them in the workflow's entry). */
  args?: readonly unknown[];
  /** Configuration calls, as registered with `Historian.configure`, in order: `[fn, ...args]`. */
  configurations?: ReadonlyArray<readonly [(...args: never[]) => unknown, ...unknown[]]>;
  /**
   * How long replay waits for the code to claim the next record before calling it non-deterministic
   * (default 500 ms; the engine's default is 2000).
   */
  stallTimeoutMs?: number;
  /** Id to replay under (for log lines and error messages; default `replay-check`). */
  workflowId?: string;
}

/** What {@link replayHistory} found. */
export interface ReplayReport {
  /** True when the code replays the whole history (or finishes where the history ends). */
  readonly ok: boolean;
  /**
   * `replayed`: the whole history replayed, and the workflow would go on live from there; `finished`: the
   * workflow returned or threw during replay, consuming the whole history; `diverged`: the code no longer
   * matches the history (`error` is the NonDeterminismError, ConfigurationMismatchError, ... that says where).
   */
  readonly outcome: 'replayed' | 'finished' | 'diverged';
  /** The first divergence, or the workflow's own error when it finished by throwing. */
  readonly error?: unknown;
  /** Records in the history. */
  readonly records: number;
  /**
   * Steps that had started and not ended at the end of the history: a resume would run their bodies again;
   * the check does not (they may have side effects), and passes over the records made inside them.
   */
  readonly unfinishedSteps: readonly string[];
}

/** Error codes that mean "the code no longer matches the history" rather than a failure of the workflow. */
const DIVERGENCE_CODES = ['NON_DETERMINISM', 'CONFIGURATION_MISMATCH', 'VERSION_CONFLICT', 'CORRUPT_HISTORY', 'UNSUPPORTED_FORMAT'] as const;

/**
 * Replay `records` (a stored history of any record format) against `workflow` and report whether the code
 * still matches it. Never runs anything live: replay stops at the end of the history, step bodies that would
 * run again (started, not ended) do not run, and nothing is written (the records are copied into memory).
 *
 * @example
 * const report = await replayHistory(checkout, await store.history('order-1').load(), { args: ['order-1'] });
 * if (!report.ok) throw report.error;   // NonDeterminismError: expected the end of step main/charge, ...
 */
export async function replayHistory(
  workflow: WorkflowFunction<never[], unknown>,
  records: readonly unknown[],
  options: ReplayHistoryOptions = {},
): Promise<ReplayReport> {
  const unfinishedSteps: string[] = [];
  const base = { records: records.length, unfinishedSteps };
  let upgraded: HistoryRecord[];
  try {
    upgraded = records.map(upgradeRecord);
  } catch (error) {
    return { ...base, ok: false, outcome: 'diverged', error };
  }
  const history = new MemoryHistory();
  history.commit({ append: upgraded.map((record) => ({ ...record })), remove: [] });
  const historian = new Historian(options.workflowId ?? 'replay-check', workflow, history, {
    stallTimeoutMs: options.stallTimeoutMs ?? 500,
    replayOnly: true,
    onStepNotRun: (id) => unfinishedSteps.push(id),
  });
  for (const [fn, ...args] of options.configurations ?? []) historian.configure(fn as (...args: unknown[]) => unknown, ...args);
  try {
    await historian.run(...((options.args ?? []) as never[]));
    return { ...base, ok: true, outcome: 'finished' };
  } catch (error) {
    if (isQuestError(error, 'WORKFLOW_SUSPENDED')) return { ...base, ok: true, outcome: 'replayed' };
    if (DIVERGENCE_CODES.some((code) => isQuestError(error, code))) return { ...base, ok: false, outcome: 'diverged', error };
    return { ...base, ok: true, outcome: 'finished', error };
  }
}
