/**
 * Makes a benchmark measure the compiled package (dist/, what users install) instead of the TypeScript sources:
 *
 *   npm run build:package && node --import tsx --import ./bench/compiled/register.mjs bench/scale.ts
 *
 * The benchmarks import `../src/...`; with this hook those imports load the matching files of dist/ (the
 * benchmark's own code still runs through tsx). Why it matters: tsx transforms the sources with esbuild's
 * keepNames, among others, and one-step workflows through the manager cost about 135,000 instructions each when
 * loaded that way against 80,000 compiled (callgrind, memory store): a rate measured through tsx is not the rate
 * users get. Run the same command without this `--import` to measure the sources as they are.
 */
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
