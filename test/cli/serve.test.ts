import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { QuestClient } from '../../src/client/client.js';
import { FIXTURE_MODULE, inTempDir, quest, serveFixture, type ServeProcess } from './support.js';

const TOKENS = { 'root-token-0001': { identity: 'root', roles: ['admin'] }, 'ann-token-0001': { identity: 'ann' }, 'bob-token-0001': { identity: 'bob' } };

describe('quest serve', () => {
  test('serves the module durably: tokens prove identities, SIGTERM exits 0, and the next serve resumes the workflow', async () => {
    await inTempDir(async (dir) => {
      const db = join(dir, 'app.sqlite');
      const tokens = join(dir, 'tokens.json');
      await writeFile(tokens, JSON.stringify(TOKENS));
      const serve = (...extra: string[]): Promise<ServeProcess> => serveFixture(db, '--tokens', tokens, ...extra);

      const first = await serve('--start', 'secrets', 's1');
      const ann = new QuestClient(first.url, { token: 'ann-token-0001' });
      const bob = new QuestClient(first.url, { token: 'bob-token-0001' });
      assert.deepEqual(await ann.whoami(), { identity: 'ann', roles: [] });
      await ann.waitForResource('s1', 'stop');
      await ann.queue<string>('s1', 'mailbox').put('from ann');
      assert.deepEqual((await bob.resources('s1')).map((r) => r.name).sort(), ['board', 'diary', 'stop']);
      await assert.rejects(bob.list(), { name: 'ForbiddenError' });
      // The dashboard's calls read the store; the page is served at /ui/ (503 "npm run build" when not built).
      const firstRoot = new QuestClient(first.url, { token: 'root-token-0001' });
      assert.ok((await firstRoot.history('s1')).items.some((item) => item.type === 'external'));
      assert.ok([200, 503].includes((await fetch(`${first.url}/ui/`)).status));
      assert.equal(await first.stop(), 0);

      const second = await serve('--no-dashboard');
      assert.equal((await fetch(`${second.url}/ui/`)).status, 404);
      const root = new QuestClient(second.url, { token: 'root-token-0001' });
      assert.equal((await root.list()).find((info) => info.id === 's1')?.status, 'running');
      const again = new QuestClient(second.url, { token: 'ann-token-0001' });
      await again.waitForResource('s1', 'mailbox');
      assert.equal(await again.queue<string>('s1', 'mailbox').size(), 1);
      await again.event('s1', 'stop').set();
      assert.equal(typeof (await again.getResult('s1')), 'number');
      assert.equal(await second.stop(), 0);
    });
  });

  test('--max-resident evicts the idle workflows beyond it (the server lists them not resident, and a put still applies); a value that is not a budget exits 2', async () => {
    await inTempDir(async (dir) => {
      const db = join(dir, 'app.sqlite');
      const tokens = join(dir, 'tokens.json');
      await writeFile(tokens, JSON.stringify(TOKENS));
      const bad = await quest('serve', FIXTURE_MODULE, '--db', db, '--port', '0', '--max-resident', '0');
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--max-resident must be a whole number/);

      const served = await serveFixture(db, '--tokens', tokens, '--max-resident', '1', '--max-resident-mib', 'Infinity');
      const root = new QuestClient(served.url, { token: 'root-token-0001' });
      const ann = new QuestClient(served.url, { token: 'ann-token-0001' });
      for (const id of ['s1', 's2', 's3']) {
        await root.start('secrets', id);
        await ann.waitForResource(id, 'stop');
      }
      let evicted: string[] = [];
      for (let tries = 0; tries < 1000 && evicted.length < 2; tries++) {
        evicted = (await root.list()).filter((info) => info.resident === false).map((info) => info.id);
      }
      assert.equal(evicted.length, 2, 'two of the three idle workflows are evicted');
      await ann.queue<string>(evicted[0] as string, 'mailbox').put('to a cold one');
      assert.equal(await ann.queue<string>(evicted[0] as string, 'mailbox').size(), 1);
      assert.equal(await served.stop(), 0);
    });
  });

  test('refuses two authentications at once, and development mode off loopback (exit 2)', async () => {
    await inTempDir(async (dir) => {
      const db = join(dir, 'app.sqlite');
      const both = await quest('serve', FIXTURE_MODULE, '--db', db, '--port', '0', '--tokens', 'x.json', '--jwt-secret', 'y'.repeat(40));
      assert.equal(both.code, 2);
      assert.match(both.stderr, /choose one/);
      const exposed = await quest('serve', FIXTURE_MODULE, '--db', db, '--port', '0', '--host', '0.0.0.0', '--dev-identity-header');
      assert.equal(exposed.code, 2);
      assert.match(exposed.stderr, /Development mode/);
    });
  });
});
