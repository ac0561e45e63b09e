/**
 * PostgreSQL itself restarts while several processes run the workflows of one store: the processes
 * reconnect (pool, group-commit writer, LISTEN connection) and every workflow finishes, with no completed
 * step run again. See postgres-processes.test.ts for the children.
 *
 * Restarting the server breaks every other client of it. So the test runs only when it can restart the
 * local server (pg_ctlcluster, as root) and no client other than its own is connected (a test file running
 * at the same time, another application), or when QUEST_PG_RESTART=1 says to anyway; otherwise it is
 * skipped with the reason. Its own connections are told apart by their application_name (`quest-...`).
 * node:test runs test files one at a time on this project's machines (concurrency = cores - 1); where it
 * runs them side by side, the check above skips this test rather than breaking the others.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { adminPool, describePostgres } from './postgres-support.js';
import { JOB_STEPS } from './lease-child.js';
import { spawnChild, startJobs, results, noCompletedStepRanTwice, until, withShared, REPORTED } from './postgres-processes-support.js';

// Every connection of this process names it (node-postgres reads PGAPPNAME when it connects).
process.env.PGAPPNAME = 'quest-restart-test';

/** Why the server cannot be restarted here, or undefined. */
async function cannotRestart(): Promise<{ reason?: string; version?: string }> {
  if (process.getuid?.() !== 0) return { reason: 'restarting PostgreSQL needs root (pg_ctlcluster)' };
  if (spawnSync('pg_ctlcluster', ['--help'], { stdio: 'ignore' }).error !== undefined) return { reason: 'pg_ctlcluster is not installed' };
  const { rows } = await adminPool().query<{ version: string }>("SELECT (current_setting('server_version_num')::int / 10000)::text AS version");
  const version = rows[0]?.version;
  if (process.env.QUEST_PG_RESTART === '1') return { version };
  const others = await adminPool().query<{ n: string }>(
    "SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND coalesce(application_name, '') NOT LIKE 'quest-%'",
  );
  const n = Number(others.rows[0]?.n);
  if (n > 0) return { reason: `${n} other client(s) are connected to PostgreSQL, which a restart would break (QUEST_PG_RESTART=1 restarts anyway)` };
  return { version };
}

describePostgres('PostgreSQL restarted under several processes', () => {
  test('the processes reconnect and every workflow finishes, no completed step run again', { timeout: 120_000 }, async (t) => {
    const { reason, version } = await cannotRestart();
    if (reason !== undefined) {
      t.skip(reason);
      return;
    }
    await withShared(async ({ schema, manager, children }) => {
      for (let i = 0; i < 2; i++) children.push(spawnChild(schema, 50));
      await Promise.all(children.map((child) => child.opened));
      const ids = await startJobs(schema, 100);
      await until(schema, REPORTED, (n) => n >= 100 && n <= 100 * JOB_STEPS - 200);
      const restart = spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', String(version), 'main', 'restart'], { encoding: 'utf8' });
      assert.equal(restart.status, 0, `pg_ctlcluster failed: ${restart.stderr}`);
      await results(manager, ids);
      const { reruns } = await noCompletedStepRanTwice(schema, 100);
      t.diagnostic(`${reruns} in-flight step(s) ran again after the restart`);
      for (const child of children) assert.equal(child.process.exitCode, null, `a child ended: ${child.stderr()}`);
    });
  });
});
