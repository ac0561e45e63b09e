/**
 * A manager keeps its process alive while a workflow runs: a script whose workflow waits for an inbox event
 * does not end at once (exit 13, an unsettled top-level await) but receives the event from another process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SqliteStore } from '../../src/storage/sqlite.js';

const CHILD = fileURLToPath(new URL('./inbox-child.ts', import.meta.url));

test('a process whose workflow waits for an inbox event stays alive, receives it from another process and finishes', { timeout: 120_000 }, async () => {
  const directory = await mkdtemp(join(tmpdir(), 'quest-lifetime-'));
  try {
    const database = join(directory, 'app.sqlite');
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, database], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    assert.equal((await lines.next()).value, 'ready', stderr);
    // This test process is the sender: it posts to the inbox of the same database, as `quest send` does.
    const sender = await SqliteStore.open(database);
    let id: number;
    try {
      id = await sender.postEvent({ workflowId: 'greeter', resource: 'names', identity: null, action: 'put', args: ['ann'] });
    } finally {
      await sender.close();
    }
    assert.equal((await lines.next()).value, 'hello ann', stderr);
    assert.equal(await exited, 0, stderr);
    const reader = await SqliteStore.open(database);
    try {
      assert.equal((await reader.eventOutcome(id))?.status, 'applied');
    } finally {
      await reader.close();
    }
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
