/**
 * Where a Quest call finds its workflow: the run, the task and the scope travel through AsyncLocalStorage,
 * never through arguments the user must pass.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { NotInWorkflowError, InvalidNameError } from './errors.js';
import type { OpenResource } from './open-resource.js';
import type { Run } from './run.js';
import type { ItemTag } from './resources.js';
import type { TaskState } from './task-state.js';

/**
 * The records written inside a running step, removed together when the step ends (pruning). Steps nest; a
 * record belongs to its innermost step.
 */
export class StepFrame {
  /** `seq`s of records to remove when the step ends (its start record and everything inside it). */
  readonly seqs: number[] = [];
  /** Items this step took from resources: decided at its end (see Forgetting.closeFrame). */
  readonly takes: Take[] = [];
  /**
   * Records written in this step that outlive it (changes on resources opened outside it), with the resource
   * when the change supersedes earlier ones; see Forgetting.completeFrame. Allocated on first use.
   */
  outlived: Outlived[] | undefined = undefined;
  /** True once the step has ended (its records are gone or handed to the resources that outlive it). */
  ended = false;
  constructor(readonly id: string, readonly parent: StepFrame | null) {}
}

/** A record written inside a step about a resource opened outside it. */
export interface Outlived {
  readonly seq: number;
  /** Set when the action supersedes earlier ones (ActionSpec.supersedes). */
  readonly superseding: OpenResource | undefined;
}

/** A record that took an item (a queue get), and the tag of the record that had put the item. */
export interface Take {
  readonly seq: number;
  readonly resource: OpenResource;
  readonly taken: ItemTag | undefined;
}

/**
 * A naming and ownership scope: the body of a task or of a step. Op ids of calls made in it are its path plus
 * the call's label; tasks and resources opened in it are cancelled or closed when it ends.
 */
export class Scope {
  private counters: Map<string, number> | undefined;
  // Allocated on first use: most scopes (trivial steps) never start a task or open a resource.
  private ownTasks: Set<TaskState> | undefined;
  private ownResources: Set<OpenResource> | undefined;

  /** Tasks started in this scope that have not ended. */
  get tasks(): Set<TaskState> {
    return (this.ownTasks ??= new Set());
  }

  /** Resources opened in this scope that are still open. */
  get resources(): Set<OpenResource> {
    return (this.ownResources ??= new Set());
  }

  /** True when nothing is left to cancel or close at the end of the scope. */
  get idle(): boolean {
    return (this.ownTasks === undefined || this.ownTasks.size === 0) && (this.ownResources === undefined || this.ownResources.size === 0);
  }

  constructor(readonly path: string, readonly frame: StepFrame | null) {}

  /** The next op id for `label`: `path/label`, then `path/label#2`, ... Deterministic across replays. */
  nextId(label: string): string {
    const counters = (this.counters ??= new Map());
    const n = (counters.get(label) ?? 0) + 1;
    counters.set(label, n);
    return n === 1 ? `${this.path}/${label}` : `${this.path}/${label}#${n}`;
  }
}

/**
 * A call of a versioned function on the current call path, with its callers' (innermost first). `getVersion(name)`
 * asks the innermost call whose function declares `name`; steps and tasks started inside the call inherit it.
 */
export interface VersionedCall {
  /** The name that identifies the declaring function (its `name`, or the explicit `{ name }`). */
  readonly fn: string;
  /** The versions it declares ('' is its global version). */
  readonly versions: Readonly<Record<string, string>>;
  readonly caller: VersionedCall | null;
}

/** What every Quest call inside a workflow knows about where it runs. */
export interface WorkflowContext {
  readonly run: Run;
  readonly task: TaskState;
  readonly scope: Scope;
  /** The innermost versioned function being called, if any. */
  readonly versioned: VersionedCall | null;
  /** Aborted when the enclosing step with a timeout times out (see timeout.ts); absent: the run's signal. */
  readonly signal?: AbortSignal;
}

export const contextStorage = new AsyncLocalStorage<WorkflowContext>();

/**
 * Every copy of the engine loaded in this process registers its context storage here, so that a call made
 * through one copy inside a workflow run by another (two installs of quest-ts, or `dist` and `src` both
 * imported) can say so instead of a bare "not in a workflow".
 */
const engineCopies: Set<AsyncLocalStorage<unknown>> = ((globalThis as Record<symbol, unknown>)[Symbol.for('quest-ts.engine-copies')] ??=
  new Set()) as Set<AsyncLocalStorage<unknown>>;
engineCopies.add(contextStorage);

/** The current workflow context, or NotInWorkflowError naming the call that needed one. */
export function requireContext(what: string): WorkflowContext {
  const context = contextStorage.getStore();
  if (context === undefined) throw notInWorkflow(what);
  return context;
}

/** The error for `what`, called outside a workflow (or inside one run by another copy of the engine). */
export function notInWorkflow(what: string): NotInWorkflowError {
  return new NotInWorkflowError(what, runsInAnotherCopy());
}

/** True when a workflow is running right here, but in another copy of the engine. */
function runsInAnotherCopy(): boolean {
  for (const storage of engineCopies) {
    if (storage !== contextStorage && storage.getStore() !== undefined) return true;
  }
  return false;
}

/** The current workflow context, if any (for logging). */
export function currentContext(): WorkflowContext | undefined {
  return contextStorage.getStore();
}

/** Validate a step or task name: non-empty, no '/' (path separator) or '#' (repeat counter). */
export function checkName(kind: string, name: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.includes('/') || name.includes('#')) {
    throw new InvalidNameError(kind, String(name));
  }
  return name;
}
