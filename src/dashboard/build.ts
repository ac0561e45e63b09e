/**
 * Builds the dashboard (src/dashboard/ui) into a directory a QuestServer serves at `/ui/`: index.html,
 * app.js (one esbuild bundle of Preact, the page and Quest's client) and app.css. Run by `npm run build`
 * (scripts/build-dashboard.ts, into dist/dashboard-ui) and by the browser tests (into a temporary directory),
 * so that tests never depend on a prior build. Nothing is fetched at run time: the page works offline.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

/** The page's sources. */
const UI = fileURLToPath(new URL('./ui/', import.meta.url));

/** Options of {@link buildDashboard}. */
export interface DashboardBuildOptions {
  /** Minify app.js (default true). */
  minify?: boolean;
}

/**
 * Build the dashboard into `outDir` (created if missing). Resolves with the files written.
 *
 * @example
 * await buildDashboard('dist/dashboard-ui');
 * new QuestServer(manager, { dashboard: 'dist/dashboard-ui', store });
 */
export async function buildDashboard(outDir: string, options: DashboardBuildOptions = {}): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: [join(UI, 'main.tsx')],
    outfile: join(outDir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: options.minify ?? true,
    legalComments: 'none',
    logLevel: 'silent',
    // The client loads `ws` only where there is no global WebSocket: never in a browser.
    external: ['ws'],
    plugins: [browserCrypto],
  });
  await copyFile(join(UI, 'index.html'), join(outDir, 'index.html'));
  await copyFile(join(UI, 'app.css'), join(outDir, 'app.css'));
  return ['index.html', 'app.js', 'app.css'].map((name) => join(outDir, name));
}

/**
 * core/resources.ts (shared with the server for the resource kinds' actions) imports `randomUUID` from
 * node:crypto; in the browser the Web Crypto API's one stands in (the page never calls it: fresh ids are
 * made by the server).
 */
const browserCrypto: Plugin = {
  name: 'browser-crypto',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^node:crypto$/ }, () => ({ path: 'node:crypto', namespace: 'browser-crypto' }));
    pluginBuild.onLoad({ filter: /.*/, namespace: 'browser-crypto' }, () => ({
      contents: 'export const randomUUID = () => globalThis.crypto.randomUUID();',
      loader: 'js',
    }));
  },
};
