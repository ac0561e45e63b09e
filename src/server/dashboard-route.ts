/**
 * Serves the dashboard's built files (index.html, app.js, app.css: made by src/dashboard/build.ts) at `/ui/`.
 * The files are read once, when the server is made, and served from memory with a strict Content Security
 * Policy: the page loads nothing but its own files and talks to this server only.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Env, Hono } from 'hono';

/** The path the dashboard is served at. */
export const DASHBOARD_PATH = '/ui';

/**
 * Where `npm run build` puts the dashboard: dist/dashboard-ui, beside dist/server (the package), or, for a
 * server run from the sources (src/server) of a built clone, the clone's dist/dashboard-ui.
 */
export function builtDashboardDirectory(): string {
  const beside = fileURLToPath(new URL('../dashboard-ui/', import.meta.url));
  const ofClone = fileURLToPath(new URL('../../dist/dashboard-ui/', import.meta.url));
  return !existsSync(join(beside, 'index.html')) && existsSync(join(ofClone, 'index.html')) ? ofClone : beside;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

const POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Mount the dashboard of `directory` on `app`. A directory without index.html (the package was not built)
 * answers 503 with what to do, so that a server from sources still starts.
 */
export function mountDashboard<E extends Env>(app: Hono<E>, directory: string): void {
  const files = new Map<string, { body: Buffer; type: string }>();
  if (existsSync(join(directory, 'index.html'))) {
    for (const name of readdirSync(directory)) {
      const type = TYPES[name.slice(name.lastIndexOf('.'))];
      if (type !== undefined) files.set(name, { body: readFileSync(join(directory, name)), type });
    }
  }
  app.get(DASHBOARD_PATH, (c) => c.redirect(`${DASHBOARD_PATH}/`, 301));
  app.get(`${DASHBOARD_PATH}/:file{[A-Za-z0-9._-]*}`, (c) => {
    if (files.size === 0) {
      return c.text(`The dashboard is not built in ${directory}: run \`npm run build\` (or pass QuestServerOptions.dashboard a directory built by buildDashboard()).`, 503);
    }
    const file = files.get(c.req.param('file') || 'index.html');
    if (file === undefined) return c.text('Not found', 404);
    c.header('content-type', file.type);
    c.header('content-security-policy', POLICY);
    c.header('x-content-type-options', 'nosniff');
    c.header('cache-control', 'no-cache');
    return c.body(new Uint8Array(file.body));
  });
}
