/**
 * One manager per store: a second WorkflowManager (in another process, or over the same store object) is
 * refused with StoreOwnedError naming the owner; an owner killed with SIGKILL is taken over; of several
 * processes taking over a dead owner at once, exactly one wins. Real child processes, real files.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isQuestError } from '../../src/core/errors.js';
import { WorkflowManager } from '../../src/manager/workflow-manager.js';
import { FileStore } from '../../src/storage/files.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import type { Store } from '../../src/storage/store.js';
import { workflows } from '../cli/fixtures/workflows.js';
import { FIXTURE_MODULE, inTempDir, prepareDatabase, quest, spawnQuest } from '../cli/support.js';

const RACE_CHILD = fileURLToPath(new URL('../storage/owner-race-child.ts', import.meta.url));

/** StoreOwnedError (or its text on stderr) naming process `pid` on this host. */
const namesOwner = (pid: number): RegExp => new RegExp(`StoreOwnedError: .*owned by another workflow manager \\(process ${pid} on ${hostname()} since \\d{4}-\\d\\d-\\d\\dT`);

/** A child of owner-race-child.ts, with its stdout lines. */
interface Racer {
  child: ChildProcessWithoutNullStreams;
  next(): Promise<string>;
}

function racer(kind: 'sqlite' | 'files', path: string): Racer {
  const child = spawn(process.execPath, ['--import', 'tsx', RACE_CHILD, kind, path], { stdio: ['pipe', 'pipe', 'pipe'] });
  let errors = '';
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    child,
    next: async () => {
      const line = await lines.next();
      if (line.done === true) throw new Error(`owner-race-child ended without a line: ${errors}`);
      return line.value;
    },
  };
}

/** Start `count` racers, let them all go at once, and return what each answered (they keep their stores). */
async function race(kind: 'sqlite' | 'files', path: string, count: number): Promise<{ racers: Racer[]; answers: string[] }> {
  const racers = Array.from({ length: count }, () => racer(kind, path));
  for (const one of racers) assert.equal(await one.next(), 'ready');
  for (const one of racers) one.child.stdin.write('go\n');
  return { racers, answers: await Promise.all(racers.map((one) => one.next())) };
}

async function kill(child: ChildProcessWithoutNullStreams): Promise<void> {
  const closed = once(child, 'close');
  child.kill('SIGKILL');
  await closed;
}

async function end(racers: readonly Racer[]): Promise<void> {
  await Promise.all(racers.map(async (one) => {
    const closed = once(one.child, 'close');
    one.child.stdin.end();
    await closed;
  }));
}

/** A racer that owns `path`, then is killed with SIGKILL: the store is left with a dead owner. */
async function leaveDeadOwner(kind: 'sqlite' | 'files', path: string): Promise<number> {
  const { racers, answers } = await race(kind, path, 1);
  assert.deepEqual(answers, ['won']);
  const [owner] = racers as [Racer];
  await kill(owner.child);
  return owner.child.pid ?? 0;
}

