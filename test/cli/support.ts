/** Helpers of the CLI tests: a database prepared by a test manager, running `quest` (and temp directories, from ../helpers.ts). */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { WorkflowManager } from '../../src/manager/workflow-manager.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { workflows } from './fixtures/workflows.js';

/** The fixture module, for `quest run`. */
export const FIXTURE_MODULE = 'test/cli/fixtures/workflows.ts';

export { inTempDir } from '../helpers.js';

/**
 * A database with, all by the fixture workflows:
 * - s1 (secrets, running): public state board = 'updated' (set from outside), ann's queue mailbox holding
 *   'hi ann', bob's state diary = 'bob-secret', a step whose 5 inner records were pruned (seqs 4-8), waiting
 *   for the public event stop;
 * - c1 (collect 2 words, running): waiting on the public queue words;
 * - q1 (quick, completed with { a: 1 }); f1 (fails, failed with Error boom);
 * - p1 (parsing, versioned parser 2, running): waiting on the public queue words.
 */
export async function prepareDatabase(path: string): Promise<void> {
  const manager = await WorkflowManager.open({ store: await SqliteStore.open(path), workflows, inboxPollMs: 0 });
  try {
    await manager.start('secrets', 's1');
    await manager.waitForResource('s1', 'stop', null);
    await manager.queue<string>('s1', 'mailbox', 'ann').put('hi ann');
    await manager.state<string>('s1', 'board', null).set('updated');
    await manager.start('collect', 'c1', 2);
    await manager.waitForResource('c1', 'words', null);
    await (await manager.start('quick', 'q1', { a: 1 })).result();
    await (await manager.start('fails', 'f1')).result().catch(() => undefined);
    await manager.start('parsing', 'p1');
    await manager.waitForResource('p1', 'words', null);
  } finally {
    await manager.close();
  }
}

/** What a finished `quest` run printed. */
export interface QuestRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Spawn `node --import tsx src/cli/main.ts ...args` (QUEST_DB unset unless `env` sets it: tests pass --db;
 * SQLITE_USE_URI unset too, so that the command sets it as it does for users).
 */
export function spawnQuest(args: readonly string[], env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  const environment = { ...process.env };
  delete environment['QUEST_DB'];
  delete environment['SQLITE_USE_URI'];
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...environment, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Run `quest ...args` to its end. */
export function quest(...args: string[]): Promise<QuestRun> {
  return questWithEnv({}, ...args);
}

/** Run `quest ...args` to its end with more environment variables. */
export function questWithEnv(env: Record<string, string>, ...args: string[]): Promise<QuestRun> {
  const child = spawnQuest(args, env);
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The lines a child writes on stdout, as they come. */
export function linesOf(child: ChildProcessWithoutNullStreams): AsyncIterableIterator<string> {
  return createInterface({ input: child.stdout })[Symbol.asyncIterator]();
}

/** A running `quest serve`: its URL, and how to stop it (SIGTERM; resolves with the exit code). */
export interface ServeProcess {
  url: string;
  stop(): Promise<number | null>;
}

/** `quest serve <fixture module> --db <db> --port 0 --json ...extra`, once it listens. */
export async function serveFixture(db: string, ...extra: string[]): Promise<ServeProcess> {
  const child = spawnQuest(['serve', FIXTURE_MODULE, '--db', db, '--port', '0', '--json', ...extra]);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const first = await linesOf(child).next();
  assert.equal(first.done, false, stderr);
  const { url } = JSON.parse(first.value as string) as { url: string };
  return {
    url,
    stop: async () => {
      const closed = once(child, 'close');
      child.kill('SIGTERM');
      return ((await closed) as [number | null])[0];
    },
  };
}
