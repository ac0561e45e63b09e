import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WorkflowManager } from '../../src/index.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { Declined, countingWorkflows, executions, orderWorkflows } from './fixtures.js';
import { StoreView, rejection } from './support.js';

const directory = mkdtempSync(join(tmpdir(), 'quest-manager-'));
after(() => rmSync(directory, { recursive: true, force: true }));
let files = 0;
const fresh = (name: string): string => join(directory, `${name}-${++files}`);

describe('WorkflowManager across restarts', () => {
  test('results survive a manager restart (SQLite), and unfinished workflows resume without re-running steps', async () => {
    const database = fresh('results.sqlite');
    const runs: Record<string, number> = {};
    const workflows = countingWorkflows(runs);
    const before = await WorkflowManager.open({ store: new SqliteStore(database), workflows });
    await before.start('double', 'd1', 21);
    await before.start('decline', 'x1', 'card expired');
    await before.start('twoSteps', 't1', 1);
    assert.equal(await before.getResult('d1'), 42);
    await assert.rejects(before.getResult('x1'), Declined);
    await before.waitForResource('t1', 'go', null);
    await before.close();
    assert.deepEqual(runs, { first: 1 });

    const after = await WorkflowManager.open({ store: new SqliteStore(database), workflows });
    assert.equal(await after.getResult('d1'), 42);
    const declined = await rejection(after.getResult('x1'));
    assert.ok(declined instanceof Declined, 'a stored failure is rebuilt as its class');
    assert.equal(declined.message, 'card expired');
    assert.deepEqual(
      (await after.list()).map(({ id, status }) => [id, status]),
      [['d1', 'completed'], ['x1', 'failed'], ['t1', 'running']],
    );
    await after.event('t1', 'go', null).set();
    assert.equal(await after.getResult('t1'), 3);
    assert.deepEqual(runs, { first: 1, second: 1 }, 'the completed step was replayed, not run again');
    await after.close();
  });

  test('a workflow whose start resolved survives a crash right after it (simulated in-process)', async () => {
    const shared = new MemoryStore();
    const runs: Record<string, number> = {};
    const workflows = countingWorkflows(runs);
    const crashing = new StoreView(shared);
    const before = await WorkflowManager.open({ store: crashing, workflows });
    await before.start('twoSteps', 't1', 10);
    crashing.crash(); // nothing of `before` reaches the store from here on

    const after = await WorkflowManager.open({ store: new StoreView(shared), workflows });
    await after.waitForResource('t1', 'go', null);
    await after.event('t1', 'go', null).set();
    assert.equal(await after.getResult('t1'), 12);
    assert.ok((runs['first'] ?? 0) <= 2 && runs['second'] === 1);
    await after.close();
    // The crashed "process" still holds its workflow in memory (a manager keeps its process alive while one
    // runs): stop it, so that this test process can exit. Nothing of it reaches the store.
    await before.close().catch(() => undefined);
  });

  test('a graceful close loses nothing: the next manager continues each workflow where it was', async () => {
    const shared = new MemoryStore();
    const runs: Record<string, number> = {};
    const workflows = countingWorkflows(runs);
    const view = new StoreView(shared);
    const before = await WorkflowManager.open({ store: view, workflows });
    for (const id of ['a', 'b', 'c']) await before.start('twoSteps', id, 0);
    await before.event('b', 'go', null).set();
    assert.equal(await before.getResult('b'), 2);
    for (const id of ['a', 'c']) await before.waitForResource(id, 'go', null);
    await before.close();
    assert.ok(view.closed, 'close() closes the store');
    assert.deepEqual((await shared.listWorkflows('running')).map(({ id }) => id), ['a', 'c']);

    const after = await WorkflowManager.open({ store: new StoreView(shared), workflows });
    for (const id of ['a', 'c']) await after.event(id, 'go', null).set();
    assert.deepEqual([await after.getResult('a'), await after.getResult('b'), await after.getResult('c')], [2, 2, 2]);
    assert.deepEqual(runs, { first: 3, second: 3 });
    await after.close();
  });

  test('a workflow type that is no longer registered stays suspended, and resumes when it is back', async () => {
    const shared = new MemoryStore();
    const runs: Record<string, number> = {};
    const workflows = countingWorkflows(runs);
    const before = await WorkflowManager.open({ store: new StoreView(shared), workflows });
    await before.start('twoSteps', 't1', 0);
    await before.waitForResource('t1', 'go', null);
    await before.close();

    const warnings: unknown[] = [];
    const without = await WorkflowManager.open({
      store: new StoreView(shared),
      workflows: { double: workflows.double },
      logger: { warn: (...args: unknown[]) => void warnings.push(args) },
    });
    assert.equal(warnings.length, 1);
    const [info] = await without.list();
    assert.equal(info?.status, 'suspended');
    assert.match(info?.error ?? '', /twoSteps/);
    await assert.rejects(without.getResult('t1'), { code: 'UNKNOWN_WORKFLOW_TYPE' });
    await without.close();

    const back = await WorkflowManager.open({ store: new StoreView(shared), workflows });
    await back.event('t1', 'go', null).set();
    assert.equal(await back.getResult('t1'), 2);
    await back.close();
  });

  describe('killed with SIGKILL (a real process)', () => {
    test('a workflow whose start() resolved is resumed by the next manager', async () => {
      const database = fresh('started.sqlite');
      const log = fresh('started.log');
      await runAndKill(database, log, 'started');
      const manager = await WorkflowManager.open({ store: new SqliteStore(database), workflows: orderWorkflows(log) });
      // Opening the event was not durable yet when the process died: the resumed run opens it again.
      await manager.waitForResource('o1', 'go', null);
      await manager.event('o1', 'go', null).set();
      assert.equal(await manager.getResult('o1'), 'reserved book, shipped');
      await manager.close();
    });

    test('completed steps are not run again after the crash', async () => {
      const database = fresh('waiting.sqlite');
      const log = fresh('waiting.log');
      await runAndKill(database, log, 'waiting');
      assert.deepEqual(executions(log), { reserve: 1 });
      const manager = await WorkflowManager.open({ store: new SqliteStore(database), workflows: orderWorkflows(log) });
      // Opening the event was not durable yet when the process died: the resumed run opens it again.
      await manager.waitForResource('o1', 'go', null);
      await manager.event('o1', 'go', null).set();
      assert.equal(await manager.getResult('o1'), 'reserved book, shipped');
      assert.deepEqual(executions(log), { reserve: 1, ship: 1 });
      await manager.close();
    });
  });
});

/** Run crash-child.ts until it prints `mode`, then kill it with SIGKILL. */
async function runAndKill(database: string, log: string, mode: 'started' | 'waiting'): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./crash-child.ts', import.meta.url)), database, log, mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(`${mode}\n`)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`crash-child exited early with code ${String(code)}`)));
  });
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
}
