/**
 * Benchmarks of the WorkflowManager: throughput of short workflows, resuming many suspended workflows when a
 * manager opens, and recovery after a `kill -9`, against quest.py's manager and DBOS.
 *
 *   npx tsx bench/manager.ts            tables on stdout (progress on stderr)
 *   npx tsx bench/manager.ts --json     one JSON document on stdout instead
 *   npx tsx bench/manager.ts --quick    fewer runs and smaller sizes (a smoke test)
 *   ... --dir=PATH                      put the databases under PATH, to measure that disk
 *
 * What is measured (SQLite: SqliteStore with its defaults, WAL and synchronous FULL, a fresh database each run):
 * 1. one-step workflows: W workflows (`async (i) => await one(i)`) started all at once through one manager
 *    (`start()` for each without waiting in between), then every result collected; time from the first
 *    start() to the last result, on MemoryStore and on SqliteStore. For information, SQLite one at a time: each
 *    workflow started and its result awaited before the next one (a durable round trip per workflow);
 * 2. resume on open: 1,000 workflows each wait on a queue after 3 completed steps; the manager is closed
 *    (which suspends them); then the time from `WorkflowManager.open()` until every one of them is waiting
 *    again (`waitForResource` on each: it resolves once that workflow's replay has caught up and its queue is
 *    open), and then from delivering one item to each queue until every result is in;
 * 3. recovery after SIGKILL (DBOS's scenario): a child process runs one workflow of 2,000 steps and is killed
 *    with SIGKILL once 1,000 steps are acknowledged; a second child process opens a manager over the same
 *    database and resumes it. Timed: from spawning the second child to the workflow's result (process start
 *    and module loading included, like DBOS's figure), and inside that child from the start of `open()` until
 *    replay caught up (first live step) and until the result. Steps that ran twice are counted (each child
 *    logs every step execution to a file with write(2), so the kill loses none).
 */
import { spawn } from 'node:child_process';
import { openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WorkflowManager, queue, step } from '../src/index.js';
import { MemoryStore } from '../src/storage/memory.js';
import { SqliteStore } from '../src/storage/sqlite.js';
import type { Store } from '../src/storage/store.js';
import { QUEST_PY_MANAGER_WORKFLOWS_PER_S } from './anchors.js';
import {
  Report,
  formatDuration,
  formatInt,
  formatRate,
  formatRatio,
  higherIsBetter,
  lowerIsBetter,
  machineLoad,
  median,
  measure,
  now,
  renderTable,
  scratchDirectory,
  stringOption,
  type Cell,
  type Timing,
} from './harness.js';

/** DBOS Transact TS 5.3.0 on local PostgreSQL 15 (/work/shared/anchors/dbos.md). */
const DBOS = {
  /** 1,000 one-step workflows started concurrently. */
  workflowsPerS: 455,
  /** N = 2,000 steps, SIGKILL at ~1,000, restart until complete. */
  recoveryMs: 3_995,
  /** Replay of the 1,000 completed steps in that recovery. */
  recoveryReplayMs: 885,
};

/** Workflows started one at a time (each awaited with its result before the next) in table 1. */
const ONE_BY_ONE = 500;
const RECOVERY_STEPS = 2_000;
const RECOVERY_KILL_AT = 1_000;

// -------------------------------------------------------------------------------------------------------------
// Workflows

const one = step('one', async (i: number) => i + 1);
const plus = step('plus', async (i: number) => i + 1);

const workflows = {
  /** One step: the manager's cost per workflow. */
  single: (i: number): Promise<number> => one(i),
  /** Three steps, then wait on a queue for one item. */
  waiter: async (i: number): Promise<number> => {
    let value = await plus(i);
    value = await plus(value);
    value = await plus(value);
    const q = await queue<number>('q', null);
    return value + (await q.get());
  },
};

// -------------------------------------------------------------------------------------------------------------
// Child process of 3 (this same file run with --child=crash|resume --db=PATH --log=PATH)

