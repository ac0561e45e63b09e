/**
 * The workflows a manager has taken up: every unfinished workflow of its store (found at open or started
 * since), or on a store shared by many processes (WorkflowLeases) those its claims hold. Each is launched
 * with its deadline armed and the process kept alive while it runs; when its run ends, the bookkeeping
 * follows (a finished workflow leaves, its lease goes back).
 */
import type { Logger } from 'pino';
import type { ChildWorkflowHost } from '../core/child.js';
import { UnknownWorkflowTypeError, isQuestError } from '../core/errors.js';
import { logger as questLogger } from '../logging.js';
import { hasLeases, type Store, type WorkflowEntry } from '../storage/store.js';
import type { WorkflowCountFilter } from '../storage/workflow-pages.js';
import { ManagerAliases } from './alias-registry.js';
import { WorkflowClaims } from './claims.js';
import { KeepAlive } from './keep-alive.js';
import { DEFAULT_LAUNCH_WINDOW, LaunchWindow } from './launch-window.js';
import { ManagedWorkflow, type ManagedDeps } from './managed-workflow.js';
import { RecentIds, RecentMap } from './recent-ids.js';
import { countStatuses, listPage, type ListPage, type ListPageDeps, type ListPageQuery, type StatusCount } from './list-pages.js';
import { Residency } from './residency.js';
import type { AnyWorkflow, ManagerOptions, ResidencyInfo, WorkflowInfo, WorkflowRegistry } from './types.js';
import { WorkflowDeadlines } from './workflow-deadlines.js';
import { workflowInfo } from './workflow-info.js';

/** What the workflows here need from their manager. */
export interface WorkflowsHereDeps {
  readonly store: Store;
  /** Every type the manager runs, Quest's own hidden ones (quest.schedule) included. */
  readonly workflows: WorkflowRegistry;
  readonly options: Pick<ManagerOptions<WorkflowRegistry>, 'historian' | 'launchWindow' | 'maxResident' | 'maxResidentBytes' | 'leases' | 'logger'>;
  /** Where the workflows start their children. */
  readonly children: ChildWorkflowHost;
  /** True once the manager closes. */
  isClosing(): boolean;
  /** Look at the inbox now (an event was posted). */
  wakeInbox(): void;
  /** Fail workflow `id`, whose time ran out, with TimeoutError. */
  timeOut(id: string): Promise<void>;
}

/**
 * The workflows one manager has taken up.
 *
 * @example
 * const here = new WorkflowsHere(deps);
 * for (const entry of await store.listWorkflows('running')) here.resume(entry);
 * here.live.get('g1');
 */
export class WorkflowsHere {
  /** Every unfinished workflow of the store, running here or not. */
  readonly live = new Map<string, ManagedWorkflow>();
  /** The aliases the workflows hold (see ./alias-registry.ts). */
  readonly aliases: ManagerAliases;
  /** What each workflow's run uses of the manager. */
  readonly managed: ManagedDeps;
  /** When the store is shared by many processes (WorkflowLeases): which workflows this one runs. */
  readonly claims: WorkflowClaims | undefined;
  readonly deadlines = new WorkflowDeadlines();
  /** Keeps the process alive while a workflow runs here (until the manager closes). */
  readonly keepAlive = new KeepAlive<ManagedWorkflow>();
  /** Shared store: workflows this manager ran to their end lately (it settled their events itself). */
  readonly finishedHere = new RecentIds(10_000);
  /**
   * The entries of workflows that finished here lately, on a store this manager alone writes (no claims): a
   * result() soon after the end answers from memory instead of reading the store (a read per workflow, a good
   * share of a short workflow's cost on SQLite). A deletion drops its entry (WorkflowEndings).
   */
  readonly finishedEntries = new RecentMap<WorkflowEntry>(10_000);

  constructor(private readonly deps: WorkflowsHereDeps) {
    const { store, options } = deps;
    this.aliases = new ManagerAliases(store, {
      // Shared store: an alias is held by a running workflow of any process (aliases are global).
      isLive: (id) => this.live.has(id) || (this.claims !== undefined && store.getWorkflow(id).then((entry) => entry?.state === 'running')),
      releasesDurably: (id) => this.releasesDurably(id),
    });
    this.managed = {
      store,
      aliases: this.aliases,
      stallTimeoutMs: options.historian?.stallTimeoutMs,
      children: deps.children,
      onRunEnded: (workflow) => this.runEnded(workflow),
      launches: new LaunchWindow(options.launchWindow ?? DEFAULT_LAUNCH_WINDOW),
      // Every store, a shared one too: an evicted workflow keeps its lease (the store renews its fences) and
      // counts against leases.maxWorkflows (see ./claims.ts). Checks both budgets (InvalidArgumentError).
      residency: new Residency(options.maxResident, options.maxResidentBytes),
      // Shared store: a run never replays a workflow whose lease moved (an evicted one woken late; ./claims.ts).
      confirmLease: hasLeases(store) ? async (id) => this.claims?.confirmLease(id) : undefined,
    };
    this.claims = hasLeases(store)
      ? new WorkflowClaims(
          {
            store, log: this.log, live: this.live, aliases: this.aliases,
            // Every type this manager runs, Quest's own hidden ones (quest.schedule) included.
            types: () => Object.getOwnPropertyNames(deps.workflows),
            launch: (entry) => this.resume(entry), wakeInbox: () => deps.wakeInbox(), isClosing: () => deps.isClosing(),
          },
          options.leases,
        )
      : undefined;
  }

