/**
 * `quest resources` and `quest send` read the stored history: they see what a workflow waits on while the
 * process running it is still up (a waiting workflow's records are durable, see test/storage/waiting.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { WorkflowManager } from '../../src/manager/workflow-manager.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { untilSettled } from '../helpers.js';
import { workflows } from './fixtures/workflows.js';
import { inTempDir, quest } from './support.js';

/** Whether the database's stored history of `id` has opened resource `name` (read by another connection). */
async function storedOpen(db: string, id: string, name: string): Promise<boolean> {
  const reader = await SqliteStore.open(db);
  try {
    return (await reader.history(id).load()).some((record) => record.type === 'resource_open' && record.resource.name === name);
  } finally {
    await reader.close();
  }
}

test('quest resources and quest send see the queue of a workflow waiting in a running manager', () =>
  inTempDir(async (directory) => {
    const db = join(directory, 'quest.sqlite');
    const manager = await WorkflowManager.open({ store: await SqliteStore.open(db), workflows, inboxPollMs: 0 });
    try {
      await manager.start('collect', 'c1', 2);
      await manager.waitForResource('c1', 'words', null);
      // Nothing else happens: the workflow waiting in its get is what writes the queue's opening.
      await untilSettled(() => storedOpen(db, 'c1', 'words'));

      const shown = await quest('resources', 'c1', '--db', db);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /words\s+public\s+queue\s+empty/);
      const sent = await quest('send', 'c1', 'words', 'put', '"hello"', '--db', db);
      assert.equal(sent.code, 0, sent.stderr);
      assert.doesNotMatch(sent.stderr, /warning/, 'the queue is in the stored history: nothing to warn about');
    } finally {
      await manager.close();
    }
  }));
