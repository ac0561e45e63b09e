/**
 * The history record format. A history is an ordered list of records; `seq` orders them and identifies one
 * for removal when a step is pruned.
 *
 * Glossary:
 * - op id (`id`): the deterministic path of the call that wrote the record: enclosing task and step names,
 *   then the call's own label, with `#k` when the same label repeats in one scope (`main/checkout/charge#2`).
 * - task (`task`): the id of the task that made the call (`main` is the workflow function itself).
 * - resource key: `{ name, identity }`; identity `null` means public.
 *
 * Every record carries the format version it was written with (`v`). Readers call {@link upgradeRecord},
 * which migrates every older format to the current one, so histories outlive framework upgrades.
 */
import type { Json, SerializedError } from './serializer.js';
import { CorruptHistoryError, UnsupportedFormatError } from './errors.js';

/**
 * The record format this version of Quest writes. Format 2: a version record names the function that declared
 * it (`fn`); format 1 version records were workflow-wide and read as `fn: null`. Format 3: a task cancelled by
 * workflow code is recorded (`task_cancel`), and an `internal` record may carry an error instead of a result (a
 * wait that timed out). Format 2 records read as they are; a format 2 history replays cancellations as it
 * did then, at the call (see task-cancel.ts).
 */
export const FORMAT_VERSION = 3;

/** The first format that records task cancellations: histories older than it replay them at the call. */
export const CANCELS_RECORDED_SINCE = 3;

/** Which resource a record is about. */
export interface ResourceKey {
  name: string;
  identity: string | null;
}

/** The outcome of a call: a serialized value or a serialized error. */
export interface Outcome {
  result?: Json;
  error?: SerializedError;
}

interface Base {
  /** Format version the record was written with. */
  v: number;
  /** Position in the history; strictly increasing per workflow. */
  seq: number;
  /** Milliseconds since the epoch when the record was written. */
  t: number;
  /** Id of the task that wrote it ('' for records written from outside the workflow). */
  task: string;
  /** Op id of the call that wrote it (see the glossary above). */
  id: string;
}

export interface StepStartRecord extends Base { type: 'step_start' }
export interface StepEndRecord extends Base, Outcome { type: 'step_end' }
export interface TaskStartRecord extends Base { type: 'task_start' }
export interface TaskEndRecord extends Base, Outcome { type: 'task_end' }
export interface ResourceOpenRecord extends Base {
  type: 'resource_open';
  resource: ResourceKey;
  kind: string;
  init?: Json;
}
export interface ResourceCloseRecord extends Base {
  type: 'resource_close';
  resource: ResourceKey;
  /**
   * Path of the scope that closed the resource, when it is not the scope that opened it (a step or a loop
   * iteration closing a resource opened outside it). Once that scope has completed its code never runs again,
   * so replay applies the close instead of waiting for a call. Absent when the opening scope closed it.
   */
  by?: string;
}
/** A workflow-side call on a resource (a queue get, a state set, ...). */
export interface InternalEventRecord extends Base, Outcome {
  type: 'internal';
  resource: ResourceKey;
  action: string;
  args: Json[];
}
/** An outside caller's action on a resource; `id` is the op id of the resource's open record. */
export interface ExternalEventRecord extends Base, Outcome {
  type: 'external';
  resource: ResourceKey;
  action: string;
  args: Json[];
}
/**
 * A code version in effect from this point of the history on, for the function that declares it: `fn` is the
 * declaring function's name, `name` the version's name ('' for the function's global version). `fn` is null for a
 * version recorded by format 1, which was workflow-wide: it applies to every function that declares `name` and has
 * no version of its own recorded yet, so that old histories replay exactly as they did.
 */
export interface VersionRecord extends Base { type: 'version'; fn: string | null; name: string; version: string }
/** A configuration call applied at this point of the history. */
export interface ConfigRecord extends Base { type: 'config'; name: string; args: Json[] }
/**
 * The state a `loop()` carries after its latest iteration. Each checkpoint replaces the previous one (and the
 * iteration's records), so a loop that runs forever keeps one. `done` marks the loop's final result.
 */
export interface CheckpointRecord extends Base, Outcome {
  type: 'checkpoint';
  /** Iterations completed so far. */
  iteration: number;
  done: boolean;
}
/**
 * Workflow code cancelled the task `target` (`id` is the op id of the cancel call). Replay cancels the task at
 * this position: claimed by the call when its code runs again, applied by replay when the call was made inside
 * a step or loop iteration that has completed.
 */
export interface TaskCancelRecord extends Base { type: 'task_cancel'; target: string }
/** An alias opened (`open: true`) or closed for this workflow. */
export interface AliasRecord extends Base { type: 'alias'; alias: string; open: boolean }

