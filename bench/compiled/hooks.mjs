/** Module hooks of ./register.mjs: a module of src/ resolves to its compiled file in dist/. */
import { existsSync } from 'node:fs';
import { URL, fileURLToPath } from 'node:url';

const sources = new URL('../../src/', import.meta.url).href;
const compiled = new URL('../../dist/', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  if (!resolved.url.startsWith(sources) || !resolved.url.endsWith('.ts')) return resolved;
  const url = `${compiled}${resolved.url.slice(sources.length, -'.ts'.length)}.js`;
  if (!existsSync(fileURLToPath(url))) {
    throw new Error(`${url} is missing: build the package first (npm run build:package), or run without bench/compiled/register.mjs to measure the sources.`);
  }
  return { ...resolved, url, format: 'module' };
}
