/**
 * Benchmarks of Quest for TypeScript on SqliteStore (WAL, group commit), against the disk's own limit and the
 * peers (DBOS on PostgreSQL, quest.py's persistent histories).
 *
 *   npx tsx bench/sqlite.ts            tables on stdout (progress on stderr)
 *   npx tsx bench/sqlite.ts --json     one JSON document on stdout instead
 *   npx tsx bench/sqlite.ts --quick    fewer runs and smaller sizes (a smoke test)
 *   ... --dir=PATH                     put the databases (and the fdatasync probe) under PATH, to measure that disk
 *
 * What is measured (databases in a fresh directory; the fdatasync probe writes to the same directory):
 * 1. the disk's limit: `fdatasync` after appending 100 B to a file, N = 2,000 in a row (measured three times:
 *    before 2, between 2 and 3, after 3; the median is the reference), and SQLite itself doing one-row
 *    autocommit INSERTs in WAL mode (better-sqlite3 alone, no Quest), both synchronous levels;
 * 2. durable sequential steps: one workflow awaits N trivial steps in a loop, run by a Historian over
 *    `store.history(id)` (`synchronous: 'full'`, the default; and `'normal'` for information); time from `run()`
 *    to its result (which includes clearing the history); target ≥ 70 % of the fdatasync rate;
 * 3. concurrent workflows: W workflows × 200 trivial steps, all started at once; total steps/s against the
 *    single-writer fdatasync limit (target ≥ 3×, from group commit) and transactions per step;
 * 4. history size on disk: one workflow of 20,000 steps, each with 3 nested sub-steps; at 1,000, 10,000 and
 *    20,000 completed steps the database is checkpointed (`PRAGMA wal_checkpoint(TRUNCATE)` from a second
 *    connection) and measured: file + WAL bytes per step, pages in use per step, rows; and once more after the
 *    workflow completed (history cleared). Run with `synchronous: 'normal'` (sizes do not depend on it, and
 *    80,000 fsynced transactions would take half a minute);
 * 5. the peers: DBOS (sequential steps 841/s, one ~300 B row per step never pruned) and quest.py (persistent
 *    histories over local files 385 / 169 steps/s at N = 1,000 / 10,000).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Historian, step } from '../src/index.js';
import { SqliteStore, type SqliteSynchronous } from '../src/storage/sqlite.js';
import { DISK_LIMITS_PER_S, QUEST_PY_PERSISTENT_FILE_STEPS_PER_S } from './anchors.js';
import {
  Report,
  fdatasyncAppendMs,
  fdatasyncOverwriteMs,
  fileSize,
  formatBytes,
  formatDuration,
  formatInt,
  formatPercent,
  formatRate,
  formatRatio,
  higherIsBetter,
  lowerIsBetter,
  machineLoad,
  measure,
  median,
  now,
  renderTable,
  scratchDirectory,
  type Cell,
  type Timing,
} from './harness.js';

const report = new Report('sqlite');
const quick = process.argv.includes('--quick');
const directory = scratchDirectory('quest-bench-sqlite-');

/** DBOS Transact TS 5.3.0 on local PostgreSQL 15 (/work/shared/anchors/dbos.md). */
const DBOS = {
  sequentialStepsPerS: { 1_000: 841, 10_000: 843 } as Readonly<Record<number, number>>,
  bytesPerStepTable: 300,
  bytesPerStepWal: 610,
};

/** Targets of this benchmark. */
const TARGET_SEQUENTIAL_OF_FSYNC = 0.7;
const TARGET_CONCURRENT_TIMES_FSYNC = 3;

const FSYNC_N = 2_000;
const SEQUENTIAL_NS = quick ? [1_000, 5_000] : [1_000, 20_000];
const CONCURRENT = quick ? [100] : [100, 500];
const STEPS_PER_WORKFLOW = 200;
const SIZE_N = quick ? 5_000 : 20_000;
const SIZE_PROBES = quick ? [1_000, 2_500, 5_000] : [1_000, 10_000, 20_000];

