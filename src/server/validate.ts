/**
 * Checks of what callers send, before anything reaches the manager: JSON shape, nesting depth, and the
 * fields of each operation. Every failure is a BadRequestError naming the field.
 */
import type { Json } from '../core/serializer.js';
import { BadRequestError } from '../protocol/errors.js';

/** The deepest nesting of arrays and objects a request may have (default limit). */
export const DEFAULT_MAX_DEPTH = 64;

/**
 * Parse a request body: JSON, an object at the top, nested at most `maxDepth` levels, without `__proto__`
 * keys (which would change the prototype of the objects rebuilt from it).
 */
export function parseBody(text: string, maxDepth: number): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new BadRequestError('the body is not JSON');
  }
  return checkedBody(parsed, maxDepth);
}

/** A body already parsed (from a call message): an object, nested at most `maxDepth` levels, no `__proto__` keys. */
export function checkedBody(parsed: unknown, maxDepth: number): Record<string, unknown> {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new BadRequestError('the body must be a JSON object');
  checkShape(parsed, maxDepth);
  return parsed as Record<string, unknown>;
}

/** Depth and `__proto__` check, without recursion (a hostile body must not overflow the stack). */
export function checkShape(value: unknown, maxDepth: number): void {
  const pending: [unknown, number][] = [[value, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, depth] = next;
    if (typeof item !== 'object' || item === null) continue;
    if (depth > maxDepth) throw new BadRequestError(`the body is nested deeper than ${maxDepth} levels`);
    if (Array.isArray(item)) {
      for (const element of item) pending.push([element, depth + 1]);
      continue;
    }
    for (const [key, field] of Object.entries(item)) {
      if (key === '__proto__') throw new BadRequestError('the body has a "__proto__" key');
      pending.push([field, depth + 1]);
    }
  }
}

/** A required non-empty string field. */
export function stringField(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (typeof value !== 'string' || value.length === 0) throw new BadRequestError(`"${name}" must be a non-empty string`);
  return value;
}

/** An optional boolean field. */
export function booleanField(body: Record<string, unknown>, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new BadRequestError(`"${name}" must be true or false`);
  return value;
}

/** An optional field that must be one of `choices`. */
export function choiceField<C extends string>(body: Record<string, unknown>, name: string, choices: readonly C[]): C | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw new BadRequestError(`"${name}" must be one of ${choices.map((choice) => JSON.stringify(choice)).join(', ')}`);
  }
  return value as C;
}

/** The `args` array (encoded values), empty when absent. */
export function argsField(body: Record<string, unknown>): Json[] {
  const value = body['args'];
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new BadRequestError('"args" must be an array of encoded values');
  return value as Json[];
}

/** An optional string field (absent or empty: undefined); BadRequestError for another type. */
export function optionalString(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new BadRequestError(`"${name}" must be a string`);
  return value;
}

/** An integer field from `min` to `max` (absent: `fallback`); BadRequestError otherwise. */
export function integerField(body: Record<string, unknown>, name: string, fallback: number, min: number, max: number): number {
  const value = body[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new BadRequestError(`"${name}" must be an integer from ${min} to ${max}`);
  }
  return value;
}
