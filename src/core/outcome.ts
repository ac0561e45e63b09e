/**
 * A record's outcome (the value or the error a step, an action or a task ended with) and a record's own
 * fields: what the engine writes, apart from the run that writes it.
 */
import type { HistoryRecord, Outcome } from './records.js';
import { deserialize, deserializeError, serialize, serializeError } from './serializer.js';

/** Split a value or a thrown error into a record's outcome fields. */
export function outcomeOf(value: unknown): Outcome {
  return { result: serialize(value) };
}

/** The value or error a record's outcome describes. */
export function valueOf(outcome: Outcome): unknown {
  if (outcome.error !== undefined) throw deserializeError(outcome.error);
  return outcome.result === undefined ? undefined : deserialize(outcome.result);
}

/** A recorded error outcome. */
export function errorOutcome(error: unknown): Outcome {
  return { error: serializeError(error) };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A record's own fields: the run fills in format version, seq, time and task. */
export type RecordFields = DistributiveOmit<HistoryRecord, 'v' | 'seq' | 't' | 'task'>;

