import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowManager, event, isQuestError, step } from '../../src/index.js';
import { FileStore, fileNameFor } from '../../src/storage/files.js';
import { rejection, until } from './support.js';

const directory = mkdtempSync(join(tmpdir(), 'quest-damage-'));
after(() => rmSync(directory, { recursive: true, force: true }));
let stores = 0;

/** A workflow of ten steps that then waits for event 'go'; `runs` counts the step executions per workflow. */
function tenSteps(runs: Map<string, number>) {
  const work = step('work', async (id: string, n: number) => {
    runs.set(id, (runs.get(id) ?? 0) + 1);
    return n * 10;
  });
  return {
    tenSteps: async (id: string): Promise<number> => {
      let total = 0;
      for (let n = 1; n <= 10; n++) total += await work(id, n);
      await using go = await event('go', null);
      await go.wait();
      return total;
    },
  };
}

/** Ways a history log is damaged while no process has the store open. */
const damages: Record<string, (log: string) => Promise<void>> = {
  'a digit of a recorded result changed': async (log) => {
    const text = await readFile(log, 'utf8');
    assert.ok(text.includes('"result":50'));
    await writeFile(log, text.replace('"result":50', '"result":90'));
  },
  'the log cut in half': async (log) => {
    const bytes = await readFile(log);
    await truncate(log, Math.floor(bytes.length / 2));
  },
  'the log deleted': (log) => rm(log),
  'the log emptied': (log) => writeFile(log, ''),
};

describe('WorkflowManager over a damaged history', () => {
  for (const [damage, apply] of Object.entries(damages)) {
    test(`${damage}: the workflow is not run, list() shows it damaged, the logger hears of it, others run`, async () => {
      const path = join(directory, `store-${++stores}`);
      const runs = new Map<string, number>();
      const first = await WorkflowManager.open({ store: await FileStore.open(path), workflows: tenSteps(runs) });
      await first.start('tenSteps', 'hurt', 'hurt');
      await first.start('tenSteps', 'fine', 'fine');
      await first.waitForResource('hurt', 'go', null);
      await first.waitForResource('fine', 'go', null);
      await first.close();
      const log = join(path, 'histories', `${fileNameFor('hurt')}.log`);
      await apply(log);

      runs.clear();
      const warnings: Array<[Record<string, unknown>, ...unknown[]]> = [];
      const logger = { warn: (...args: unknown[]) => void warnings.push(args as [Record<string, unknown>, ...unknown[]]) };
      const second = await WorkflowManager.open({ store: await FileStore.open(path), workflows: tenSteps(runs), logger });
      try {
        await second.waitForResource('fine', 'go', null);
        await until(async () => (await second.list()).find((w) => w.id === 'hurt')?.status === 'damaged');
        const hurt = (await second.list()).find((w) => w.id === 'hurt');
        assert.equal(hurt?.status, 'damaged');
        assert.match(hurt?.error ?? '', /^Corrupt history of workflow "hurt" \(file .*hurt~[0-9a-f]+\.log, byte \d+\)/);
        assert.ok(isQuestError(await rejection(second.getResult('hurt')), 'CORRUPT_HISTORY'));
        // Not run, not restarted from scratch: no step of it executed again.
        assert.equal(runs.get('hurt'), undefined);
        const warned = warnings.find(([fields]) => fields.workflow === 'hurt');
        assert.ok(warned !== undefined, 'the logger received the damage');
        assert.ok(isQuestError(warned[0].err, 'CORRUPT_HISTORY'));
        // The other workflow resumed by replay and finishes normally.
        await second.event('fine', 'go', null).set();
        assert.equal(await second.getResult('fine'), 550);
        assert.equal(runs.get('fine'), undefined);
      } finally {
        await second.close();
      }
    });
  }
});