/**
 * A line for the parent on stdout: only the few it must react to (`reached`, `done`). A pipe can be full, and
 * what process.stdout then buffers in the process is lost at SIGKILL.
 */
function tell(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function child(mode: string, database: string, log: string): Promise<void> {
  // If the parent dies, nobody will kill us: leave when our stdin (its pipe) closes.
  process.stdin.on('end', () => process.exit(2));
  process.stdin.resume();
  // Every execution and acknowledgement goes to a file with write(2): once written, a SIGKILL cannot lose it.
  const logFd = openSync(log, 'a');
  const record = (line: string): void => {
    writeSync(logFd, `${line}\n`);
  };
  const crash = mode === 'crash';
  let live = false;
  const counted = step('counted', async (i: number) => {
    if (!live) {
      live = true;
      record(`live ${i} ${now()}`);
    }
    record(`exec ${i}`);
    return i;
  });
  const recovery = async (count: number): Promise<number> => {
    let sum = 0;
    for (let i = 0; i < count; i++) {
      sum += await counted(i);
      // Replayed steps record nothing: only the crashing child acknowledges, after the step is durable.
      if (crash) {
        record(`ack ${i}`);
        if (i + 1 === RECOVERY_KILL_AT) tell('reached');
      }
    }
    return sum;
  };
  record(`open ${now()}`);
  const manager = await WorkflowManager.open({ store: new SqliteStore(database), workflows: { recovery } });
  if (crash) await manager.start('recovery', 'recovery', RECOVERY_STEPS);
  const sum = await manager.getResult<number>('recovery');
  record(`done ${now()} ${sum}`);
  tell('done');
  await manager.close();
  process.exit(0);
}

// -------------------------------------------------------------------------------------------------------------
// 1. One-step workflows

let unique = 0;

function freshSqlite(directory: string, name: string): SqliteStore {
  return new SqliteStore(join(directory, `${name}-${++unique}.sqlite`));
}

interface ThroughputRun {
  ms: number;
  startsMs: number;
  transactions: number | undefined;
}

/** W one-step workflows started at once, all results collected; a fresh store and manager each time. */
async function throughputOnce(store: Store, count: number, oneByOne: boolean): Promise<ThroughputRun> {
  const manager = await WorkflowManager.open({ store, workflows });
  const transactionsBefore = store instanceof SqliteStore ? store.stats.transactions : 0;
  const start = now();
  let startsMs = 0;
  const results: number[] = [];
  if (oneByOne) {
    for (let i = 0; i < count; i++) results.push(await (await manager.start('single', `w${i}`, i)).result());
    startsMs = Number.NaN;
  } else {
    const handles = await Promise.all(Array.from({ length: count }, (_, i) => manager.start('single', `w${i}`, i)));
    startsMs = now() - start;
    results.push(...(await Promise.all(handles.map((handle) => handle.result()))));
  }
  const ms = now() - start;
  const transactions = store instanceof SqliteStore ? store.stats.transactions - transactionsBefore : undefined;
  await manager.close();
  for (const [i, result] of results.entries()) if (result !== i + 1) throw new Error(`workflow w${i} returned ${result}`);
  return { ms, startsMs, transactions };
}

interface ThroughputResult {
  store: 'memory' | 'sqlite';
  count: number;
  oneByOne: boolean;
  timing: Timing;
  startsMs: number;
  transactions: number | undefined;
  perSecond: number;
}

async function throughput(directory: string, kind: 'memory' | 'sqlite', count: number, runs: number, oneByOne = false): Promise<ThroughputResult> {
  const all: ThroughputRun[] = [];
  const timing = await measure(async () => {
    const run = await throughputOnce(kind === 'memory' ? new MemoryStore() : freshSqlite(directory, 'throughput'), count, oneByOne);
    all.push(run);
    return run.ms;
  }, { runs, warmup: 1 });
  const measured = all.slice(1);
  const transactions = kind === 'sqlite' ? median(measured.map((run) => run.transactions ?? 0)) : undefined;
  return {
    store: kind, count, oneByOne, timing, startsMs: median(measured.map((run) => run.startsMs)), transactions, perSecond: (count * 1000) / timing.medianMs,
  };
}

// -------------------------------------------------------------------------------------------------------------
// 2. Resume on open

interface ResumeRun {
  createMs: number;
  closeMs: number;
  openMs: number;
  allWaitingMs: number;
  eventsMs: number;
  reclosedMs: number;
}

function ids(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `waiter-${i}`);
}

