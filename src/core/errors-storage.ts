/** Errors of stored histories and the stores that hold them: damage, formats, failures, ownership. */
import { QuestError } from './quest-error.js';

/**
 * Where a damaged history was found: the workflow, and for a file-based store the file and the byte offset
 * of the first damaged commit.
 */
export interface HistoryDamage {
  workflowId?: string;
  file?: string;
  offset?: number;
}

/**
 * A stored history is damaged (a checksum that does not match, a missing or emptied history of a running
 * workflow, an unreadable record, a duplicate sequence number, an unknown record type). Damage is never
 * replayed: the workflow is not run until its history is restored or the workflow is deleted.
 */
export class CorruptHistoryError extends QuestError {
  /** The workflow whose history is damaged, when known. */
  readonly workflowId: string | undefined;
  /** The damaged file, for a file-based store. */
  readonly file: string | undefined;
  /** The byte offset of the first damaged commit in {@link file}. */
  readonly offset: number | undefined;

  constructor(message: string, where: HistoryDamage = {}) {
    super('CORRUPT_HISTORY', `Corrupt history${describeDamage(where)}: ${message}. Restore the history from a backup or delete the workflow.`);
    this.workflowId = where.workflowId;
    this.file = where.file;
    this.offset = where.offset;
  }
}

/** ` of workflow "w" (file /x.log, byte 12)`, from what is known. */
function describeDamage({ workflowId, file, offset }: HistoryDamage): string {
  const place = [file === undefined ? undefined : `file ${file}`, offset === undefined ? undefined : `byte ${offset}`].filter(Boolean);
  const who = workflowId === undefined ? '' : ` of workflow ${JSON.stringify(workflowId)}`;
  return place.length === 0 ? who : `${who} (${place.join(', ')})`;
}

/** A history was written by a newer Quest whose record format this version cannot read. */
export class UnsupportedFormatError extends QuestError {
  constructor(found: number, supported: number) {
    super(
      'UNSUPPORTED_FORMAT',
      `History record format ${found} is newer than this Quest supports (${supported}). Upgrade Quest.`,
    );
  }
}

/** A storage backend failed; the run stops and nothing half-written is kept. */
export class StorageError extends QuestError {
  constructor(message: string, cause?: unknown) {
    super('STORAGE_FAILURE', message, { cause, retryable: true });
  }
}

/**
 * This process no longer owns the workflow it wrote to: its lease lapsed (the process was paused or cut off
 * from the database longer than the lease period) and another process took the workflow over, or another
 * process ended it. Nothing of the write was kept, and the run here stops: the new owner runs the workflow on
 * from its history. Retryable in the sense that the workflow goes on elsewhere; nothing to do here.
 */
export class LeaseLostError extends QuestError {
  constructor(
    /** The workflow whose lease was lost. */
    readonly workflowId: string,
    /** What was refused (`write the history of workflow "w1"`). */
    what = 'write',
  ) {
    super(
      'LEASE_LOST',
      `Could not ${what}: this process lost its lease on workflow ${JSON.stringify(workflowId)} (it was paused or cut ` +
        'off from the database longer than the lease period, and another process took the workflow over or ended it). ' +
        'Nothing was written; the run here stops and the new owner goes on from the history. If this happens often, ' +
        'lengthen the lease period (leaseMs) or find what pauses the process.',
      { retryable: true },
    );
  }
}

/**
 * Another workflow manager owns the store: one manager at a time may run the workflows of a store, so that
 * no step runs twice at once. `owner` names it (process, host, since when). Retryable: once that manager
 * closes (or its process is gone), opening again succeeds.
 */
export class StoreOwnedError extends QuestError {
  constructor(
    /** The store (its path, or a description). */
    readonly store: string,
    /** Who owns it: `process <pid> on <host> since <ISO time>`. */
    readonly owner: string,
    /** What to do when the owner runs on another host, where Quest cannot tell whether it still lives. */
    hint = '',
  ) {
    super(
      'STORE_OWNED',
      `The store ${store} is owned by another workflow manager (${owner}). Close that manager or stop that process ` +
        `first: one manager at a time runs the workflows of a store.${hint === '' ? '' : ` ${hint}`}`,
      { retryable: true },
    );
  }
}

/** A store location that holds no Quest store: missing, empty, not SQLite, or another application's database. */
export class NotAQuestStoreError extends QuestError {
  constructor(
    /** The location asked for. */
    readonly location: string,
    /** What is there instead (`does not exist`, `is an empty file`, ...). */
    readonly found: string,
  ) {
    super('NOT_A_QUEST_STORE', `${location} is not a Quest database: it ${found}. Check the path; a Quest database is created by opening it for writing (a WorkflowManager, quest run).`);
  }
}
