/**
 * Leases per owner on PostgreSQL: a workflow's lease is its owner's (table `owners`), so a heartbeat renews one
 * row whatever the number of workflows the process holds; leases taken from an owner (claims after it expired,
 * ends and deletions by another process) reach it through `lease_losses` at its next renewal. Two store
 * objects over one schema stand for two processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { isQuestError } from '../../src/core/errors.js';
import { PostgresStore } from '../../src/storage/postgres/index.js';
import { quoteIdentifier } from '../../src/storage/postgres/migrations.js';
import { entry, record } from './conformance.js';
import { PG_URL, adminPool, describePostgres, dropSchema, freshSchema, schemaAtVersion } from './postgres-support.js';

const LONG = 60_000;
const open = (schema: string) => PostgresStore.open({ connectionString: PG_URL, schema, poolSize: 2 });
const isLeaseLost = (error: unknown): boolean => isQuestError(error, 'LEASE_LOST');

/** Two stores (two processes) over a fresh schema, dropped afterwards. */
async function withPair(body: (a: PostgresStore, b: PostgresStore, schema: string) => Promise<void>): Promise<void> {
  const schema = freshSchema('own');
  const a = await open(schema);
  const b = await open(schema);
  try {
    await body(a, b, schema);
  } finally {
    await Promise.allSettled([a.close(), b.close()]);
    await dropSchema(schema);
  }
}