// -------------------------------------------------------------------------------------------------------------
// Workflows

const trivial = step('trivial', async (i: number) => i);
const inner = step('inner', async (i: number) => i);
/** A step with 3 nested sub-steps: pruning at its end must leave only its own end record. */
const outer = step('outer', async (i: number) => (await inner(i)) + (await inner(i + 1)) + (await inner(i + 2)));

async function trivialSteps(count: number): Promise<number> {
  let sum = 0;
  for (let i = 0; i < count; i++) sum += await trivial(i);
  return sum;
}

let unique = 0;
/** A workflow id never used before in this process (every run gets a fresh, empty history). */
function freshId(prefix: string): string {
  return `${prefix}-${++unique}`;
}

function checkSum(count: number, sum: number): void {
  if (sum !== (count * (count - 1)) / 2) throw new Error(`a steps workflow returned ${sum}`);
}

function openStore(name: string, synchronous: SqliteSynchronous): SqliteStore {
  return new SqliteStore(join(directory, name), { synchronous });
}

// -------------------------------------------------------------------------------------------------------------
// 1. The disk's limit

interface RateTiming extends Timing {
  perSecond: number;
}

function asRate(timing: Timing, count: number): RateTiming {
  return { ...timing, perSecond: (count * 1000) / timing.medianMs };
}

/** fdatasync of a 100 B append, FSYNC_N in a row: runs per second (median of `runs`). */
async function fdatasyncRate(runs: number): Promise<RateTiming> {
  return asRate(await measure(() => Promise.resolve(fdatasyncAppendMs(directory, FSYNC_N)), { runs, warmup: 0, gcBetween: false }), FSYNC_N);
}

/** The same, overwriting a preallocated file in place (no size change to journal): information. */
async function fdatasyncOverwriteRate(runs: number): Promise<RateTiming> {
  return asRate(await measure(() => Promise.resolve(fdatasyncOverwriteMs(directory, FSYNC_N)), { runs, warmup: 0, gcBetween: false }), FSYNC_N);
}

/** SQLite alone: FSYNC_N one-row autocommit INSERTs of a ~100 B body, WAL mode, into a table like Quest's. */
async function sqliteAutocommitRate(synchronous: SqliteSynchronous, runs: number): Promise<RateTiming> {
  const path = join(directory, `raw-${synchronous}.sqlite`);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  db.exec('CREATE TABLE records (workflow_id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (workflow_id, seq)) WITHOUT ROWID');
  const insert = db.prepare('INSERT INTO records (workflow_id, seq, body) VALUES (?, ?, ?)');
  const body = JSON.stringify({ v: 1, seq: 0, t: Date.now(), task: 'main', type: 'step_end', id: 'main/trivial#1000', ok: true, value: 1000 });
  let seq = 0;
  try {
    const timing = await measure(() => {
      const start = now();
      for (let i = 0; i < FSYNC_N; i++) insert.run('w', ++seq, body);
      return Promise.resolve(now() - start);
    }, { runs, warmup: 1, gcBetween: false });
    return asRate(timing, FSYNC_N);
  } finally {
    db.close();
  }
}

// -------------------------------------------------------------------------------------------------------------
// 2. Sequential steps

interface Counted {
  ms: number;
  transactions: number;
  /** Writes committed (store.stats.writes): at least one per step when every step end reaches the database. */
  writes: number;
}

async function sequentialOnce(store: SqliteStore, count: number): Promise<Counted> {
  const id = freshId('sequential');
  const historian = new Historian(id, trivialSteps, store.history(id));
  const { transactions, writes } = store.stats;
  const start = now();
  const sum = await historian.run(count);
  const ms = now() - start;
  checkSum(count, sum);
  return { ms, transactions: store.stats.transactions - transactions, writes: store.stats.writes - writes };
}

// -------------------------------------------------------------------------------------------------------------
// 3. Concurrent workflows

