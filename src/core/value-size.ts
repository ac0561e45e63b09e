/**
 * An estimate of the memory a value takes in V8's heap, for the manager's memory budget (see
 * Run.heldBytes and ManagerOptions.maxResidentBytes). It walks the value once, when the value enters a
 * resource, so that a run's estimate is kept up to date by additions and subtractions, never by walking
 * everything again.
 *
 * The sizes follow V8's layout on 64-bit Node (8-byte slots, no pointer compression): a string is a 16-byte
 * header and a byte per character (strings with characters beyond Latin-1, two bytes each, are not told
 * apart: an underestimate for those; single characters are shared, free), an array a 32-byte object and a 16-byte backing store of 8-byte slots, a plain
 * object 24 bytes and a slot per property (its hidden class is shared by the objects of the same shape, and
 * its keys, interned, by every object that has them: neither is counted), a number that is not a small
 * integer a 16-byte heap number. bench/residency.ts compares the estimate with the heap's growth.
 */

/** A slot in an object or array: a pointer, or a small integer held in place. */
const SLOT = 8;
const STRING_HEADER = 16;
const HEAP_NUMBER = 16;
const ARRAY_HEADER = 32 + 16;
const OBJECT_HEADER = 24;
/** A Map or Set: the object and its hash table's fixed part; each entry takes a few slots of the table. */
const COLLECTION_HEADER = 80;
const TYPED_ARRAY_HEADER = 112;
const DATE = 32;
const ERROR = 200;
/** Past this depth a value is counted as a slot only (values Quest records are data, rarely this deep). */
const MAX_DEPTH = 64;

/**
 * Estimated bytes `value` takes on the heap, beyond the slot that points to it. Values shared between
 * several places are counted at each place (an overestimate); cycles are counted once.
 *
 * @example
 * estimateValueBytes('hello');          // 24 (a 16-byte header and 5 characters, rounded up to 8)
 * estimateValueBytes({ a: 1, b: 'x' }); // 64 (24 + 2 slots, plus the string)
 */
export function estimateValueBytes(value: unknown): number {
  return sizeOf(value, 0, undefined);
}

function sizeOf(value: unknown, depth: number, seen: Set<object> | undefined): number {
  switch (typeof value) {
    case 'string':
      // V8 keeps one shared string for each single character.
      return value.length <= 1 ? 0 : roundUp(STRING_HEADER + value.length);
    case 'number':
      // Small integers live in the slot itself; other numbers are boxed.
      return Number.isInteger(value) && Math.abs(value) < 2 ** 30 ? 0 : HEAP_NUMBER;
    case 'bigint':
      return roundUp(16 + Math.ceil(value.toString(16).length / 2));
    case 'object':
      return value === null || depth >= MAX_DEPTH ? 0 : objectSize(value, depth + 1, seen);
    default:
      // undefined, booleans (shared oddballs), functions and symbols (shared with the code that made them).
      return 0;
  }
}

function objectSize(value: object, depth: number, seen: Set<object> | undefined): number {
  const visited = seen ?? new Set<object>();
  if (visited.has(value)) return 0;
  visited.add(value);
  if (Array.isArray(value)) {
    let total = ARRAY_HEADER + SLOT * value.length;
    for (const item of value as unknown[]) total += sizeOf(item, depth, visited);
    return total;
  }
  if (value instanceof Map) {
    let total = COLLECTION_HEADER + 3 * SLOT * value.size;
    for (const [key, item] of value as Map<unknown, unknown>) total += sizeOf(key, depth, visited) + sizeOf(item, depth, visited);
    return total;
  }
  if (value instanceof Set) {
    let total = COLLECTION_HEADER + 2 * SLOT * value.size;
    for (const item of value as Set<unknown>) total += sizeOf(item, depth, visited);
    return total;
  }
  if (ArrayBuffer.isView(value)) return TYPED_ARRAY_HEADER + value.byteLength;
  if (value instanceof Date) return DATE;
  if (value instanceof Error) return ERROR + roundUp(STRING_HEADER + value.message.length);
  let total = OBJECT_HEADER;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    total += SLOT + sizeOf((value as Record<string, unknown>)[key], depth, visited);
  }
  return total;
}

function roundUp(bytes: number): number {
  return (bytes + 7) & ~7;
}
