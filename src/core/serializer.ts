/**
 * How values enter and leave a history. Step results, resource values and event arguments are turned into
 * JSON data (never a string: storage backends decide how to store JSON) and rebuilt on replay.
 *
 * Supported without registration: JSON data, `undefined`, `NaN`/`±Infinity`, `-0`, `Date`, `Map`, `Set`,
 * `BigInt`, `Uint8Array`, and errors (see {@link serializeError}). Any other class instance must be registered
 * once with {@link registerType}; functions, symbols and cycles fail with `NotSerializableError` at the moment
 * they are recorded, never later at replay.
 *
 * Encoding: special values become `{ "$q": tag, "v": payload }`; a plain object that itself has a `$q` key is
 * wrapped as `{ "$q": "Object", "v": {...} }`, so user data can never be mistaken for a tag.
 */
import * as questErrors from './errors.js';
import { NotSerializableError } from './errors.js';

/** JSON data as stored in a history. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A user type that can be recorded: how to turn an instance into data and back. */
export interface TypeSerializer<T> {
  /** Unique, stable name stored in histories; renaming it breaks replay of stored histories. */
  readonly name: string;
  /** The class whose instances this serializer handles (matched by exact prototype). */
  readonly type: abstract new (...args: never[]) => T;
  /** Turn an instance into serializable data (which may itself contain supported values). */
  encode(value: T): unknown;
  /** Rebuild an instance from what `encode` returned. */
  decode(data: unknown): T;
}

const TAG = '$q';
const typesByName = new Map<string, TypeSerializer<unknown>>();
const typesByPrototype = new Map<object, TypeSerializer<unknown>>();
const errorClasses = new Map<string, new (...args: never[]) => Error>();

for (const builtin of [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError, AggregateError]) {
  errorClasses.set(builtin.name, builtin);
}
// Quest's own errors are always rebuilt as their classes.
for (const exported of Object.values(questErrors)) {
  if (typeof exported === 'function' && exported.prototype instanceof Error) {
    errorClasses.set(exported.name, exported as new (...args: never[]) => Error);
  }
}

/**
 * Register a class so that its instances can be step results or event arguments. Register it once, at module
 * load, in every process that replays histories containing it.
 *
 * @example
 * class Money { constructor(readonly cents: number) {} }
 * registerType({ name: 'Money', type: Money, encode: (m) => m.cents, decode: (c) => new Money(c as number) });
 */
export function registerType<T>(serializer: TypeSerializer<T>): void {
  const existing = typesByName.get(serializer.name);
  if (existing !== undefined && existing.type !== serializer.type) {
    throw new TypeError(`A different type is already registered under the name ${JSON.stringify(serializer.name)}.`);
  }
  typesByName.set(serializer.name, serializer as TypeSerializer<unknown>);
  typesByPrototype.set(serializer.type.prototype as object, serializer as TypeSerializer<unknown>);
}

/**
 * Register an error class so that an error a step threw is rethrown as the same class on replay. Errors of
 * unregistered classes are rebuilt as `Error` with the recorded `name`, `message`, `code` and other own fields.
 * Quest's own error classes are always known.
 */
export function registerError(errorClass: new (...args: never[]) => Error, name: string = errorClass.name): void {
  errorClasses.set(name, errorClass);
}

/** Turn a value into JSON data; throws NotSerializableError naming the path of the first unsupported part. */
export function serialize(value: unknown, path = 'value'): Json {
  // Primitives (most step results) never reach the cycle check: skip allocating its Set.
  return encode(value, path, typeof value === 'object' && value !== null ? new Set() : NO_OBJECTS);
}

const NO_OBJECTS = new Set<object>();

/** Rebuild a value written by {@link serialize}. */
export function deserialize(data: Json): unknown {
  return decode(data);
}

function encode(value: unknown, path: string, seen: Set<object>): Json {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value) && !Object.is(value, -0)) return value;
      // String(-0) is "0": spell the sign out, or -0 would come back as 0.
      return { [TAG]: 'Number', v: Object.is(value, -0) ? '-0' : String(value) };
    case 'undefined':
      return { [TAG]: 'undefined' };
    case 'bigint':
      return { [TAG]: 'BigInt', v: value.toString() };
    case 'function':
    case 'symbol':
      throw new NotSerializableError(path, `a ${typeof value}`);
    case 'object':
      return value === null ? null : encodeObject(value, path, seen);
  }
  throw new NotSerializableError(path, `a ${typeof value}`);
}

function encodeObject(value: object, path: string, seen: Set<object>): Json {
  if (seen.has(value)) throw new NotSerializableError(path, 'a circular reference');
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item, i) => encode(item, `${path}[${i}]`, seen));
    const proto = Object.getPrototypeOf(value) as object | null;
    if (proto === Object.prototype || proto === null) return encodePlain(value as Record<string, unknown>, path, seen);
    if (value instanceof Date) return { [TAG]: 'Date', v: Number.isNaN(value.getTime()) ? null : value.toISOString() };
    if (value instanceof Map) {
      return { [TAG]: 'Map', v: [...value].map(([k, v], i) => [encode(k, `${path}<key ${i}>`, seen), encode(v, `${path}<value ${i}>`, seen)]) };
    }
    if (value instanceof Set) return { [TAG]: 'Set', v: [...value].map((item, i) => encode(item, `${path}<${i}>`, seen)) };
    if (value instanceof Uint8Array && proto === Uint8Array.prototype) {
      return { [TAG]: 'Bytes', v: bytesToBase64(value) };
    }
    const custom = proto === null ? undefined : typesByPrototype.get(proto);
    if (custom !== undefined) return { [TAG]: `Type:${custom.name}`, v: encode(custom.encode(value), `${path}<${custom.name}>`, seen) };
    if (value instanceof Error) return { [TAG]: 'Error', v: serializeError(value) as unknown as Json };
    const className = (value as { constructor?: { name?: string } }).constructor?.name ?? 'unknown class';
    throw new NotSerializableError(path, `an instance of ${className}`);
  } finally {
    seen.delete(value);
  }
}