async function concurrentOnce(store: SqliteStore, workflows: number, steps: number): Promise<Counted> {
  const historians = Array.from({ length: workflows }, () => {
    const id = freshId('concurrent');
    return new Historian(id, trivialSteps, store.history(id));
  });
  const { transactions, writes } = store.stats;
  const start = now();
  const sums = await Promise.all(historians.map((historian) => historian.run(steps)));
  const ms = now() - start;
  for (const sum of sums) checkSum(steps, sum);
  return { ms, transactions: store.stats.transactions - transactions, writes: store.stats.writes - writes };
}

/** Measure `once` (which reports its own transactions) like {@link measure}; transactions of the median run. */
async function measureCounted(once: () => Promise<Counted>, runs: number, warmup = 1): Promise<{ timing: Timing; transactions: number; writes: number }> {
  const all: Counted[] = [];
  const timing = await measure(async () => {
    const counted = await once();
    all.push(counted);
    return counted.ms;
  }, { runs, warmup });
  const measured = all.slice(warmup);
  const transactions = median(measured.map((counted) => counted.transactions));
  const writes = Math.min(...measured.map((counted) => counted.writes));
  return { timing, transactions, writes };
}

// -------------------------------------------------------------------------------------------------------------
// 4. History size on disk

interface SizeProbe {
  steps: number;
  rows: number;
  bodyBytes: number;
  fileBytes: number;
  walBytes: number;
  usedBytes: number;
  pageSize: number;
  pages: number;
  freePages: number;
}

/**
 * One workflow of `count` steps with 3 sub-steps each; `probe(i)` is called synchronously inside the workflow
 * after step i (1-based) has completed and been committed, so nothing is queued in the store at that moment.
 */
async function sizeRun(count: number, probes: readonly number[]): Promise<{ probes: SizeProbe[]; baseline: SizeProbe; afterCompletion: SizeProbe; ms: number }> {
  const path = join(directory, 'size.sqlite');
  const store = new SqliteStore(path, { synchronous: 'normal' });
  // A second connection checkpoints and measures: the store's own database handle is private.
  const observer = new Database(path);
  const id = freshId('size');
  const measureNow = (steps: number): SizeProbe => {
    observer.pragma('wal_checkpoint(TRUNCATE)');
    const { rows, bodyBytes } = observer
      .prepare('SELECT count(*) AS rows, coalesce(sum(length(body)), 0) AS bodyBytes FROM records WHERE workflow_id = ?')
      .get(id) as { rows: number; bodyBytes: number };
    const pageSize = Number(observer.pragma('page_size', { simple: true }));
    const pages = Number(observer.pragma('page_count', { simple: true }));
    const freePages = Number(observer.pragma('freelist_count', { simple: true }));
    return {
      steps, rows, bodyBytes, pageSize, pages, freePages,
      fileBytes: fileSize(path), walBytes: fileSize(`${path}-wal`), usedBytes: (pages - freePages) * pageSize,
    };
  };
  const baseline = measureNow(0);
  const results: SizeProbe[] = [];
  const wanted = new Set(probes);
  const workflow = async (n: number): Promise<number> => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      sum += await outer(i);
      if (wanted.has(i + 1)) results.push(measureNow(i + 1));
    }
    return sum;
  };
  const start = now();
  await new Historian(id, workflow, store.history(id)).run(count);
  const ms = now() - start;
  const afterCompletion = measureNow(count);
  observer.close();
  await store.close();
  return { probes: results, baseline, afterCompletion, ms };
}

// -------------------------------------------------------------------------------------------------------------
// Main

function spread(timing: Timing): string {
  return `${formatDuration(timing.minMs)} … ${formatDuration(timing.maxMs)}`;
}

/** Every step's end record reached the database: at least one committed write per step. */
function wroteEveryStep(writes: number, steps: number): boolean {
  return writes >= steps;
}

function verdict(ok: boolean): string {
  return ok ? 'met' : 'MISSED';
}