/** Claim `ids` through `store` as `owner` once their owner's lease expired on the server's clock (a 1 ms one). */
async function claimWhenExpired(store: PostgresStore, owner: string, ids: string[]): Promise<number[]> {
  for (;;) {
    const leases = await store.claimWorkflows({ owner, leaseMs: LONG, limit: ids.length, ids });
    if (leases.length === ids.length) return leases.map((lease) => lease.epoch);
    assert.equal(leases.length, 0, 'the lease of an owner expires for all of its workflows at once');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describePostgres('postgres leases per owner', () => {
  test('a renewal updates no workflow row: one owner row, whatever the number of workflows held', () => withPair(async (a, _b, schema) => {
    const s = quoteIdentifier(schema);
    await adminPool().query(
      `INSERT INTO ${s}.workflows (id, state, started_at, type, body, history_rows) SELECT 'w' || g, 'running', g, 't', ` +
        `json_build_object('id', 'w' || g, 'type', 't', 'args', json_build_array(), 'state', 'running', 'startedAt', g, 'deleteOnFinish', false)::text, 0 ` +
        'FROM generate_series(1, 500) AS g',
    );
    assert.equal((await a.claimWorkflows({ owner: 'A', leaseMs: LONG, limit: 500 })).length, 500);
    // Every update of a workflow row from now on leaves a line here.
    await adminPool().query(`
      CREATE TABLE ${s}.workflow_updates (id text);
      CREATE FUNCTION ${s}.log_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO ${s}.workflow_updates VALUES (NEW.id); RETURN NULL; END $$;
      CREATE TRIGGER log_update AFTER UPDATE ON ${s}.workflows FOR EACH ROW EXECUTE FUNCTION ${s}.log_update();
    `);
    const before = await adminPool().query<{ lease_until: string }>(`SELECT lease_until::text FROM ${s}.owners WHERE owner = 'A'`);
    const kept = await a.renewLeases('A', LONG * 2);
    assert.equal(kept.length, 500);
    const { rows } = await adminPool().query<{ n: string }>(`SELECT count(*)::text AS n FROM ${s}.workflow_updates`);
    assert.equal(rows[0]?.n, '0', 'the renewal touched workflow rows');
    const after = await adminPool().query<{ lease_until: string }>(`SELECT lease_until::text FROM ${s}.owners WHERE owner = 'A'`);
    assert.ok(Number(after.rows[0]?.lease_until) > Number(before.rows[0]?.lease_until), 'the owner row was extended');
    assert.equal((await a.leaseOf('w1'))?.leaseUntil, Number(after.rows[0]?.lease_until), "a workflow's lease is its owner's");
  }));

  test('an owner whose lease expired keeps, at its next renewal, the workflows nobody claimed meanwhile, and loses the others', () => withPair(async (a, b) => {
    for (const [n, id] of ['taken', 'kept'].entries()) await a.putWorkflow(entry(id, n));
    await a.claimWorkflows({ owner: 'A', leaseMs: 1, limit: 2 });
    const [epoch] = await claimWhenExpired(b, 'B', ['taken']);
    assert.deepEqual(await a.renewLeases('A', LONG), ['kept']);
    // Renewed: nobody else may take it now; its writes go through, those of the lost one never.
    assert.deepEqual(await b.claimWorkflows({ owner: 'B', leaseMs: LONG, limit: 10 }), []);
    await a.history('kept').commit({ append: [record(1)], remove: [] });
    await assert.rejects(async () => a.history('taken').commit({ append: [record(1)], remove: [] }), isLeaseLost);
    assert.deepEqual(await a.leaseOf('taken'), { owner: 'B', epoch, leaseUntil: (await b.leaseOf('taken'))!.leaseUntil });
    assert.deepEqual(await b.renewLeases('B', LONG), ['taken']);
  }));

  test('the workflows of an owner that died (its store closed holding them) are claimed once its lease expires', () => withPair(async (a, b, schema) => {
    await a.putWorkflow(entry('orphan', 1));
    const [first] = await a.claimWorkflows({ owner: 'A', leaseMs: 300, limit: 1 });
    await a.close();
    const { rows } = await adminPool().query<{ n: string }>(`SELECT count(*)::text AS n FROM ${quoteIdentifier(schema)}.owners WHERE owner = 'A'`);
    assert.equal(rows[0]?.n, '1', 'an owner closing with workflows still held keeps its row, to expire');
    const [epoch] = await claimWhenExpired(b, 'B', ['orphan']);
    assert.equal(epoch, first!.epoch + 1);
    await b.history('orphan').commit({ append: [record(1)], remove: [] });
  }));

  test('the workflows of an owner with no row at all (deleted by hand) are claimable; its renewal then finds them lost', () => withPair(async (a, b, schema) => {
    await a.putWorkflow(entry('w', 1));
    await a.claimWorkflows({ owner: 'A', leaseMs: LONG, limit: 1 });
    await adminPool().query(`DELETE FROM ${quoteIdentifier(schema)}.owners WHERE owner = 'A'`);
    assert.deepEqual((await b.claimWorkflows({ owner: 'B', leaseMs: LONG, limit: 1 })).map((lease) => lease.entry.id), ['w']);
    assert.deepEqual(await a.renewLeases('A', LONG), []);
    await assert.rejects(async () => a.history('w').commit({ append: [record(1)], remove: [] }), isLeaseLost);
  }));

  test('a workflow taken from an owner and left to nobody is not claimed back by that owner until it released it', () => withPair(async (a, _b, schema) => {
    await a.putWorkflow(entry('w', 1));
    await a.claimWorkflows({ owner: 'A', leaseMs: LONG, limit: 1 });
    // As another process would leave it after claiming it (A paused past its lease) and releasing it.
    await adminPool().query(`UPDATE ${quoteIdentifier(schema)}.workflows SET owner = NULL, epoch = epoch + 1 WHERE id = 'w'`);
    assert.deepEqual(await a.claimWorkflows({ owner: 'A', leaseMs: LONG, limit: 1 }), [], 'claimed back before the renewal saw the loss');
    assert.deepEqual(await a.renewLeases('A', LONG), []);
    assert.deepEqual(await a.claimWorkflows({ owner: 'A', leaseMs: LONG, limit: 1 }), [], 'claimed back before it was released');
    await a.releaseLeases(['w']);
    assert.deepEqual((await a.claimWorkflows({ owner: 'A', leaseMs: LONG, limit: 1 })).map((lease) => lease.entry.id), ['w']);
  }));

  test('a store closing after its workflows were released deletes its owner row', () => withPair(async (a, _b, schema) => {
    await a.putWorkflow(entry('w', 1));
    await a.claimWorkflows({ owner: 'A', leaseMs: LONG, limit: 1 });
    await a.releaseLeases(['w']);
    await a.close();
    const { rows } = await adminPool().query<{ n: string }>(`SELECT count(*)::text AS n FROM ${quoteIdentifier(schema)}.owners`);
    assert.equal(rows[0]?.n, '0');
  }));

  test('a release that failed is done by the next renewal: the owner, alive, would otherwise keep the workflow from everyone', () => withPair(async (a, b, schema) => {
    const s = quoteIdentifier(schema);
    await a.putWorkflow(entry('w', 1));
    await a.claimWorkflows({ owner: 'A', leaseMs: LONG, limit: 1 });
    // Releases fail while the table refuse_release has a row.
    await adminPool().query(`
      CREATE TABLE ${s}.refuse_release (x int);
      INSERT INTO ${s}.refuse_release VALUES (1);
      CREATE FUNCTION ${s}.refuse_release() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.owner IS NULL AND EXISTS (SELECT 1 FROM ${s}.refuse_release) THEN RAISE EXCEPTION 'release refused'; END IF; RETURN NEW; END $$;
      CREATE TRIGGER refuse_release BEFORE UPDATE OF owner ON ${s}.workflows FOR EACH ROW EXECUTE FUNCTION ${s}.refuse_release();
    `);
    await assert.rejects(a.releaseLeases(['w']), /release refused/);
    await assert.rejects(a.renewLeases('A', LONG), /release refused/);
    assert.deepEqual(await b.claimWorkflows({ owner: 'B', leaseMs: LONG, limit: 1 }), []);
    await adminPool().query(`DELETE FROM ${s}.refuse_release`);
    assert.deepEqual(await a.renewLeases('A', LONG), []);
    assert.deepEqual((await b.claimWorkflows({ owner: 'B', leaseMs: LONG, limit: 1 })).map((lease) => lease.entry.id), ['w']);
  }));

  test('a workflow ended or deleted by another process is no longer held at the owner’s next renewal', () => withPair(async (a, b) => {
    for (const [n, id] of ['ended', 'deleted', 'mine'].entries()) await a.putWorkflow(entry(id, n));
    await a.claimWorkflows({ owner: 'A', leaseMs: LONG, limit: 3 });
    await b.putWorkflow(entry('ended', 0, 'cancelled'));
    await b.deleteWorkflow('deleted');
    assert.deepEqual(await a.renewLeases('A', LONG), ['mine']);
    assert.deepEqual(await a.renewLeases('A', LONG), ['mine']);
  }));

  test('an owner deleting its own workflow and creating another of that id keeps the new one', () => withPair(async (a) => {
    await a.createWorkflow(entry('again', 1), { owner: 'A', leaseMs: LONG });
    await a.deleteWorkflow('again');
    await a.releaseLeases(['again']);
    assert.equal((await a.createWorkflow(entry('again', 2), { owner: 'A', leaseMs: LONG }))?.epoch, 1);
    assert.deepEqual(await a.renewLeases('A', LONG), ['again']);
    await a.history('again').commit({ append: [record(1)], remove: [] });
  }));

  test('a schema of version 2 (a lease per workflow) migrates: leases held keep their expiry, expired ones are claimable', async () => {
    const schema = freshSchema('own2');
    const s = quoteIdentifier(schema);
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    try {
      // What Quest with migrations 1 and 2 left, with a live lease of process 'old-A' and an expired one of 'old-B'.
      await schemaAtVersion(pool, schema, 2);
      const now = `(extract(epoch FROM clock_timestamp()) * 1000)::bigint`;
      for (const [n, id, owner, lease] of [[1, 'held', 'old-A', 400], [2, 'expired', 'old-B', -1000]] as const) {
        await pool.query(
          `INSERT INTO ${s}.workflows (id, state, started_at, body, history_rows, owner, lease_until, epoch) VALUES ($1, 'running', $2, $3, 0, $4, ${now} + $5, 3)`,
          [id, n, JSON.stringify(entry(id, n)), owner, lease],
        );
      }
      const { rows: before } = await pool.query<{ lease_until: string }>(`SELECT lease_until::text FROM ${s}.workflows WHERE id = 'held'`);
      const store = await open(schema);
      try {
        const { rows: owners } = await pool.query<{ owner: string; lease_until: string }>(`SELECT owner, lease_until::text FROM ${s}.owners ORDER BY owner`);
        assert.deepEqual(owners.map((row) => row.owner), ['old-A', 'old-B']);
        assert.equal(owners[0]?.lease_until, before[0]?.lease_until, "old-A's lease keeps its expiry");
        const claimed = await store.claimWorkflows({ owner: 'new', leaseMs: LONG, limit: 10 });
        assert.deepEqual(claimed.map((lease) => [lease.entry.id, lease.epoch]), [['expired', 4]]);
        assert.equal((await store.leaseOf('held'))?.owner, 'old-A');
        // old-A's lease carried over expires as it would have: then 'held' moves, with a new epoch.
        assert.deepEqual(await claimWhenExpired(store, 'new', ['held']), [4]);
        assert.deepEqual((await store.renewLeases('new', LONG)).sort(), ['expired', 'held']);
        await store.history('held').commit({ append: [record(1)], remove: [] });
      } finally {
        await store.close();
      }
    } finally {
      await pool.end();
      await dropSchema(schema);
    }
  });
});
