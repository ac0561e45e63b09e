/**
 * A QuestServer in a process that does not run a workflow (two managers over one PostgreSQL schema, as two
 * processes would have): its clients stream the workflow's resources, read from the stored history, act on it
 * through the inbox, and get its result when it ends, as they would from the process that runs it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ResourceSnapshot } from '../../src/core/resource-stream.js';
import type { RemoteResourceStream } from '../../src/client/stream.js';
import { QuestClient } from '../../src/client/client.js';
import { WorkflowManager } from '../../src/manager/workflow-manager.js';
import { QuestServer } from '../../src/server/server.js';
import { PostgresStore } from '../../src/storage/postgres/index.js';
import { PG_URL, describePostgres, dropSchema, freshSchema } from '../storage/postgres-support.js';
import { tokenAuth, TOKENS, workflows, type Workflows } from '../server/support.js';

/** Read the stream until a snapshot satisfies `predicate`; that snapshot. */
async function until(stream: RemoteResourceStream, predicate: (snapshot: ResourceSnapshot) => boolean): Promise<ResourceSnapshot> {
  for (;;) {
    const next = await stream.next();
    if (next.done === true) throw new Error('the stream ended first');
    if (predicate(next.value)) return next.value;
  }
}

const viewOf = (snapshot: ResourceSnapshot, name: string): unknown => snapshot.resources.find((r) => r.name === name)?.view;

describePostgres('a server in the process that does not run the workflow', () => {
  test("streams the workflow's resources from its stored history, and ends the stream with its result", async () => {
    const schema = freshSchema('stream_elsewhere');
    const open = () => PostgresStore.open({ connectionString: PG_URL, schema, poolSize: 3 });
    const runner = await WorkflowManager.open({ store: await open(), workflows, leases: { leaseMs: 2000 } });
    const starter = await WorkflowManager.open({ store: await open(), workflows, leases: { leaseMs: 2000, maxWorkflows: 0 } });
    const server = new QuestServer(starter, { authenticate: tokenAuth });
    try {
      const { url } = await server.listen(0, '127.0.0.1');
      const client = (token: string) => new QuestClient<Workflows>(url, { token });
      await starter.start('box', 'x1', 'crate');
      const ann = client(TOKENS.ann).resourceStream('x1');
      const bob = client(TOKENS.bob).resourceStream('x1');
      await until(ann, (s) => s.resources.length === 3);
      const seenByBob = await until(bob, (s) => s.resources.length === 2);
      assert.deepEqual(seenByBob.resources.map((r) => r.name), ['status', 'done'], "ann's inbox is hers alone");
      assert.deepEqual(await runner.resources('x1', 'bob'), seenByBob.resources, 'what the process that runs it sees');
      await client(TOKENS.ann).queue<string>('x1', 'inbox').put('hi');
      for (const stream of [ann, bob]) await until(stream, (s) => (viewOf(s, 'status') as { value: string }).value === 'got hi');
      await client(TOKENS.bob).event('x1', 'done').set();
      for await (const _snapshot of ann) {
        // Drain until the workflow finishes.
      }
      assert.equal(await ann.result(), 'crate: hi');
      await bob.return();
    } finally {
      await server.close();
      await starter.close();
      await runner.close();
      await dropSchema(schema);
    }
  });
});