function encodePlain(value: Record<string, unknown>, path: string, seen: Set<object>): Json {
  const out: { [key: string]: Json } = {};
  for (const key of Object.keys(value)) out[key] = encode(value[key], `${path}.${key}`, seen);
  return Object.hasOwn(value, TAG) ? { [TAG]: 'Object', v: out } : out;
}

function decode(data: Json): unknown {
  if (data === null || typeof data !== 'object') return data;
  if (Array.isArray(data)) return data.map(decode);
  const tag = data[TAG];
  if (typeof tag !== 'string') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(data)) out[key] = decode(data[key] as Json);
    return out;
  }
  const payload = data.v as Json;
  switch (tag) {
    case 'undefined':
      return undefined;
    case 'Number':
      return Number(payload);
    case 'BigInt':
      return BigInt(payload as string);
    case 'Date':
      return new Date(payload === null ? Number.NaN : (payload as string));
    case 'Map':
      return new Map((payload as Json[][]).map(([k, v]) => [decode(k as Json), decode(v as Json)]));
    case 'Set':
      return new Set((payload as Json[]).map(decode));
    case 'Bytes':
      return base64ToBytes(payload as string);
    case 'Error':
      return deserializeError(payload);
    case 'Object': {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(payload as Record<string, Json>)) out[key] = decode(item);
      return out;
    }
  }
  if (tag.startsWith('Type:')) {
    const name = tag.slice(5);
    const custom = typesByName.get(name);
    if (custom === undefined) {
      throw new NotSerializableError(`a recorded ${name}`, `type ${JSON.stringify(name)}, which is not registered in this process`);
    }
    return custom.decode(decode(payload));
  }
  // Unknown tags are data from a newer Quest; keep them visible rather than guess.
  return data;
}

/** An error as recorded in a history. */
export interface SerializedError {
  name: string;
  message: string;
  /** The error's class name, when it differs from `name` (a subclass that does not set `name`). */
  class?: string;
  stack?: string;
  /** Own enumerable fields (e.g. `code`), serialized; fields that cannot be serialized are dropped. */
  fields?: { [key: string]: Json };
  cause?: SerializedError | Json;
}

/** Record an error: its class name, message, stack and own serializable fields. */
export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) {
    return { name: 'NonErrorThrown', message: safeString(error), fields: { value: trySerialize(error) ?? null } };
  }
  const out: SerializedError = { name: error.name, message: error.message };
  const className = error.constructor.name;
  if (className !== error.name && className !== '') out.class = className;
  if (error.stack !== undefined) out.stack = error.stack;
  const fields: { [key: string]: Json } = {};
  for (const key of Object.keys(error)) {
    if (key === 'name' || key === 'message' || key === 'stack' || key === 'cause') continue;
    const encoded = trySerialize((error as unknown as Record<string, unknown>)[key]);
    if (encoded !== undefined) fields[key] = encoded;
  }
  if (Object.keys(fields).length > 0) out.fields = fields;
  if (error.cause !== undefined) out.cause = error.cause instanceof Error ? serializeError(error.cause) : trySerialize(error.cause) ?? null;
  return out;
}

/**
 * Rebuild a recorded error as an instance of its class (registered with {@link registerError}, a built-in, or a
 * Quest error), without calling the class constructor, so constructors with required arguments are fine.
 */
export function deserializeError(data: unknown): Error {
  const recorded = data as SerializedError;
  const errorClass = (recorded.class === undefined ? undefined : errorClasses.get(recorded.class)) ?? errorClasses.get(recorded.name) ?? Error;
  const error = Object.create(errorClass.prototype as object) as Error;
  Object.defineProperty(error, 'message', { value: recorded.message, writable: true, configurable: true });
  if (error.name !== recorded.name) {
    Object.defineProperty(error, 'name', { value: recorded.name, writable: true, configurable: true });
  }
  if (recorded.stack !== undefined) {
    Object.defineProperty(error, 'stack', { value: recorded.stack, writable: true, configurable: true });
  }
  for (const [key, value] of Object.entries(recorded.fields ?? {})) {
    (error as unknown as Record<string, unknown>)[key] = decode(value);
  }
  if (recorded.cause !== undefined) {
    const cause = recorded.cause;
    const isError = typeof cause === 'object' && cause !== null && !Array.isArray(cause) && typeof cause.name === 'string' && typeof cause.message === 'string';
    Object.defineProperty(error, 'cause', { value: isError ? deserializeError(cause) : decode(cause as Json), writable: true, configurable: true });
  }
  return error;
}

function trySerialize(value: unknown): Json | undefined {
  try {
    return serialize(value);
  } catch {
    return undefined;
  }
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return '[unprintable value]';
  }
}

/** Base64 of bytes: Node's Buffer where there is one, else btoa (browsers: QuestClient runs there too). */
function bytesToBase64(bytes: Uint8Array): string {
  const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;
  if (NodeBuffer !== undefined) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** The bytes of a base64 string (see {@link bytesToBase64}). */
function base64ToBytes(text: string): Uint8Array {
  const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;
  if (NodeBuffer !== undefined) return new Uint8Array(NodeBuffer.from(text, 'base64'));
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}
