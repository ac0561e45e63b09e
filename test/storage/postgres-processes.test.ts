/**
 * Many OS processes share the workflows of one PostgreSQL schema (WorkflowLeases): children running
 * test/storage/lease-child.ts claim the `job` workflows this process starts (its own manager runs none:
 * maxWorkflows 0, so its getResult() waits for other processes through NOTIFY). Step executions are counted
 * in a side table, so that a completed step that ran again would show; a trigger records who wrote each
 * history record and entry, so that a write by a process that did not own the workflow would show.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quoteIdentifier } from '../../src/storage/postgres/migrations.js';
import { adminPool, describePostgres } from './postgres-support.js';
import {
  REPORTED_BY,
  everyWriteByItsOwner,
  logWrites,
  noCompletedStepRanTwice,
  results,
  spawnChild,
  startJobs,
  until,
  withShared,
  type Child,
} from './postgres-processes-support.js';

describePostgres('many processes share the workflows of one PostgreSQL store', () => {
  test('three processes share 300 workflows; one killed with SIGKILL mid-run: all finish on the other two, no completed step runs again', { timeout: 120_000 }, async (t) => {
    await withShared(async ({ schema, manager, children }) => {
      for (let i = 0; i < 3; i++) children.push(spawnChild(schema, 40));
      await Promise.all(children.map((child) => child.opened));
      await logWrites(schema);
      const ids = await startJobs(schema, 300);
      const victim = children[0]!;
      await until(schema, REPORTED_BY, (n) => n >= 60, [victim.process.pid]);
      victim.process.kill('SIGKILL');
      assert.deepEqual(await victim.ended, [null, 'SIGKILL']);
      await results(manager, ids);
      const { reruns } = await noCompletedStepRanTwice(schema, 300);
      await everyWriteByItsOwner(schema);
      const s = quoteIdentifier(schema);
      const { rows } = await adminPool().query<{ n: string }>(
        `SELECT count(DISTINCT workflow) AS n FROM ${s}.step_log WHERE pid <> $1 AND workflow IN (SELECT workflow FROM ${s}.step_log WHERE pid = $1)`,
        [victim.process.pid],
      );
      assert.ok(Number(rows[0]?.n) > 0, 'the killed process\'s workflows went on elsewhere');
      t.diagnostic(`${rows[0]?.n} workflow(s) of the killed process continued elsewhere; ${reruns} in-flight step(s) ran again`);
    });
  });

  test('a process paused (SIGSTOP) past its lease writes nothing more to the workflows taken from it once it goes on (SIGCONT)', { timeout: 120_000 }, async (t) => {
    await withShared(async ({ schema, manager, children }) => {
      for (let i = 0; i < 2; i++) children.push(spawnChild(schema, 60));
      // Which process writes each history record and entry: the children's application_name says (see spawnChild).
      await Promise.all(children.map((child) => child.opened));
      await logWrites(schema);
      const ids = await startJobs(schema, 100);
      const [paused, other] = children as [Child, Child];
      const pid = paused.process.pid!;
      await until(schema, REPORTED_BY, (n) => n >= 20, [pid]);
      paused.process.kill('SIGSTOP');
      // Every unfinished workflow the paused process held goes to the other one.
      await until(schema, "SELECT count(*) AS n FROM :SCHEMA.workflows WHERE state = 'running' AND owner LIKE $1", (n) => n === 0, [`%/${pid}/%`]);
      const s = quoteIdentifier(schema);
      const { rows: marks } = await adminPool().query<{ id: string }>(`INSERT INTO ${s}.step_log (pid, workflow, kind) VALUES (0, '', 'resume') RETURNING id::text AS id`);
      const mark = Number(marks[0]?.id);
      paused.process.kill('SIGCONT');
      await results(manager, ids);
      await noCompletedStepRanTwice(schema, 100, { pid, mark });
      await everyWriteByItsOwner(schema);
      const { rows: counted } = await adminPool().query<{ n: string }>(`SELECT count(*) AS n FROM ${s}.writes WHERE app = $1`, [`quest-child-${pid}`]);
      assert.ok(Number(counted[0]?.n) > 0, 'the writes of the paused process were seen');
      assert.ok(paused.lines.some((line) => line.startsWith('warn ') && /lease/i.test(line)), `no lost lease reported: ${paused.lines.join('\n')}`);
      // It lives on and closes cleanly.
      paused.process.kill('SIGTERM');
      assert.deepEqual(await paused.ended, [0, null], paused.stderr());
      const { rows: moved } = await adminPool().query<{ n: string }>(
        `SELECT count(DISTINCT workflow) AS n FROM ${s}.step_log WHERE pid = $1 AND id > $2 AND workflow IN (SELECT workflow FROM ${s}.step_log WHERE pid = $3 AND id < $2)`,
        [other.process.pid, mark, pid],
      );
      t.diagnostic(`${moved[0]?.n} workflow(s) of the paused process went on in the other one`);
    });
  });

  test('a rolling restart of every process, one at a time, under load loses nothing', { timeout: 120_000 }, async () => {
    await withShared(async ({ schema, manager, children }) => {
      for (let i = 0; i < 3; i++) children.push(spawnChild(schema, 40));
      await Promise.all(children.map((child) => child.opened));
      await logWrites(schema);
      const ids = await startJobs(schema, 300);
      for (let i = 0; i < 3; i++) {
        const old = children[i]!;
        await until(schema, REPORTED_BY, (n) => n >= 20, [old.process.pid]);
        old.process.kill('SIGTERM');
        assert.deepEqual(await old.ended, [0, null], old.stderr());
        const fresh = spawnChild(schema, 40);
        children.push(fresh);
        await fresh.opened;
      }
      await results(manager, ids);
      await noCompletedStepRanTwice(schema, 300);
      await everyWriteByItsOwner(schema);
    });
  });
});