export type HistoryRecord =
  | StepStartRecord
  | StepEndRecord
  | TaskStartRecord
  | TaskEndRecord
  | ResourceOpenRecord
  | ResourceCloseRecord
  | InternalEventRecord
  | ExternalEventRecord
  | VersionRecord
  | ConfigRecord
  | CheckpointRecord
  | AliasRecord
  | TaskCancelRecord;

export type RecordType = HistoryRecord['type'];

/** Record types a workflow call claims during replay by its op id. */
export const CLAIMED_TYPES: ReadonlySet<RecordType> = new Set<RecordType>([
  'step_start', 'step_end', 'task_start', 'task_end', 'resource_open', 'resource_close', 'internal', 'alias',
  'checkpoint', 'task_cancel',
]);

const KNOWN_TYPES: ReadonlySet<string> = new Set<RecordType>([
  ...CLAIMED_TYPES, 'external', 'version', 'config',
]);

/**
 * Read a stored record of any format into the current one. Throws CorruptHistoryError for a record that is
 * not one, UnsupportedFormatError for one written by a newer Quest.
 *
 * Migrations go here, one per format bump, each taking format n to n+1; a fixture history of every released
 * format is replayed by the tests (test/fixtures/).
 */
export function upgradeRecord(raw: unknown): HistoryRecord {
  if (typeof raw !== 'object' || raw === null) throw new CorruptHistoryError(`record is not an object: ${String(raw)}`);
  const record = raw as Partial<HistoryRecord>;
  const version = record.v;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new CorruptHistoryError(`record has no valid format version: ${safeJson(raw)}`);
  }
  if (version > FORMAT_VERSION) throw new UnsupportedFormatError(version, FORMAT_VERSION);
  if (typeof record.seq !== 'number' || typeof record.type !== 'string' || !KNOWN_TYPES.has(record.type)) {
    throw new CorruptHistoryError(`record is missing seq or has an unknown type: ${safeJson(raw)}`);
  }
  if (typeof record.id !== 'string' || typeof record.task !== 'string') {
    throw new CorruptHistoryError(`record is missing its op id or task: ${safeJson(raw)}`);
  }
  // Format 2 to 3 added record kinds and an optional field; format 2 records read as they are.
  return record.type === 'version' ? upgradeVersion(record as VersionRecord, raw) : (record as HistoryRecord);
}

/** Format 1 to 2: a version record without a declaring function was workflow-wide (`fn: null`). */
function upgradeVersion(record: VersionRecord, raw: unknown): VersionRecord {
  if (typeof record.name !== 'string' || typeof record.version !== 'string') {
    throw new CorruptHistoryError(`version record is missing its name or version: ${safeJson(raw)}`);
  }
  if (record.v === 1) return { ...record, fn: null };
  if (record.fn !== null && typeof record.fn !== 'string') {
    throw new CorruptHistoryError(`version record is missing its declaring function: ${safeJson(raw)}`);
  }
  return record;
}

/** A short human description of a record, for error messages and the CLI. */
export function describeRecord(record: HistoryRecord): string {
  switch (record.type) {
    case 'step_start': return `start of step ${record.id}`;
    case 'step_end': return `end of step ${record.id}`;
    case 'task_start': return `start of task ${record.id}`;
    case 'task_end': return `end of task ${record.id}`;
    case 'resource_open': return `open of ${record.kind} ${record.id}`;
    case 'resource_close': return `close of ${record.id}`;
    case 'internal': return `${record.action} on ${resourceLabel(record.resource)} by ${record.id}`;
    case 'external': return `outside ${record.action} on ${resourceLabel(record.resource)}`;
    case 'version': return `version ${JSON.stringify(record.version)} of ${versionLabel(record.fn, record.name)}`;
    case 'config': return `configuration ${record.name}`;
    case 'alias': return `${record.open ? 'open' : 'close'} of alias ${record.alias}`;
    case 'checkpoint': return `checkpoint of loop ${record.id} after iteration ${record.iteration}`;
    case 'task_cancel': return `cancel of task ${record.target} by ${record.id}`;
  }
}

/**
 * Which version a version record is about: `parse: parser` (named version `parser` of function `parse`),
 * `parse: (global)`, and for a workflow-wide format 1 record `parser` or `(workflow)`.
 */
export function versionLabel(fn: string | null | undefined, name: string): string {
  if (fn === null || fn === undefined) return name === '' ? '(workflow)' : name;
  return `${fn}: ${name === '' ? '(global)' : name}`;
}

/** `name` for a public resource, `name@identity` for a private one. */
export function resourceLabel(key: ResourceKey): string {
  return key.identity === null ? key.name : `${key.name}@${key.identity}`;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value).slice(0, 200);
  } catch {
    return String(value);
  }
}