async function main(): Promise<void> {
  const wallStart = now();
  const loadAtStart = machineLoad();

  // 1. The disk's limit (first reading) and SQLite alone -------------------------------------------------------
  report.note(`fdatasync: ${formatInt(FSYNC_N)} appends ...`);
  const fsyncReadings: RateTiming[] = [await fdatasyncRate(quick ? 1 : 3)];
  const overwrite = await fdatasyncOverwriteRate(quick ? 1 : 3);
  report.note('SQLite alone: autocommit inserts ...');
  const rawFull = await sqliteAutocommitRate('full', quick ? 1 : 3);
  const rawNormal = await sqliteAutocommitRate('normal', quick ? 1 : 3);

  // 2. Sequential steps --------------------------------------------------------------------------------------
  interface SequentialResult { synchronous: SqliteSynchronous; n: number; timing: Timing; transactions: number; writes: number; perSecond: number }
  const sequential: SequentialResult[] = [];
  for (const synchronous of ['full', 'normal'] as const) {
    const store = openStore(`sequential-${synchronous}.sqlite`, synchronous);
    for (const n of SEQUENTIAL_NS) {
      report.note(`sequential steps, synchronous ${synchronous}: N = ${formatInt(n)} ...`);
      const big = n > 1_000;
      const runs = quick ? 1 : big ? (synchronous === 'full' ? 2 : 3) : 5;
      const { timing, transactions, writes } = await measureCounted(() => sequentialOnce(store, n), runs, big ? 0 : 1);
      sequential.push({ synchronous, n, timing, transactions, writes, perSecond: (n * 1000) / timing.medianMs });
    }
    await store.close();
  }

  report.note(`fdatasync: ${formatInt(FSYNC_N)} appends (second reading) ...`);
  fsyncReadings.push(await fdatasyncRate(quick ? 1 : 3));

  // 3. Concurrent workflows ------------------------------------------------------------------------------------
  interface ConcurrentResult { synchronous: SqliteSynchronous; workflows: number; timing: Timing; transactions: number; writes: number; perSecond: number }
  const concurrent: ConcurrentResult[] = [];
  for (const synchronous of ['full', 'normal'] as const) {
    const store = openStore(`concurrent-${synchronous}.sqlite`, synchronous);
    for (const workflows of CONCURRENT) {
      // synchronous 'normal' is for information only: one configuration, fewer runs.
      if (synchronous === 'normal' && workflows !== CONCURRENT.at(-1)) continue;
      report.note(`concurrent workflows, synchronous ${synchronous}: ${workflows} × ${STEPS_PER_WORKFLOW} steps ...`);
      const runs = quick || synchronous === 'normal' ? 1 : workflows >= 500 ? 2 : 3;
      const { timing, transactions, writes } = await measureCounted(() => concurrentOnce(store, workflows, STEPS_PER_WORKFLOW), runs);
      concurrent.push({ synchronous, workflows, timing, transactions, writes, perSecond: (workflows * STEPS_PER_WORKFLOW * 1000) / timing.medianMs });
    }
    await store.close();
  }

  report.note(`fdatasync: ${formatInt(FSYNC_N)} appends (third reading) ...`);
  fsyncReadings.push(await fdatasyncRate(quick ? 1 : 3));
  const fsyncPerS = median(fsyncReadings.map((reading) => reading.perSecond));

  // 4. History size on disk ----------------------------------------------------------------------------------
  report.note(`history size: one workflow of ${formatInt(SIZE_N)} steps × (1 + 3 sub-steps) ...`);
  const size = await sizeRun(SIZE_N, SIZE_PROBES);

  // Output -----------------------------------------------------------------------------------------------------
  report.print([
    `Quest for TypeScript on SqliteStore (better-sqlite3, WAL, group commit) — node ${process.version}, ${process.platform}-${process.arch}` +
      `${quick ? ', --quick (1 run per figure, smaller sizes)' : ''}`,
    `Databases and the fdatasync probe in ${directory} (removed at the end). At the start: ${loadAtStart}; at the end: ${machineLoad()}.`,
    'Time figures: median of the runs shown (after a warm-up run for the short ones).',
    'Peers: /work/shared/anchors/dbos.md (DBOS on PostgreSQL) and quest-py.md (quest.py 0.2.15), same kind of machine.',
    '"× better": how many times better Quest for TypeScript is (higher rate, fewer bytes); above 1 means ahead.',
  ].join('\n'));
  report.print('');

  // 1.
  const limitRows: Cell[][] = fsyncReadings.map((reading, i) => [
    `fdatasync after a 100 B append (reading ${i + 1} of 3)`, reading.runs.length, formatDuration(reading.medianMs), spread(reading),
    formatRate(reading.perSecond), `${formatRate(DISK_LIMITS_PER_S.fdatasyncAppend[0])}–${formatRate(DISK_LIMITS_PER_S.fdatasyncAppend[1])}`,
  ]);
  limitRows.push(['fdatasync: the reference (median of the 3 readings)', '', '', '', formatRate(fsyncPerS), '']);
  limitRows.push(['fdatasync after a 100 B overwrite in place (information)', overwrite.runs.length, formatDuration(overwrite.medianMs), spread(overwrite),
    formatRate(overwrite.perSecond), '']);
  limitRows.push(['SQLite alone, 1-row autocommit INSERT, WAL, synchronous FULL', rawFull.runs.length, formatDuration(rawFull.medianMs), spread(rawFull),
    formatRate(rawFull.perSecond), formatRate(DISK_LIMITS_PER_S.sqliteWalSynchronousFull)]);
  limitRows.push(['SQLite alone, 1-row autocommit INSERT, WAL, synchronous NORMAL', rawNormal.runs.length, formatDuration(rawNormal.medianMs), spread(rawNormal),
    formatRate(rawNormal.perSecond), formatRate(DISK_LIMITS_PER_S.sqliteWalSynchronousNormal)]);
  report.print(renderTable(`1. The disk's limit: ${formatInt(FSYNC_N)} durable writes one at a time, same directory as the databases`, [
    { header: 'what', align: 'left' }, { header: 'runs' }, { header: 'median' }, { header: 'min … max' }, { header: 'per second' },
    { header: 'anchor day (quest-py.md)' },
  ], limitRows));
  report.print('The reference is the append (the brief\'s physical limit). SQLite\'s WAL is mostly rewritten in place after each checkpoint, ' +
    'so it can beat the append figure: compare with the overwrite row.');
  for (const [i, reading] of fsyncReadings.entries()) report.add('fdatasync', { reading: i + 1, n: FSYNC_N, runsMs: reading.runs, perSecond: reading.perSecond });
  report.add('fdatasync', { reference: true, perSecond: fsyncPerS });
  report.add('fdatasyncOverwrite', { n: FSYNC_N, runsMs: overwrite.runs, perSecond: overwrite.perSecond });
  report.add('sqliteAlone', { synchronous: 'full', n: FSYNC_N, runsMs: rawFull.runs, perSecond: rawFull.perSecond });
  report.add('sqliteAlone', { synchronous: 'normal', n: FSYNC_N, runsMs: rawNormal.runs, perSecond: rawNormal.perSecond });
  report.print('');

  // 2.
  const sequentialRows = sequential.map((result) => {
    const ofFsync = result.perSecond / fsyncPerS;
    const full = result.synchronous === 'full';
    report.add('sequential', {
      synchronous: result.synchronous, n: result.n, runsMs: result.timing.runs, medianMs: result.timing.medianMs, stepsPerS: result.perSecond,
      writes: result.writes, transactionsPerStep: result.transactions / result.n, ofFdatasync: ofFsync, ofFdatasyncInPlace: result.perSecond / overwrite.perSecond, target: full ? TARGET_SEQUENTIAL_OF_FSYNC : null,
    });
    return [
      result.synchronous, formatInt(result.n), result.timing.runs.length, formatDuration(result.timing.medianMs), spread(result.timing),
      formatRate(result.perSecond), ((result.timing.medianMs * 1000) / result.n).toFixed(1), (result.transactions / result.n).toFixed(3),
      formatPercent(ofFsync), formatPercent(result.perSecond / overwrite.perSecond),
      !wroteEveryStep(result.writes, result.n) ? 'INVALID: steps not written'
        : full ? `≥ ${formatPercent(TARGET_SEQUENTIAL_OF_FSYNC)}: ${verdict(ofFsync >= TARGET_SEQUENTIAL_OF_FSYNC)}` : '(information)',
    ];
  });
  report.print(renderTable(`2. Durable sequential trivial steps: one workflow, N steps in a loop (run() until the result); fdatasync reference ${formatRate(fsyncPerS)}/s`, [
    { header: 'synchronous', align: 'left' }, { header: 'N' }, { header: 'runs' }, { header: 'median' }, { header: 'min … max' }, { header: 'steps/s' },
    { header: 'µs/step' }, { header: 'tx/step' }, { header: 'of fdatasync' }, { header: 'of in-place' }, { header: 'target', align: 'left' },
  ], sequentialRows));
  report.print('');

  // 3.
  const concurrentRows = concurrent.map((result) => {
    const steps = result.workflows * STEPS_PER_WORKFLOW;
    const timesFsync = result.perSecond / fsyncPerS;
    const full = result.synchronous === 'full';
    report.add('concurrent', {
      synchronous: result.synchronous, workflows: result.workflows, stepsPerWorkflow: STEPS_PER_WORKFLOW, runsMs: result.timing.runs,
      medianMs: result.timing.medianMs, stepsPerS: result.perSecond, transactions: result.transactions, writes: result.writes, transactionsPerStep: result.transactions / steps,
      timesFdatasync: timesFsync, target: full ? TARGET_CONCURRENT_TIMES_FSYNC : null,
    });
    return [
      result.synchronous, `${formatInt(result.workflows)} × ${STEPS_PER_WORKFLOW}`, formatInt(steps), result.timing.runs.length,
      formatDuration(result.timing.medianMs), spread(result.timing), formatRate(result.perSecond), formatInt(result.transactions),
      (result.transactions / steps).toFixed(4), (steps / result.transactions).toFixed(0), formatRatio(timesFsync),
      !wroteEveryStep(result.writes, steps) ? 'INVALID: steps not written'
        : full ? `≥ ${TARGET_CONCURRENT_TIMES_FSYNC}×: ${verdict(timesFsync >= TARGET_CONCURRENT_TIMES_FSYNC)}` : '(information)',
    ];
  });
  report.print(renderTable(`3. Concurrent workflows, all started at once (until every result); single-writer fdatasync limit ${formatRate(fsyncPerS)}/s`, [
    { header: 'synchronous', align: 'left' }, { header: 'workflows' }, { header: 'steps' }, { header: 'runs' }, { header: 'median' },
    { header: 'min … max' }, { header: 'steps/s' }, { header: 'transactions' }, { header: 'tx/step' }, { header: 'steps/tx' },
    { header: '× fdatasync' }, { header: 'target', align: 'left' },
  ], concurrentRows));
  report.print('Transactions include each workflow\'s final clear() of its history (one write per workflow).');
  report.print('');

  // 4.
  const base = size.baseline;
  const sizeRows = [...size.probes, size.afterCompletion].map((probe, i) => {
    const completed = i === size.probes.length;
    const perStep = (bytes: number): string => (completed ? '—' : formatInt(bytes / probe.steps));
    report.add('historySize', {
      steps: probe.steps, completed, rows: probe.rows, bodyBytes: probe.bodyBytes, fileBytes: probe.fileBytes, walBytes: probe.walBytes,
      usedBytes: probe.usedBytes, pages: probe.pages, freePages: probe.freePages, pageSize: probe.pageSize,
      fileBytesPerStep: completed ? null : (probe.fileBytes + probe.walBytes - base.fileBytes) / probe.steps,
      usedBytesPerStep: completed ? null : (probe.usedBytes - base.usedBytes) / probe.steps,
    });
    return [
      completed ? `${formatInt(probe.steps)}, workflow completed` : formatInt(probe.steps), formatInt(probe.rows),
      completed ? '—' : (probe.rows / probe.steps).toFixed(3), formatBytes(probe.fileBytes), formatBytes(probe.walBytes),
      perStep(probe.fileBytes + probe.walBytes - base.fileBytes), perStep(probe.usedBytes - base.usedBytes),
      probe.rows === 0 ? '—' : formatInt(probe.bodyBytes / probe.rows), formatInt(probe.freePages),
    ];
  });
  report.print(renderTable(
    `4. History size on disk: one workflow of ${formatInt(SIZE_N)} steps, each with 3 nested sub-steps (after PRAGMA wal_checkpoint(TRUNCATE); ` +
      `empty database ${formatBytes(base.fileBytes)}, page ${formatInt(base.pageSize)} B)`,
    [
      { header: 'steps done', align: 'left' }, { header: 'rows' }, { header: 'rows/step' }, { header: 'database' }, { header: 'WAL' },
      { header: 'file B/step' }, { header: 'pages in use B/step' }, { header: 'JSON B/row' }, { header: 'free pages' },
    ],
    sizeRows,
  ));
  report.print(`"B/step": growth over the empty database divided by the steps done; one step = 4 steps in DBOS's counting (1 + 3 sub-steps).`);
  report.print(`Run with synchronous 'normal' (sizes do not depend on it): ${formatInt(SIZE_N * 4)} step ends in ${formatDuration(size.ms)} including the probes.`);
  report.print('');

  // 5.
  const seqFull = (n: number): SequentialResult | undefined => sequential.find((result) => result.synchronous === 'full' && result.n === n);
  const small = seqFull(1_000);
  const large = seqFull(SEQUENTIAL_NS.at(-1) ?? 0);
  const lastProbe = size.probes.at(-1);
  const ourBytesPerStep = lastProbe === undefined ? 0 : (lastProbe.fileBytes + lastProbe.walBytes - base.fileBytes) / lastProbe.steps;
  const bestConcurrent = concurrent.filter((result) => result.synchronous === 'full').reduce((best, result) => (result.perSecond > best ? result.perSecond : best), 0);
  const peerRows: Cell[][] = [];
  if (small !== undefined) {
    peerRows.push(['sequential durable steps/s, N = 1,000', formatRate(small.perSecond), formatRate(DBOS.sequentialStepsPerS[1_000] ?? 0),
      formatRatio(higherIsBetter(small.perSecond, DBOS.sequentialStepsPerS[1_000])), formatRate(QUEST_PY_PERSISTENT_FILE_STEPS_PER_S[1_000] ?? 0),
      formatRatio(higherIsBetter(small.perSecond, QUEST_PY_PERSISTENT_FILE_STEPS_PER_S[1_000]))]);
  }
  if (large !== undefined) {
    peerRows.push([`sequential durable steps/s, ours N = ${formatInt(large.n)}, peers N = 10,000`, formatRate(large.perSecond),
      formatRate(DBOS.sequentialStepsPerS[10_000] ?? 0), formatRatio(higherIsBetter(large.perSecond, DBOS.sequentialStepsPerS[10_000])),
      formatRate(QUEST_PY_PERSISTENT_FILE_STEPS_PER_S[10_000] ?? 0), formatRatio(higherIsBetter(large.perSecond, QUEST_PY_PERSISTENT_FILE_STEPS_PER_S[10_000]))]);
  }
  peerRows.push([`concurrent durable steps/s (best of table 3; peers: their sequential figure)`, formatRate(bestConcurrent),
    formatRate(DBOS.sequentialStepsPerS[1_000] ?? 0), formatRatio(higherIsBetter(bestConcurrent, DBOS.sequentialStepsPerS[1_000])), '—', '—']);
  peerRows.push(['stored rows per completed top-level step, while running', lastProbe === undefined ? '—' : (lastProbe.rows / lastProbe.steps).toFixed(2),
    '1 per step (4 here)', formatRatio(lowerIsBetter(lastProbe === undefined ? 0 : lastProbe.rows / lastProbe.steps, 4)), '1 (index rewritten per append)', '—']);
  peerRows.push(['bytes on disk per completed top-level step (table + index; WAL truncated)', formatInt(ourBytesPerStep), `~${DBOS.bytesPerStepTable * 4} (4 × ~300)`,
    formatRatio(lowerIsBetter(ourBytesPerStep, DBOS.bytesPerStepTable * 4)), '—', '—']);
  peerRows.push(['rows kept after the workflow completed', formatInt(size.afterCompletion.rows), 'all (never pruned)', '—', '—', '—']);
  report.print(renderTable('5. Against the peers (durable storage; DBOS: PostgreSQL, fsync on; quest.py: PersistentHistory over local files)', [
    { header: 'figure', align: 'left' }, { header: 'Quest TS' }, { header: 'DBOS' }, { header: '× DBOS' }, { header: 'quest.py' }, { header: '× quest.py' },
  ], peerRows));
  report.add('peers', {
    dbosSequentialStepsPerS: DBOS.sequentialStepsPerS, dbosBytesPerStep: DBOS.bytesPerStepTable, questPyPersistentFileStepsPerS: QUEST_PY_PERSISTENT_FILE_STEPS_PER_S,
  });
  report.print('');

  // Verdict
  const missed: string[] = [];
  for (const result of sequential) {
    if (result.synchronous === 'full' && result.perSecond / fsyncPerS < TARGET_SEQUENTIAL_OF_FSYNC) {
      missed.push(`sequential N = ${formatInt(result.n)}: ${formatPercent(result.perSecond / fsyncPerS)} of fdatasync (target ≥ 70 %)`);
    }
  }
  for (const result of concurrent) {
    if (result.synchronous === 'full' && result.perSecond / fsyncPerS < TARGET_CONCURRENT_TIMES_FSYNC) {
      missed.push(`concurrent ${result.workflows} workflows: ${formatRatio(result.perSecond / fsyncPerS)} fdatasync (target ≥ 3×)`);
    }
  }
  // Sanity: every step's end record must reach the database (one transaction per sequential step, one row
  // per completed top-level step while the workflow runs); otherwise the figures above measure nothing.
  for (const result of [...sequential, ...concurrent]) {
    const steps = 'n' in result ? result.n : result.workflows * STEPS_PER_WORKFLOW;
    if (!wroteEveryStep(result.writes, steps)) {
      missed.push(`durability: ${formatInt(result.writes)} writes committed for ${formatInt(steps)} steps ` +
        `(${'n' in result ? 'sequential' : 'concurrent'}, synchronous ${result.synchronous}): step records are not being written`);
    }
  }
  for (const probe of size.probes) {
    if (probe.rows !== probe.steps) missed.push(`history: ${formatInt(probe.rows)} rows after ${formatInt(probe.steps)} completed steps (expected one each)`);
  }
  const perStep = size.probes.map((probe) => (probe.fileBytes + probe.walBytes - base.fileBytes) / probe.steps);
  const flat = perStep.length < 2 || Math.max(...perStep) <= 1.25 * Math.min(...perStep.slice(1));
  if (!flat) missed.push(`bytes per step not flat: ${perStep.map((bytes) => formatInt(bytes)).join(' / ')}`);
  report.print(missed.length === 0 ? 'Targets: all met.' : `Targets MISSED: ${missed.join('; ')}.`);
  report.print(`Total bench time ${formatDuration(now() - wallStart)}.`);
  report.finish({ quick, directory, fdatasyncReferencePerS: fsyncPerS, missed, totalMs: now() - wallStart });
}

try {
  await main();
} finally {
  rmSync(directory, { recursive: true, force: true });
}