  /** Register and run workflow `managed`. */
  launch(managed: ManagedWorkflow): void {
    this.live.set(managed.id, managed);
    this.deadlines.arm(managed.entry, (id) => {
      if (!this.deps.isClosing()) this.deps.timeOut(id).catch((error: unknown) => this.log.warn({ workflow: id, err: error }, 'could not end a workflow whose time ran out'));
    });
    managed.launch(this.types);
    if (managed.active) this.keepAlive.hold(managed);
  }

  /** Resume a workflow found 'running' in the store (at open, or claimed). */
  resume(entry: WorkflowEntry): void {
    const workflow = this.registered(entry.type);
    const managed = new ManagedWorkflow(entry, workflow, this.managed);
    this.launch(managed);
    if (workflow === undefined) {
      this.log.warn(
        { workflow: entry.id, type: entry.type },
        'workflow type not registered: the workflow stays suspended until a manager that knows the type opens the store',
      );
    }
  }

  /** The registered type names. */
  get types(): string[] {
    return Object.keys(this.deps.workflows);
  }

  /** The workflow function of a registered type (UnknownWorkflowTypeError otherwise). */
  workflowOf(type: string): AnyWorkflow {
    const workflow = this.registered(type);
    if (typeof workflow !== 'function') throw new UnknownWorkflowTypeError(type, this.types);
    return workflow;
  }

  private registered(type: string): AnyWorkflow | undefined {
    const { workflows } = this.deps;
    return Object.hasOwn(workflows, type) ? workflows[type] : undefined;
  }

  /** For the alias registry: a removal is a real release unless the workflow is being suspended. */
  private releasesDurably(id: string): boolean {
    const managed = this.live.get(id);
    if (managed === undefined || managed.finished !== undefined) return true;
    return managed.historian?.status === 'running';
  }

  /** WorkflowManager.list: every workflow of the store, overlaid with what this manager knows of it now. */
  async list(): Promise<WorkflowInfo[]> {
    const entries = await this.deps.store.listWorkflows();
    return entries.map((entry) => workflowInfo(entry, this.live.get(entry.id), this.aliases.aliasesOf(entry.id), this.claims !== undefined));
  }

  /** WorkflowManager.listPage: one page of list() (see ./list-pages.ts). */
  listPage(query: ListPageQuery): Promise<ListPage> {
    return listPage(this.pageDeps(), query);
  }

  /** WorkflowManager.countWorkflows: the counts of a page without the page (see ./list-pages.ts). */
  countWorkflows(filter: WorkflowCountFilter): Promise<StatusCount[]> {
    return countStatuses(this.pageDeps(), filter);
  }

  private pageDeps(): ListPageDeps {
    const aliases = this.aliases;
    return { store: this.deps.store, live: this.live, aliasesOf: (id: string) => aliases.aliasesOf(id), resolveAlias: (alias: string) => aliases.resolve(alias), shared: this.claims !== undefined };
  }

  /** WorkflowManager.residency: the runs in memory and their budgets. */
  residency(): ResidencyInfo {
    const { residency } = this.managed;
    return { resident: residency.size, estimatedBytes: residency.bytes, maxResident: residency.maxResident, maxResidentBytes: residency.maxResidentBytes };
  }

  private runEnded(managed: ManagedWorkflow): void {
    if (!managed.evicted) this.keepAlive.release(managed);
    if (managed.finished !== undefined) this.deadlines.disarm(managed.id);
    // A finished workflow's entry now lives in the store only; unfinished ones stay (resumable, listable).
    if (managed.finished !== undefined && this.live.get(managed.id) === managed) this.live.delete(managed.id);
    if (managed.finished !== undefined && this.claims !== undefined) this.finishedHere.add(managed.id);
    if (managed.finished !== undefined && this.claims === undefined && !managed.finished.deleteOnFinish) this.finishedEntries.set(managed.id, managed.finished);
    this.claims?.runEnded(managed);
    if (isQuestError(managed.halted, 'CORRUPT_HISTORY')) {
      this.log.warn({ workflow: managed.id, err: managed.halted }, 'history damaged: the workflow is not run (list() shows it damaged); restore its history or delete it');
    }
  }

  private get log(): Pick<Logger, 'warn'> {
    return this.deps.options.logger ?? questLogger;
  }
}
