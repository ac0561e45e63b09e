/**
 * The storage interface of a Quest application: the histories of its workflows (the engine's `History`) plus
 * the manager's own bookkeeping (which workflows exist, their results, their aliases). Every backend
 * (memory, files, SQLite, PostgreSQL, ...) implements it in its own file and passes the shared conformance
 * suite (test/storage/conformance.ts).
 */
import type { History } from '../core/history.js';
import type { Json, SerializedError } from '../core/serializer.js';

/** Where a workflow stands, as the manager records it. */
export type WorkflowState = 'running' | 'completed' | 'failed' | 'cancelled';

/** The manager's record of one workflow. */
export interface WorkflowEntry {
  /** The workflow id (unique in the store). */
  id: string;
  /** The registered workflow type it runs. */
  type: string;
  /** The arguments it was started with (serialized). */
  args: Json[];
  state: WorkflowState;
  /** Milliseconds since the epoch. */
  startedAt: number;
  finishedAt?: number;
  /** The serialized result, once completed. */
  result?: Json;
  /** The serialized error, once failed or cancelled. */
  error?: SerializedError;
  /** Remove the entry (and its result) as soon as the workflow finishes. */
  deleteOnFinish: boolean;
}

/** Storage for a whole Quest application (one namespace of workflows). */
export interface Store {
  /** The history of one workflow. Cheap to call; the same id always reaches the same records. */
  history(workflowId: string): History;
  /** Insert or replace a workflow entry. Durable when it resolves. */
  putWorkflow(entry: WorkflowEntry): Promise<void>;
  /** One workflow entry, or undefined. */
  getWorkflow(workflowId: string): Promise<WorkflowEntry | undefined>;
  /** Every workflow entry (optionally only those in `state`), oldest start first. */
  listWorkflows(state?: WorkflowState): Promise<WorkflowEntry[]>;
  /** Remove a workflow entry, its history and its aliases, atomically. */
  deleteWorkflow(workflowId: string): Promise<void>;
  /** Point `alias` at `workflowId`. Durable when it resolves. */
  putAlias(alias: string, workflowId: string): Promise<void>;
  /** Remove `alias` if it points at `workflowId`. */
  deleteAlias(alias: string, workflowId: string): Promise<void>;
  /** The workflow an alias points at, or undefined. */
  getAlias(alias: string): Promise<string | undefined>;
  /** Release connections and files; later calls fail. */
  close(): Promise<void>;
}