async function resumeOnce(directory: string, count: number): Promise<ResumeRun> {
  const path = join(directory, `resume-${++unique}.sqlite`);
  const names = ids(count);
  // Create: every workflow has done its 3 steps and waits on its queue; then close (suspends them all).
  const first = await WorkflowManager.open({ store: new SqliteStore(path), workflows });
  let start = now();
  await Promise.all(names.map((id, i) => first.start('waiter', id, i)));
  await Promise.all(names.map((id) => first.waitForResource(id, 'q', null)));
  const createMs = now() - start;
  start = now();
  await first.close();
  const closeMs = now() - start;

  // Resume: open until every workflow is waiting again.
  start = now();
  const manager = await WorkflowManager.open({ store: new SqliteStore(path), workflows });
  const openMs = now() - start;
  await Promise.all(names.map((id) => manager.waitForResource(id, 'q', null)));
  const allWaitingMs = now() - start;

  // One item each, until every result.
  start = now();
  const results = await Promise.all(names.map(async (id, i) => {
    await manager.queue<number>(id, 'q', null).put(1_000_000);
    return { i, result: await manager.getResult<number>(id) };
  }));
  const eventsMs = now() - start;
  for (const { i, result } of results) if (result !== i + 3 + 1_000_000) throw new Error(`workflow waiter-${i} returned ${result}`);
  start = now();
  await manager.close();
  const reclosedMs = now() - start;
  return { createMs, closeMs, openMs, allWaitingMs, eventsMs, reclosedMs };
}

// -------------------------------------------------------------------------------------------------------------
// 3. Recovery after SIGKILL

