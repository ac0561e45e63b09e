/**
 * The SQL of one-step workflows alone, without the manager: what SqliteStore's statements and commits cost per
 * workflow, and how many WAL frames they write, by page size. Each group transaction holds what a group
 * commit of the manager holds at 100,000 workflows started at once: the creation of `--group` workflows, the
 * step record (and history count) of the group before, and the finish (entry and history cleared) of the one
 * before that, through the store's own schema (MIGRATIONS) and statements (prepare, writeEntryRow,
 * writeRecords). Synchronous NORMAL and no checkpoint: the commits write the WAL and nothing else.
 *
 *   npx tsx bench/sqlite-statements.ts [--workflows=100000] [--group=64] [--runs=3]
 *                                      [--page-sizes=4096,8192,16384] [--drop-index=workflows_by_state]
 *
 * Each variant (every page size; with `--drop-index`, also 4 KiB pages without that index) runs `--runs` times,
 * the variants alternated so that the machine's moments fall on all of them alike; prints µs per workflow for
 * all of it and for the COMMITs alone, and WAL frames per workflow, medians, then the WAL frames of a group by
 * the table or index they belong to (docs/performance.md, "Tenth round"). Measures the TypeScript sources
 * through tsx, as most benchmarks here: the JSON and the rows are made by slower code than users run, the SQL
 * is the same.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { WorkflowEntry } from '../src/storage/store.js';
import { MIGRATIONS } from '../src/storage/sqlite-migrations.js';
import { entryRow, prepare, toRows, writeEntryRow, writeRecords } from '../src/storage/sqlite-statements.js';
import { FORMAT_VERSION, type StepEndRecord } from '../src/core/records.js';
import { median, numberOption, scratchDirectory, stringOption } from './harness.js';

const WORKFLOWS = numberOption('workflows', 100_000);
const GROUP = numberOption('group', 64);
const RUNS = numberOption('runs', 3);
const PAGE_SIZES = (stringOption('page-sizes') ?? '4096').split(',').map(Number);
const DROP_INDEX = stringOption('drop-index');
/** The group transactions of a run: two more than the creations need, for the last steps and finishes. */
const GROUPS = Math.ceil(WORKFLOWS / GROUP) + 2;

/** What one variant measures: a page size, and an index left out (or none). */
interface Variant {
  pageSize: number;
  without?: string;
}

interface Figures {
  totalUs: number;
  commitUs: number;
  frames: number;
  /** WAL frames by the B-tree (table or index) of their page. */
  framesByTree: Map<string, number>;
}

const directory = scratchDirectory('quest-bench-sqlite-statements-');
const startedAt = Date.now();
let databases = 0;

function entry(i: number, finished: boolean): WorkflowEntry {
  const base = { id: `w${i}`, type: 'single', args: [i], startedAt: startedAt + i, deleteOnFinish: false };
  return (finished ? { ...base, state: 'completed', finishedAt: Date.now(), result: i + 1 } : { ...base, state: 'running' }) as WorkflowEntry;
}

function stepRecord(i: number): StepEndRecord {
  return { v: FORMAT_VERSION, seq: 1, t: Date.now(), task: 'main', type: 'step_end', id: 'one', result: i + 1 };
}

/** Workflows [from, to) of the run (clamped). */
function* range(from: number, to: number): Generator<number> {
  for (let i = Math.max(0, from); i < Math.min(to, WORKFLOWS); i++) yield i;
}

/** A fresh database of the store's schema (its migrations) for `variant`: WAL, synchronous NORMAL, no checkpoint. */
function openDatabase(variant: Variant): { db: Database.Database; path: string } {
  const path = join(directory, `quest-${++databases}.sqlite`);
  const db = new Database(path);
  db.pragma(`page_size = ${variant.pageSize}`);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('wal_autocheckpoint = 0');
  for (const migration of MIGRATIONS) db.exec(migration);
  if (variant.without !== undefined) db.exec(`DROP INDEX ${variant.without}`);
  return { db, path };
}

