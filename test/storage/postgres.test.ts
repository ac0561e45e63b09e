import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { isQuestError } from '../../src/core/errors.js';
import { MIGRATIONS, PostgresStore, migrate } from '../../src/storage/postgres/index.js';
import { quoteIdentifier } from '../../src/storage/postgres/migrations.js';
import { hasPages } from '../../src/storage/workflow-pages.js';
import { entry, oneRecord as one, record, runStoreConformance, type DamageHooks } from './conformance.js';
import { PG_URL, adminPool, describePostgres, dropSchema, freshSchema, withPostgresStore as withStore } from './postgres-support.js';

const isStorageError = (error: unknown): boolean => isQuestError(error, 'STORAGE_FAILURE');

describePostgres('postgres', () => {
  runStoreConformance('postgres', async () => {
    const schema = freshSchema('conf');
    return {
      store: await PostgresStore.open({ connectionString: PG_URL, schema, poolSize: 3 }),
      reopen: () => PostgresStore.open({ connectionString: PG_URL, schema, poolSize: 3 }),
      cleanup: () => dropSchema(schema),
      damage: postgresDamage(schema),
    };
  });

  test('a PostgresStore reads the workflow list by pages (WorkflowPages)', () => {
    assert.ok(hasPages(PostgresStore.prototype as unknown as PostgresStore));
  });
});

/** Run `sql` on the tables of `schema` (the store is closed), with the workflow id as `$1`; it must change a row. */
function onSchema(schema: string, sql: string): (workflowId: string) => Promise<void> {
  return async (workflowId) => {
    const { rowCount } = await adminPool().query(sql.replaceAll(':SCHEMA', quoteIdentifier(schema)), [workflowId]);
    assert.ok((rowCount ?? 0) > 0, `no row changed by ${sql}`);
  };
}

function postgresDamage(schema: string): DamageHooks {
  return {
    truncateRecord: onSchema(
      schema,
      `UPDATE :SCHEMA.records SET body = substr(body, 1, length(body) / 2)
       WHERE workflow_id = $1 AND seq = (SELECT max(seq) FROM :SCHEMA.records WHERE workflow_id = $1)`,
    ),
    flipByte: onSchema(schema, `UPDATE :SCHEMA.records SET body = replace(body, '"result":{"seq":3,', '"result":{"seq":7,') WHERE workflow_id = $1 AND seq = 3`),
    deleteHistory: onSchema(schema, 'DELETE FROM :SCHEMA.records WHERE workflow_id = $1'),
    emptyHistory: { exempt: 'a PostgreSQL history is its rows, with no container of its own to empty: emptying it is deleting them (deleteHistory)' },
    tearTail: { exempt: 'PostgreSQL commits a transaction whole or not at all (its WAL): no torn commit is ever visible' },
  };
}


async function migrationRows(schema: string): Promise<number[]> {
  const { rows } = await adminPool().query<{ id: number }>(`SELECT id FROM ${quoteIdentifier(schema)}.quest_migrations ORDER BY id`);
  return rows.map((row) => row.id);
}

const allMigrations = MIGRATIONS.map((migration) => migration.id);