interface ChildRun {
  /** The lines the child logged, in order. */
  lines: string[];
  /** Ms from spawn until the child said `done`. */
  spawnToDoneMs: number | undefined;
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

const SELF = fileURLToPath(import.meta.url);

/** Run this file as a child in `mode`, killing it with SIGKILL as soon as it says `reached` when `killOnReached`. */
async function runChild(mode: string, database: string, log: string, killOnReached: boolean): Promise<ChildRun> {
  const spawnedAt = now();
  const proc = spawn(process.execPath, ['--import', 'tsx', SELF, `--child=${mode}`, `--db=${database}`, `--log=${log}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => proc.on('close', (code, signal) => resolve([code, signal])));
  let spawnToDoneMs: number | undefined;
  for await (const line of createInterface({ input: proc.stdout })) {
    if (line === 'done') spawnToDoneMs = now() - spawnedAt;
    if (line === 'reached' && killOnReached) proc.kill('SIGKILL');
  }
  const [code, signal] = await exited;
  const lines = readFileSync(log, 'utf8').split('\n').filter((line) => line !== '');
  return { lines, spawnToDoneMs, signal, code, stderr };
}

interface RecoveryRun {
  killedAfter: number;
  spawnToDoneMs: number;
  childStartMs: number;
  openToLiveMs: number;
  openToDoneMs: number;
  firstLiveStep: number;
  completedReran: number;
  inFlightReran: number;
}

async function recoveryOnce(directory: string): Promise<RecoveryRun> {
  const name = join(directory, `recovery-${++unique}`);
  const database = `${name}.sqlite`;
  const crashed = await runChild('crash', database, `${name}-crash.log`, true);
  if (crashed.signal !== 'SIGKILL') throw new Error(`the crashing child ended by itself (code ${crashed.code}): ${crashed.stderr}`);
  const resumed = await runChild('resume', database, `${name}-resume.log`, false);
  if (resumed.code !== 0 || resumed.spawnToDoneMs === undefined) throw new Error(`the resuming child failed (code ${resumed.code}): ${resumed.stderr}`);

  const acked = crashed.lines.filter((line) => line.startsWith('ack ')).map((line) => Number(line.slice(4)));
  const lastAcked = Math.max(-1, ...acked);
  const executions = new Map<number, number>();
  for (const line of [...crashed.lines, ...resumed.lines]) {
    if (line.startsWith('exec ')) executions.set(Number(line.slice(5)), (executions.get(Number(line.slice(5))) ?? 0) + 1);
  }
  let completedReran = 0;
  let inFlightReran = 0;
  for (let i = 0; i < RECOVERY_STEPS; i++) {
    const runs = executions.get(i) ?? 0;
    if (runs === 0) throw new Error(`step ${i} never ran`);
    if (runs > 1 && i <= lastAcked) completedReran++;
    if (runs > 1 && i > lastAcked) inFlightReran++;
  }
  const field = (prefix: string): string[] => resumed.lines.find((line) => line.startsWith(prefix))?.split(' ') ?? [];
  const [, openAt] = field('open ');
  const [, firstLive, liveAt] = field('live ');
  const [, doneAt, sum] = field('done ');
  if (Number(sum) !== (RECOVERY_STEPS * (RECOVERY_STEPS - 1)) / 2) throw new Error(`the recovered workflow returned ${sum}`);
  return {
    killedAfter: lastAcked + 1,
    spawnToDoneMs: resumed.spawnToDoneMs,
    childStartMs: Number(openAt),
    openToLiveMs: Number(liveAt) - Number(openAt),
    openToDoneMs: Number(doneAt) - Number(openAt),
    firstLiveStep: Number(firstLive),
    completedReran,
    inFlightReran,
  };
}

// -------------------------------------------------------------------------------------------------------------
// Main

function spread(timing: Timing): string {
  return `${formatDuration(timing.minMs)} … ${formatDuration(timing.maxMs)}`;
}

function med(values: readonly number[]): string {
  return `${formatDuration(median(values))} (${formatDuration(Math.min(...values))} … ${formatDuration(Math.max(...values))})`;
}

async function main(): Promise<void> {
  const report = new Report('manager');
  const quick = process.argv.includes('--quick');
  const directory = scratchDirectory('quest-bench-manager-');
  const wallStart = now();
  const loadAtStart = machineLoad();
  try {
    // 1.
    const counts = quick ? [1_000] : [1_000, 10_000];
    const throughputs: ThroughputResult[] = [];
    for (const kind of ['memory', 'sqlite'] as const) {
      for (const count of counts) {
        report.note(`one-step workflows, ${kind}: ${formatInt(count)} ...`);
        throughputs.push(await throughput(directory, kind, count, quick ? 1 : count >= 10_000 ? 3 : 5));
      }
    }
    report.note(`one-step workflows, sqlite, one at a time: ${formatInt(ONE_BY_ONE)} ...`);
    throughputs.push(await throughput(directory, 'sqlite', ONE_BY_ONE, quick ? 1 : 3, true));

    // 2.
    const resumeCount = 1_000;
    const resumeRuns: ResumeRun[] = [];
    for (let run = 0; run < (quick ? 1 : 3); run++) {
      report.note(`resume on open: ${formatInt(resumeCount)} waiting workflows, run ${run + 1} ...`);
      resumeRuns.push(await resumeOnce(directory, resumeCount));
    }

    // 3.
    const recoveries: RecoveryRun[] = [];
    for (let run = 0; run < (quick ? 1 : 3); run++) {
      report.note(`recovery after SIGKILL, run ${run + 1} ...`);
      recoveries.push(await recoveryOnce(directory));
    }

    // Output -------------------------------------------------------------------------------------------------
    report.print([
      `Quest for TypeScript: WorkflowManager — node ${process.version}, ${process.platform}-${process.arch}${quick ? ', --quick (1 run per figure)' : ''}`,
      'SQLite: SqliteStore defaults (WAL, synchronous FULL, group commit), a fresh database per run.',
      `At the start: ${loadAtStart}; at the end: ${machineLoad()}.`,
      'Time figures: median (min … max) of the runs shown, after a warm-up run in table 1.',
      'Peers: /work/shared/anchors/quest-py.md (quest.py 0.2.15, in memory) and dbos.md (DBOS on PostgreSQL, durable).',
      '"× better": how many times better Quest for TypeScript is (higher rate, shorter time); above 1 means ahead.',
    ].join('\n'));
    report.print('');

    const throughputRows: Cell[][] = throughputs.map((result) => {
      const questPy = result.store === 'memory' && !result.oneByOne ? QUEST_PY_MANAGER_WORKFLOWS_PER_S[result.count] : undefined;
      const dbos = result.store === 'sqlite' && !result.oneByOne ? DBOS.workflowsPerS : undefined;
      report.add('oneStepWorkflows', {
        store: result.store, count: result.count, oneByOne: result.oneByOne, runsMs: result.timing.runs, medianMs: result.timing.medianMs,
        startsMs: result.oneByOne ? null : result.startsMs, workflowsPerS: result.perSecond, transactions: result.transactions ?? null,
        questPyWorkflowsPerS: questPy ?? null, dbosWorkflowsPerS: dbos ?? null,
      });
      return [
        result.store === 'memory' ? 'MemoryStore' : 'SqliteStore', formatInt(result.count), result.oneByOne ? 'one at a time' : 'all at once',
        result.timing.runs.length, formatDuration(result.timing.medianMs), spread(result.timing),
        result.oneByOne ? '—' : formatDuration(result.startsMs), formatRate(result.perSecond),
        result.transactions === undefined ? '—' : (result.transactions / result.count).toFixed(3),
        questPy === undefined ? '—' : formatRate(questPy), formatRatio(higherIsBetter(result.perSecond, questPy)),
        dbos === undefined ? '—' : formatRate(dbos), formatRatio(higherIsBetter(result.perSecond, dbos)),
      ];
    });
    report.print(renderTable('1. One-step workflows through one manager (first start() until the last result)', [
      { header: 'store', align: 'left' }, { header: 'workflows' }, { header: 'started', align: 'left' }, { header: 'runs' }, { header: 'median' },
      { header: 'min … max' }, { header: 'starts done' }, { header: 'workflows/s' }, { header: 'tx/workflow' },
      { header: 'quest.py (memory)' }, { header: '× quest.py' }, { header: 'DBOS (1,000)' }, { header: '× DBOS' },
    ], throughputRows));
    report.print('quest.py: 4,800 / 3,000 wf/s in memory for 1,000 / 10,000; DBOS: 455 wf/s for 1,000 started concurrently (PostgreSQL, durable).');
    report.print('"one at a time": each start() and its result awaited before the next start (information; no peer figure).');
    report.print('');

    const pick = (key: keyof ResumeRun): number[] => resumeRuns.map((run) => run[key]);
    const resumeRows: Cell[][] = [
      [`create ${formatInt(resumeCount)} workflows until all wait on their queue (3 steps each)`, med(pick('createMs')), ''],
      ['close the manager (suspends them all)', med(pick('closeMs')), ''],
      ['WorkflowManager.open() resolves', med(pick('openMs')), ''],
      [`open() until all ${formatInt(resumeCount)} are waiting again (replays caught up)`, med(pick('allWaitingMs')),
        `${((median(pick('allWaitingMs')) * 1000) / resumeCount).toFixed(0)} µs per workflow`],
      ['one item put into each queue until every result is in', med(pick('eventsMs')),
        `${formatRate((resumeCount * 1000) / median(pick('eventsMs')))} workflows/s`],
    ];
    for (const run of resumeRuns) report.add('resume', { workflows: resumeCount, ...run });
    report.print(renderTable(`2. Resume on open: ${formatInt(resumeCount)} suspended workflows, SqliteStore (${resumeRuns.length} runs)`, [
      { header: 'phase', align: 'left' }, { header: 'median (min … max)' }, { header: 'rate', align: 'left' },
    ], resumeRows));
    report.print('No peer measured this (DBOS recovers pending workflows one query per step; see 3).');
    report.print('');

    const rec = (key: keyof RecoveryRun): number[] => recoveries.map((run) => run[key]);
    const recoveryRows: Cell[][] = [
      ['steps acknowledged before the kill', rec('killedAfter').map((n) => formatInt(n)).join(' / '), `~${formatInt(RECOVERY_KILL_AT)}`, ''],
      ['restart (spawn of the new process) until the result', med(rec('spawnToDoneMs')), formatDuration(DBOS.recoveryMs),
        formatRatio(lowerIsBetter(median(rec('spawnToDoneMs')), DBOS.recoveryMs))],
      ['  of which process start and module loading (until open())', med(rec('childStartMs')), '—', ''],
      ['  open() until replay caught up (first live step)', med(rec('openToLiveMs')), formatDuration(DBOS.recoveryReplayMs),
        formatRatio(lowerIsBetter(median(rec('openToLiveMs')), DBOS.recoveryReplayMs))],
      ['  open() until the result', med(rec('openToDoneMs')), '—', ''],
      ['first step run live after the restart', rec('firstLiveStep').map((n) => formatInt(n)).join(' / '), '', ''],
      ['completed (acknowledged) steps run again', rec('completedReran').join(' / '), '0 in 19 runs', ''],
      ['in-flight step run again (at-least-once)', rec('inFlightReran').join(' / '), '13 of 19 runs', ''],
    ];
    for (const run of recoveries) report.add('recovery', { steps: RECOVERY_STEPS, ...run, dbosMs: DBOS.recoveryMs, dbosReplayMs: DBOS.recoveryReplayMs });
    report.print(renderTable(
      `3. Recovery after SIGKILL: one workflow of ${formatInt(RECOVERY_STEPS)} steps, child process killed after ~${formatInt(RECOVERY_KILL_AT)}, ` +
        `restarted in a new process (${recoveries.length} runs)`,
      [{ header: 'figure', align: 'left' }, { header: 'Quest TS' }, { header: 'DBOS' }, { header: '× DBOS' }],
      recoveryRows,
    ));
    report.print('The child runs `node --import tsx` (TypeScript compiled on load): its start is included, as process start is in DBOS\'s figure.');
    report.print('');
    const problems: string[] = [];
    const reran = recoveries.reduce((sum, run) => sum + run.completedReran, 0);
    if (reran > 0) problems.push(`${formatInt(reran)} completed steps ran again after the restart (their results were not durable)`);
    for (const run of recoveries) {
      if (run.firstLiveStep < run.killedAfter) problems.push(`a restart resumed live at step ${run.firstLiveStep}, before the ${formatInt(run.killedAfter)} acknowledged ones`);
    }
    report.print(problems.length === 0 ? 'Checks: no completed step ran twice; every restart resumed after the acknowledged steps.' : `Checks FAILED: ${problems.join('; ')}.`);
    report.print(`Total bench time ${formatDuration(now() - wallStart)}.`);
    report.finish({ quick, directory, problems, totalMs: now() - wallStart });
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

const childMode = stringOption('child');
if (childMode !== undefined) {
  await child(childMode, stringOption('db') ?? '', stringOption('log') ?? '');
} else {
  await main();
}