function runOnce(variant: Variant): Figures {
  const { db, path } = openDatabase(variant);
  const statements = prepare(db);
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  let commitNs = 0n;
  const started = process.hrtime.bigint();
  for (let group = 0; group < GROUPS; group++) {
    const at = group * GROUP;
    begin.run();
    for (const i of range(at, at + GROUP)) writeEntryRow(statements, 'create', entryRow(entry(i, false)));
    for (const i of range(at - GROUP, at)) writeRecords(statements, `w${i}`, toRows({ append: [stepRecord(i)], remove: [] }), []);
    for (const i of range(at - 2 * GROUP, at - GROUP)) writeEntryRow(statements, 'finish', entryRow(entry(i, true)));
    const committing = process.hrtime.bigint();
    commit.run();
    commitNs += process.hrtime.bigint() - committing;
  }
  const totalUs = Number(process.hrtime.bigint() - started) / 1000 / WORKFLOWS;
  const framesByTree = walFramesByTree(db, `${path}-wal`, variant.pageSize);
  const frames = [...framesByTree.values()].reduce((sum, count) => sum + count, 0) / WORKFLOWS;
  db.close();
  rmSync(path, { force: true });
  return { totalUs, commitUs: Number(commitNs) / 1000 / WORKFLOWS, frames, framesByTree };
}

/**
 * The frames of the WAL at `walPath` (never checkpointed: every commit's frames are there) counted by the B-tree
 * their page belongs to now (SQLite's dbstat table); page 1 is the schema's, a page no B-tree holds is "free".
 * Frame layout: https://www.sqlite.org/walformat.html (a 32-byte header, then 24-byte frame headers, each
 * starting with its page number, big-endian).
 */
function walFramesByTree(db: Database.Database, walPath: string, pageSize: number): Map<string, number> {
  const owners = new Map<number, string>();
  for (const { name, pageno } of db.prepare<[], { name: string; pageno: number }>('SELECT name, pageno FROM dbstat').all()) owners.set(pageno, name);
  const wal = readFileSync(walPath);
  const byTree = new Map<string, number>();
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    const tree = owners.get(wal.readUInt32BE(at)) ?? 'free';
    byTree.set(tree, (byTree.get(tree) ?? 0) + 1);
  }
  return byTree;
}

const variants: Variant[] = PAGE_SIZES.map((pageSize) => ({ pageSize }));
if (DROP_INDEX !== undefined) variants.push({ pageSize: 4096, without: DROP_INDEX });
const results = variants.map(() => [] as Figures[]);
for (let run = 0; run < RUNS; run++) for (const [n, variant] of variants.entries()) results[n]?.push(runOnce(variant));
rmSync(directory, { recursive: true, force: true });

console.log(`${WORKFLOWS} one-step workflows in groups of ${GROUP}, medians of ${RUNS} runs, the variants alternated:`);
for (const [n, variant] of variants.entries()) {
  const runs = results[n] ?? [];
  const total = median(runs.map((r) => r.totalUs));
  const commit = median(runs.map((r) => r.commitUs));
  const name = `pages of ${variant.pageSize} B${variant.without === undefined ? '' : `, without ${variant.without}`}`;
  console.log(`  ${name.padEnd(46)} ${total.toFixed(2)} µs per workflow (runs ${runs.map((r) => r.totalUs.toFixed(1)).join(' / ')}), COMMIT ${commit.toFixed(2)}; ${median(runs.map((r) => r.frames)).toFixed(2)} WAL frames`);
  // The few frames of the schema's creation on trees the workflows never touch are left out.
  const byTree = [...(runs.at(-1)?.framesByTree ?? new Map<string, number>())].filter(([, count]) => count >= GROUPS / 10).sort((a, b) => b[1] - a[1]);
  console.log(`    WAL frames per group, by B-tree (last run): ${byTree.map(([tree, count]) => `${tree} ${(count / GROUPS).toFixed(1)}`).join(', ')}`);
}
