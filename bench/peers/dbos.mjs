// DBOS Transact (npm @dbos-inc/dbos-sdk, installed in bench/peers only) measured on the same PostgreSQL as
// Quest, driven by bench/postgres.ts: `node bench/peers/dbos.mjs <url> <figure> <args...>` prints one JSON line
// {"ms": ..., "count": ...}. Plain JavaScript with DBOS's functional API (no decorators, no build step).
//
// Figures: sequential <n> (one workflow, n trivial steps); concurrent <w> <s> (w workflows of s steps at once);
// workflows <w> (w one-step workflows started at once); messages <k> <inflight> (k messages sent from outside a
// workflow, `inflight` at a time, received by one workflow).
import { DBOS } from '@dbos-inc/dbos-sdk';
import { performance } from 'node:perf_hooks';
import pg from 'pg';

const [url, figure, a = '0', b = '0'] = process.argv.slice(2);
const schema = `dbos_bench_${process.pid}`;
DBOS.setConfig({ name: 'quest-bench', systemDatabaseUrl: url, systemDatabaseSchemaName: schema, logLevel: 'error' });

const trivial = (i) => DBOS.runStep(async () => i, { name: 'trivial' });
const steps = DBOS.registerWorkflow(async (n) => {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += await trivial(i);
  return sum;
}, { name: 'steps' });
const receiver = DBOS.registerWorkflow(async (k) => {
  let got = 0;
  while (got < k) if ((await DBOS.recv('in', 60)) !== null) got++;
  return got;
}, { name: 'receiver' });

async function timed(body) {
  const start = performance.now();
  await body();
  return performance.now() - start;
}

await DBOS.launch();
let result;
try {
  const n = Number(a);
  const m = Number(b);
  if (figure === 'sequential') {
    result = { count: n, ms: await timed(async () => (await DBOS.startWorkflow(steps)(n)).getResult()) };
  } else if (figure === 'concurrent') {
    result = { count: n * m, ms: await timed(async () => {
      const handles = await Promise.all(Array.from({ length: n }, () => DBOS.startWorkflow(steps)(m)));
      await Promise.all(handles.map((handle) => handle.getResult()));
    }) };
  } else if (figure === 'workflows') {
    result = { count: n, ms: await timed(async () => {
      const handles = await Promise.all(Array.from({ length: n }, () => DBOS.startWorkflow(steps)(1)));
      await Promise.all(handles.map((handle) => handle.getResult()));
    }) };
  } else if (figure === 'messages') {
    const handle = await DBOS.startWorkflow(receiver, { workflowID: `receiver-${process.pid}` })(n);
    result = { count: n, ms: await timed(async () => {
      let next = 0;
      const sender = async () => {
        while (next < n) {
          next++;
          await DBOS.send(handle.workflowID, next, 'in');
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, m) }, sender));
      await handle.getResult();
    }) };
  } else {
    throw new Error(`unknown figure ${figure}`);
  }
} finally {
  await DBOS.shutdown();
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
}
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
