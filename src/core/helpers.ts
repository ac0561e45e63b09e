/** Small conveniences around steps and suspension. */
import { requireContext } from './context.js';
import { step } from './step.js';

/** The methods of `T` that return promises, as steps. */
export type Stepped<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : T[K];
};

/**
 * Wrap every public method of `object` (own and inherited, excluding the constructor and names starting with
 * `_`) as a step named `prefix.method`, bound to the object. Useful for a client whose every call is a side
 * effect.
 *
 * @example
 * const mail = wrapSteps(new MailClient(), 'mail');
 * await mail.send('ann@example.com', 'Welcome');   // a step named "mail.send"
 */
export function wrapSteps<T extends object>(object: T, prefix: string = object.constructor.name): Stepped<T> {
  const wrapped: Record<string, unknown> = {};
  for (const name of methodNames(object)) {
    const method = (object as Record<string, unknown>)[name] as (...args: unknown[]) => unknown;
    wrapped[name] = step(`${prefix}.${name}`, (...args: unknown[]) => method.apply(object, args));
  }
  return wrapped as Stepped<T>;
}

function methodNames(object: object): Set<string> {
  const names = new Set<string>();
  for (let proto: object | null = object; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor' || name.startsWith('_')) continue;
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      if (descriptor !== undefined && typeof descriptor.value === 'function') names.add(name);
    }
  }
  return names;
}

/**
 * An AbortSignal that aborts when the workflow is suspended or fails, or when the enclosing step's
 * `timeoutMs` passes (its reason is then the TimeoutError). Pass it to fetch() and other
 * cancellable calls inside steps, so a suspended step stops its work instead of running on unobserved.
 *
 * @example
 * const load = step('load', async (url: string) => (await fetch(url, { signal: abortSignal() })).json());
 */
export function abortSignal(): AbortSignal {
  const context = requireContext('abortSignal()');
  return context.signal ?? context.run.abortSignal;
}
