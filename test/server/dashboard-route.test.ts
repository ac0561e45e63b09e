/** The server's /ui/ route: the built files with a strict Content Security Policy, and a clear answer when not built. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startServer } from './support.js';

test('the dashboard directory is served at /ui/ with its content types and a CSP that allows this server only', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quest-ui-'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>t</title>');
  await writeFile(join(dir, 'app.js'), 'export {};');
  const served = await startServer({ dashboard: dir });
  try {
    const redirect = await served.server.app.request('/ui');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get('location'), '/ui/');
    const page = await served.server.app.request('/ui/');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/);
    assert.equal(await page.text(), '<!doctype html><title>t</title>');
    assert.match((await served.server.app.request('/ui/app.js')).headers.get('content-type') ?? '', /^text\/javascript/);
    assert.equal((await served.server.app.request('/ui/missing.js')).status, 404);
    assert.equal((await served.server.app.request('/ui/..%2Fpackage.json')).status, 404);
  } finally {
    await served.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a dashboard directory that was not built answers 503 saying how to build it; without the option there is no /ui', async () => {
  const unbuilt = await startServer({ dashboard: join(tmpdir(), 'quest-no-such-dashboard') });
  const none = await startServer();
  try {
    const answer = await unbuilt.server.app.request('/ui/');
    assert.equal(answer.status, 503);
    assert.match(await answer.text(), /npm run build/);
    assert.equal((await none.server.app.request('/ui/')).status, 404);
  } finally {
    await unbuilt.close();
    await none.close();
  }
});