describePostgres('postgres store: schema and connections', () => {
  test('load orders records by their numeric seq (9 before 10 before 100)', () => withStore(async (store) => {
    const history = store.history('w');
    await history.commit({ append: [record(9), record(10)], remove: [] });
    await history.commit({ append: [record(100), record(1000)], remove: [] });
    assert.deepEqual((await history.load()).map((r) => r.seq), [9, 10, 100, 1000]);
  }));

  test('the schema is migrated once, recorded in quest_migrations; opening again applies nothing', () => withStore(async (store, schema) => {
    await store.close();
    assert.deepEqual(await migrationRows(schema), allMigrations);
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    try {
      assert.deepEqual(await migrate(pool, schema), { applied: [], version: MIGRATIONS.length });
    } finally {
      await pool.end();
    }
    const again = await PostgresStore.open({ connectionString: PG_URL, schema });
    await again.close();
    assert.deepEqual(await migrationRows(schema), allMigrations);
  }));

  test('stores opening a fresh schema at the same time migrate it once, and all work', async () => {
    const schema = freshSchema('race');
    try {
      const stores = await Promise.all(Array.from({ length: 4 }, () => PostgresStore.open({ connectionString: PG_URL, schema, poolSize: 2 })));
      try {
        await Promise.all(stores.map((store, i) => store.history(`w${i}`).commit(one(`w${i}`))));
        for (const [i, store] of stores.entries()) assert.deepEqual(await store.history(`w${(i + 1) % 4}`).load(), [record(1, `w${(i + 1) % 4}`)]);
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
      assert.deepEqual(await migrationRows(schema), allMigrations);
    } finally {
      await dropSchema(schema);
    }
  });

  test('a schema of a newer Quest is refused', () => withStore(async (store, schema) => {
    await store.close();
    await adminPool().query(`INSERT INTO ${quoteIdentifier(schema)}.quest_migrations (id, name) VALUES (99, 'future')`);
    await assert.rejects(PostgresStore.open({ connectionString: PG_URL, schema }), (error: unknown) => isStorageError(error) && /newer Quest/.test(String(error)));
  }));

  test('schemas are independent, whatever their names', async () => {
    const schemas = [freshSchema('a'), `${freshSchema('b')} "Odd" ü`];
    try {
      const [a, b] = await Promise.all(schemas.map((schema) => PostgresStore.open({ connectionString: PG_URL, schema, poolSize: 2 })));
      try {
        await a!.history('w').commit(one('a'));
        await b!.history('w').commit(one('b'));
        assert.deepEqual(await a!.history('w').load(), [record(1, 'a')]);
        assert.deepEqual(await b!.history('w').load(), [record(1, 'b')]);
      } finally {
        await a!.close();
        await b!.close();
      }
    } finally {
      for (const schema of schemas) await dropSchema(schema);
    }
  });

  test('close() leaves a pool passed in open', async () => {
    const schema = freshSchema('pool');
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    try {
      const store = await PostgresStore.open({ pool, schema });
      await store.history('w').commit(one('w'));
      await store.close();
      await assert.rejects(async () => store.history('w').load(), isStorageError);
      const { rows } = await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${quoteIdentifier(schema)}.records`);
      assert.equal(rows[0]?.n, '1');
    } finally {
      await pool.end();
      await dropSchema(schema);
    }
  });

  test('a server that does not answer is a StorageError that says what to check', async () => {
    await assert.rejects(
      PostgresStore.open({ connectionString: 'postgres://postgres:secret@127.0.0.1:1/test' }),
      (error: unknown) => isStorageError(error) && /Is the server running/.test(String(error)) && !String(error).includes('secret'),
    );
  });

  test('a schema name PostgreSQL cannot hold is an InvalidArgumentError', async () => {
    for (const schema of ['', 'x'.repeat(64), 'nul\0']) {
      await assert.rejects(PostgresStore.open({ connectionString: PG_URL, schema }), (error: unknown) => isQuestError(error, 'INVALID_ARGUMENT'), JSON.stringify(schema));
    }
  });

  test('a record that is not JSON is a CorruptHistoryError', () => withStore(async (store, schema) => {
    await store.history('w').commit(one('w'));
    await adminPool().query(`UPDATE ${quoteIdentifier(schema)}.records SET body = '{broken' WHERE workflow_id = 'w'`);
    await assert.rejects(store.history('w').load(), (error: unknown) => isQuestError(error, 'CORRUPT_HISTORY'));
  }));

  test('every way a commit is written keeps the count of a running history: loads whole, a deleted row is a CorruptHistoryError', () => withStore(async (store, schema) => {
    await store.putWorkflow(entry('w', 1));
    await store.history('w').commit({ append: [record(1), record(2), record(3)], remove: [] }); // one statement
    await store.history('w').commit({ append: [record(4)], remove: [2, 9] }); // one statement, an absent seq
    await Promise.all([store.history('w').commit({ append: [record(5)], remove: [1] }), store.putWorkflow(entry('v', 2))]); // a segment
    await store.history('w').commit({ append: [record(6), record(7)], remove: [7] }); // removes its own append: two statements
    const refused = store.history('w').commit({ append: [record(3)], remove: [] }); // a duplicate seq: the careful path
    await Promise.all([assert.rejects(refused, isStorageError), store.history('w').commit({ append: [record(8)], remove: [4] })]);
    assert.deepEqual((await store.history('w').load()).map((r) => r.seq), [3, 5, 6, 8]);
    await adminPool().query(`DELETE FROM ${quoteIdentifier(schema)}.records WHERE workflow_id = 'w' AND seq = 8`);
    await assert.rejects(
      store.history('w').load(),
      (error: unknown) => isQuestError(error, 'CORRUPT_HISTORY') && /holds 3 record\(s\) where its commits left 4/.test(String(error)),
    );
  }));

  test('a schema of version 1 (before checksums) opens: old rows are read as before, counts start from what is there', () => withStore(async (store, schema) => {
    await store.putWorkflow(entry('w', 1));
    await store.putWorkflow(entry('fresh', 2));
    await store.close();
    const s = quoteIdentifier(schema);
    // Make it what migration 1 left: no inbox outcomes, no crc, no history_rows, no index of finish times; rows inserted without a checksum.
    await adminPool().query(
      `ALTER TABLE ${s}.records DROP COLUMN crc; ALTER TABLE ${s}.workflows DROP COLUMN history_rows; DROP TABLE ${s}.inbox_outcomes; ` +
        `DROP TABLE ${s}.owners, ${s}.lease_losses; DROP FUNCTION ${s}.record_lease_loss() CASCADE; DROP INDEX ${s}.workflows_by_owner; ` +
        `ALTER TABLE ${s}.workflows DROP COLUMN type, DROP COLUMN finished_at; ` +
        `DELETE FROM ${s}.quest_migrations WHERE id > 1`,
    );
    for (const seq of [1, 2]) await adminPool().query(`INSERT INTO ${s}.records (workflow_id, seq, body) VALUES ('w', $1, $2)`, [seq, JSON.stringify(record(seq))]);
    const again = await PostgresStore.open({ connectionString: PG_URL, schema, poolSize: 2 });
    try {
      assert.deepEqual(await again.history('w').load(), [record(1), record(2)]);
      assert.deepEqual(await again.history('fresh').load(), []);
      await again.history('w').commit({ append: [record(3)], remove: [] });
      assert.deepEqual(await again.history('w').load(), [record(1), record(2), record(3)]);
      await adminPool().query(`UPDATE ${s}.records SET body = replace(body, '"seq":3,', '"seq":5,') WHERE seq = 3`);
      await assert.rejects(again.history('w').load(), /record 3 does not match its checksum/);
    } finally {
      await again.close();
    }
  }));

  test('the inbox: events come back in posting order with increasing ids, and settled ones stay gone', () => withStore(async (store) => {
    const event = (n: number) => ({ workflowId: `w${n}`, resource: 'guess', identity: n === 2 ? 'ann' : null, action: 'put', args: [n, { ü: '"x"' }] });
    const ids = await Promise.all([1, 2, 3].map((n) => store.postEvent(event(n))));
    assert.ok(ids[0]! < ids[1]! && ids[1]! < ids[2]!);
    const taken = await store.takeEvents(10);
    assert.deepEqual(taken.map(({ id, postedAt, ...rest }) => (assert.ok(postedAt > 0), [id, rest])), [1, 2, 3].map((n, i) => [ids[i], event(n)]));
    assert.deepEqual((await store.takeEvents(1, ids[0])).map((e) => e.id), [ids[1]]);
    await store.settleEvent(ids[1]!, { status: 'applied' });
    await store.settleEvent(ids[1]!, { status: 'rejected', code: 'X', message: 'late' });
    assert.equal((await store.eventOutcome(ids[1]!))?.status, 'applied');
    assert.deepEqual((await store.takeEvents(10)).map((e) => e.id), [ids[0], ids[2]]);
    const later = await store.postEvent(event(4));
    assert.ok(later > ids[2]!);
  }));
});
