/**
 * The types of a workflow registry: the workflow types a manager runs (and a client calls), by name, with
 * their arguments and results. No imports, so that the network client can use them without the manager.
 */

/**
 * Any workflow function a manager can run. Its parameter types are kept (and checked by `start()`), so this
 * is only a bound.
 *
 * @example
 * const game: AnyWorkflow = async (rounds: number) => `played ${rounds}`;
 */
export type AnyWorkflow = (...args: never[]) => Promise<unknown>;

/**
 * The workflow types a manager knows, by name. The names are stored with each workflow, so renaming one
 * strands the workflows started under the old name (they stay 'suspended' until the name is back).
 *
 * @example
 * const workflows = { game: guessingGame, order: processOrder } satisfies WorkflowRegistry;
 */
export type WorkflowRegistry = Record<string, AnyWorkflow>;

/**
 * The registered type names of a registry.
 *
 * @example
 * type Names = WorkflowType<{ game: typeof game }>;                 // 'game'
 */
export type WorkflowType<W extends WorkflowRegistry> = keyof W & string;

/**
 * The arguments a workflow type takes.
 *
 * @example
 * type GameArgs = WorkflowArgs<{ game: (rounds: number) => Promise<string> }, 'game'>;   // [rounds: number]
 */
export type WorkflowArgs<W extends WorkflowRegistry, T extends WorkflowType<W>> = Parameters<W[T]>;

/**
 * What a workflow type returns (resolved).
 *
 * @example
 * type GameResult = WorkflowResult<{ game: (rounds: number) => Promise<string> }, 'game'>; // string
 */
export type WorkflowResult<W extends WorkflowRegistry, T extends WorkflowType<W>> = Awaited<ReturnType<W[T]>>;