describe('one workflow manager per store', () => {
  test('SQLite: a manager in a second process is refused with the owner named; the first runs on untouched', { timeout: 300_000 }, () => inTempDir(async (directory) => {
    const db = join(directory, 'quest.sqlite');
    await prepareDatabase(db);
    const manager = await WorkflowManager.open({ store: await SqliteStore.open(db), workflows, inboxPollMs: 0 });
    try {
      const second = await quest('run', FIXTURE_MODULE, '--until-done', '--db', db);
      assert.equal(second.code, 1, second.stderr);
      assert.match(second.stderr, namesOwner(process.pid));
      // The first manager still owns the store and runs its workflows.
      await manager.queue<string>('c1', 'words', null).put('a');
      await manager.queue<string>('c1', 'words', null).put('b');
      assert.deepEqual(await manager.getResult('c1'), ['a', 'b']);
    } finally {
      await manager.close();
    }
  }));

  test('SQLite: after kill -9 of the owner (quest run), a new manager takes the store over and resumes', () => inTempDir(async (directory) => {
    const db = join(directory, 'quest.sqlite');
    await prepareDatabase(db);
    const runner = spawnQuest(['run', FIXTURE_MODULE, '--db', db]);
    const stderr = createInterface({ input: runner.stderr })[Symbol.asyncIterator]();
    for (let line = await stderr.next(); line.done !== true && !line.value.startsWith('quest: running'); line = await stderr.next());
    const store = await SqliteStore.open(db);
    assert.equal((await store.currentOwner())?.pid, runner.pid);
    await assert.rejects(WorkflowManager.open({ store, workflows, inboxPollMs: 0 }), (error: unknown) => namesOwner(runner.pid ?? 0).test(String(error)));
    await kill(runner);
    const manager = await WorkflowManager.open({ store, workflows, inboxPollMs: 0 });
    try {
      assert.equal((await store.currentOwner())?.pid, process.pid);
      await manager.queue<string>('c1', 'words', null).put('x');
      await manager.queue<string>('c1', 'words', null).put('y');
      assert.deepEqual(await manager.getResult('c1'), ['x', 'y']);
    } finally {
      await manager.close();
    }
  }));

  test('SQLite: closing the manager releases the store for the next one', () => inTempDir(async (directory) => {
    const db = join(directory, 'quest.sqlite');
    const first = await WorkflowManager.open({ store: await SqliteStore.open(db), workflows, inboxPollMs: 0 });
    await first.close();
    const store = await SqliteStore.openReadOnly(db);
    try {
      assert.equal(await store.currentOwner(), undefined);
    } finally {
      await store.close();
    }
    await (await WorkflowManager.open({ store: await SqliteStore.open(db), workflows, inboxPollMs: 0 })).close();
  }));

  for (const [name, make] of [
    ['MemoryStore', (): Promise<Store> => Promise.resolve(new MemoryStore())],
    ['FileStore', (directory: string): Promise<Store> => FileStore.open(join(directory, 'store'))],
  ] as const) {
    test(`${name}: a second manager over the same store is refused with the owner named, until the first closes`, () => inTempDir(async (directory) => {
      const store = await make(directory);
      const first = await WorkflowManager.open({ store, workflows, inboxPollMs: 0 });
      await first.start('collect', 'c1', 1);
      await first.waitForResource('c1', 'words', null);
      await assert.rejects(WorkflowManager.open({ store, workflows, inboxPollMs: 0 }), (error: unknown) => {
        assert.ok(isQuestError(error, 'STORE_OWNED'));
        assert.match(String(error), namesOwner(process.pid));
        return true;
      });
      // Refused before it resumed anything: the first manager alone runs c1.
      await first.queue<string>('c1', 'words', null).put('only');
      assert.deepEqual(await first.getResult('c1'), ['only']);
      await first.close();
    }));
  }

  test('FileStore: a second process is refused with the owner named; after kill -9 of the owner, the directory is taken over', () => inTempDir(async (directory) => {
    const path = join(directory, 'store');
    const { racers, answers } = await race('files', path, 1);
    const [owner] = racers as [Racer];
    try {
      assert.deepEqual(answers, ['won']);
      await assert.rejects(FileStore.open(path), (error: unknown) => namesOwner(owner.child.pid ?? 0).test(String(error)));
    } finally {
      await kill(owner.child);
    }
    const manager = await WorkflowManager.open({ store: await FileStore.open(path), workflows, inboxPollMs: 0 });
    await manager.close();
  }));

  for (const kind of ['sqlite', 'files'] as const) {
    test(`${kind}: of four processes taking over a dead owner at once, exactly one wins`, () => inTempDir(async (directory) => {
      const path = join(directory, kind === 'sqlite' ? 'quest.sqlite' : 'store');
      if (kind === 'sqlite') await (await SqliteStore.open(path)).close();
      const dead = await leaveDeadOwner(kind, path);
      const { racers, answers } = await race(kind, path, 4);
      try {
        const winners = racers.filter((_, n) => answers[n] === 'won');
        assert.equal(winners.length, 1, answers.join('\n'));
        const winner = winners[0]?.child.pid ?? 0;
        for (const answer of answers.filter((text) => text !== 'won')) {
          assert.match(answer, new RegExp(`^refused .*process ${winner} on `), `a loser names the winner, not the dead owner ${dead}`);
        }
      } finally {
        await end(racers);
      }
    }));
  }
});
