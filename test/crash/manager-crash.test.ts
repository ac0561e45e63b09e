/**
 * Durability of the WorkflowManager under kill -9. A child process (crash-child.ts) runs `sum` workflows over
 * a SqliteStore and keeps starting new ones; we kill it with SIGKILL at seeded random points, restart it on
 * the same database, and after the last kill let a final child finish everything. Each run appends to its own
 * log file (writeSync + fsync before the child goes on), and the checks read those logs, not the pipe:
 *
 * (a) a step, once reported complete (the workflow code ran past it: its end record was durable), is never
 *     executed again, in that process or any later one; and no process executes a step twice. A step in
 *     flight at a kill (executed, not reported) may run again in the next process;
 * (b) every workflow whose start() resolved is resumed by every later process until it has finished, and is
 *     in the final list, completed: none is lost, also those started after the last clean shutdown (one run
 *     per scenario ends gracefully with SIGTERM, later runs start more workflows);
 * (c) every result, in crash runs and at the end, equals the value computed here without Quest.
 *
 * Kill points: a 'progress' kill comes after the child reported K new things (a step reported complete for
 * the first time, a workflow started; K = 0: as soon as it has listed the workflows, i.e. while they replay), a
 * 'hold' kill while the M-th step execution of the process is held inside its body (a certain mid-step kill:
 * that step must run again). No two kills of the suite share a point. QUEST_CRASH_SEED repeats a run.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stepValue, stepsOf } from './crash-child.js';
import { seededRandom } from '../helpers.js';

const SEED = Number(process.env.QUEST_CRASH_SEED ?? 20250301);
const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const PROGRESS_KILLS = 19;
const HOLD_KILLS = 9;
const KILLS = PROGRESS_KILLS + HOLD_KILLS;
/** Progress kill points are drawn from 0..PROGRESS_RANGE-1, hold points from 1..HOLD_RANGE. */
const PROGRESS_RANGE = 160;
const HOLD_RANGE = 60;

function shuffle<T>(items: T[], next: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

interface Plan {
  kind: 'progress' | 'hold' | 'graceful' | 'finish';
  /** progress, graceful: new things reported before the signal; hold: which step execution to hold. */
  at: number;
}

/** The kill plans of both scenarios: distinct points across the suite, in a shuffled order, one graceful stop. */
function plans(): [Plan[], Plan[]] {
  const next = seededRandom(SEED);
  const progress = shuffle(range(0, PROGRESS_RANGE), next);
  const holds = shuffle(range(1, HOLD_RANGE + 1), next);
  const scenario = (index: number): Plan[] => {
    const kills: Plan[] = [
      ...progress.slice(index * PROGRESS_KILLS, (index + 1) * PROGRESS_KILLS).map((at): Plan => ({ kind: 'progress', at })),
      ...holds.slice(index * HOLD_KILLS, (index + 1) * HOLD_KILLS).map((at): Plan => ({ kind: 'hold', at })),
    ];
    shuffle(kills, next);
    // The clean shutdown comes early enough that many workflows are started (and killed) after it.
    const graceful: Plan = { kind: 'graceful', at: 20 + Math.floor(next() * 60) };
    kills.splice(4 + Math.floor(next() * 8), 0, graceful);
    return [...kills, { kind: 'finish', at: 0 }];
  };
  return [scenario(0), scenario(1)];
}

/** What one child process wrote to its log (complete lines only), and how it ended. */
interface Run {
  plan: Plan;
  lines: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Run one child on `directory` as `plan` says; `seen` holds the progress lines of earlier runs. */
async function runChild(directory: string, index: number, concurrency: number, plan: Plan, seen: Set<string>): Promise<Run> {
  const log = join(directory, `run-${String(index).padStart(2, '0')}.log`);
  const mode = plan.kind === 'finish' ? 'finish' : 'crash';
  const hold = plan.kind === 'hold' ? plan.at : 0;
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, join(directory, 'quest.sqlite'), log, String(concurrency), mode, String(hold)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  let signalled = false;
  const signal = (name: NodeJS.Signals): void => {
    if (signalled) return;
    signalled = true;
    child.kill(name);
  };
  const fresh = new Set<string>();
  let opened = false;
  // Read to the end, also after the signal: the pipe must not fill up while a graceful child closes.
  for await (const line of createInterface({ input: child.stdout })) {
    if (line.startsWith('error ')) signal('SIGKILL'); // the checks report it
    if (plan.kind === 'hold' && line.startsWith('holding ')) signal('SIGKILL');
    if (line === 'opened') opened = true;
    if ((line.startsWith('reported ') || line.startsWith('started ')) && !seen.has(line)) fresh.add(line);
    if (plan.kind === 'progress' && (plan.at === 0 ? opened : fresh.size >= plan.at)) signal('SIGKILL');
    // SIGTERM is handled (graceful close) once the child is open.
    if (plan.kind === 'graceful' && opened && fresh.size >= plan.at) signal('SIGTERM');
  }
  const [code, exitSignal] = await closed;
  const text = readFileSync(log, 'utf8');
  assert.ok(text.endsWith('\n'), `run ${index}: a log line was cut`);
  const lines = text.slice(0, -1).split('\n');
  for (const line of lines) if (line.startsWith('reported ') || line.startsWith('started ')) seen.add(line);
  const error = lines.find((line) => line.startsWith('error '));
  assert.equal(error, undefined, `run ${index} (${plan.kind} ${plan.at}): the child reported "${String(error)}"`);
  const expected = plan.kind === 'progress' || plan.kind === 'hold' ? 'killed by SIGKILL' : 'exit code 0';
  const actual = exitSignal === null ? `exit code ${String(code)}` : `killed by ${exitSignal}`;
  assert.equal(actual, expected, `run ${index} (${plan.kind} ${plan.at}) ended unexpectedly; stderr:\n${stderr}\nlast lines:\n${lines.slice(-5).join('\n')}`);
  assert.equal(stderr, '', `run ${index}: the child wrote to stderr`);
  return { plan, lines, code, signal: exitSignal };
}

/** The step keys of workflow `id` (see crash-child.ts). */
function stepKeys(id: string): string[] {
  const keys: string[] = [];
  for (let i = 0; i < stepsOf(indexOf(id)); i++) keys.push(String(i), ...(i % 4 === 3 ? [`${i}a`, `${i}b`] : []));
  return [...keys, 'L0', 'L1', 'R0', 'R1'];
}

function indexOf(id: string): number {
  assert.match(id, /^w\d+$/);
  return Number(id.slice(1));
}

/** The result of workflow `id`, computed without Quest from the step values. */
function expectedResult(id: string): number {
  const P = 1_000_000_007;
  const value = (key: string): number => stepValue(id, key);
  let total = 0;
  for (let i = 0; i < stepsOf(indexOf(id)); i++) {
    const stepResult = i % 4 === 3 ? (value(`${i}a`) * 7 + value(`${i}b`) * 3 + value(String(i))) % 1_000_003 : value(String(i));
    total = (total * 31 + stepResult) % P;
  }
  const side = (name: string): number => value(`${name}0`) * 5 + value(`${name}1`);
  return (((total * 31 + side('L')) % P) * 31 + side('R')) % P;
}

interface Stats {
  workflows: number;
  steps: number;
  executions: number;
  reExecuted: number;
  reExecutedUnheld: number;
  resumes: number;
  checkedResumes: number;
  startedAfterCleanStop: number;
  killedAfterCleanStop: number;
}

/** Check (a), (b) and (c) over the logs of all runs, in order. */
function check(runs: Run[]): Stats {
  /** Step "<id> <key>" -> the run in which it was first reported complete. */
  const reported = new Map<string, number>();
  /** Step -> the runs that executed it. */
  const executed = new Map<string, number[]>();
  const startedIn = new Map<string, number>();
  const holds: { run: number; step: string }[] = [];
  const finals = new Map<string, number>();
  const statuses = new Map<string, string>();
  let resumes = 0;
  let checkedResumes = 0;
  const graceful = runs.findIndex((run) => run.plan.kind === 'graceful');
  const killedAfterClean = new Set<string>();

  runs.forEach((run, r) => {
    const resumed = new Set<string>();
    for (const line of run.lines) {
      const [kind = '', id = '', key = ''] = line.split(' ');
      const where = `run ${r} (${run.plan.kind} ${run.plan.at}): "${line}"`;
      if (kind === 'error') assert.fail(`the child reported an error in ${where}`);
      if (kind === 'exec') {
        const stepId = `${id} ${key}`;
        assert.ok(stepKeys(id).includes(key), `unknown step in ${where}`);
        const first = reported.get(stepId);
        assert.equal(first, undefined, `(a) step ${stepId} executed again in ${where}, after it was reported complete in run ${String(first)}`);
        const runsOf = executed.get(stepId) ?? [];
        assert.ok(!runsOf.includes(r), `(a) step ${stepId} executed twice by one process, in ${where}`);
        executed.set(stepId, [...runsOf, r]);
      } else if (kind === 'reported') {
        const stepId = `${id} ${key}`;
        assert.ok(executed.has(stepId), `step ${stepId} reported but never executed, in ${where}`);
        if (!reported.has(stepId)) reported.set(stepId, r);
      } else if (kind === 'holding') {
        holds.push({ run: r, step: `${id} ${key}` });
      } else if (kind === 'started') {
        const before = startedIn.get(id);
        assert.equal(before, undefined, `(b) ${id} started again in ${where}: the one started in run ${String(before)} was lost`);
        assert.notEqual(run.plan.kind, 'finish', `the final run started ${id}`);
        startedIn.set(id, r);
      } else if (kind === 'resumed') {
        resumed.add(id);
        resumes++;
        if (graceful >= 0 && (startedIn.get(id) ?? -1) > graceful) killedAfterClean.add(id);
      } else if (kind === 'result' || kind === 'final') {
        assert.equal(Number(key), expectedResult(id), `(c) wrong result of ${id} in ${where}`);
        if (kind === 'final') finals.set(id, Number(key));
      } else if (kind === 'status') {
        statuses.set(id, key);
      }
    }
    // (b) Every workflow started before this run and not yet through all its steps is resumed by this run
    // (known once the run has listed them: it wrote 'opened').
    if (!run.lines.includes('opened')) return;
    checkedResumes++;
    for (const [id, started] of startedIn) {
      if (started >= r) continue;
      const unfinished = stepKeys(id).some((key) => !reported.has(`${id} ${key}`) || reported.get(`${id} ${key}`) === r);
      if (unfinished) assert.ok(resumed.has(id), `(b) ${id}, started in run ${started}, was not resumed by run ${r} (${run.plan.kind} ${run.plan.at})`);
    }
  });

  // (b), (c) The final run found every workflow ever started, finished each with the right result.
  const ids = [...finals.keys()].sort((a, b) => indexOf(a) - indexOf(b));
  assert.deepEqual(ids, range(0, ids.length).map((n) => `w${n}`), 'the workflows are w0..wN, without gaps');
  for (const id of startedIn.keys()) assert.ok(finals.has(id), `(b) ${id} was started in run ${String(startedIn.get(id))} and is lost`);
  for (const id of ids) assert.equal(statuses.get(id), 'completed', `(b) ${id} is not completed at the end`);
  assert.equal(statuses.size, ids.length);
  // Every step of every workflow ran and was reported.
  let steps = 0;
  for (const id of ids) {
    for (const key of stepKeys(id)) {
      assert.ok(reported.has(`${id} ${key}`), `step ${id} ${key} never reported`);
      steps++;
    }
  }
  // Mid-step kills: each held step ran again in a later process; and other kills hit steps in flight too.
  for (const { run, step } of holds) {
    assert.ok((executed.get(step) ?? []).some((r) => r > run), `held step ${step} (run ${run}) was not executed again after the kill`);
  }
  const reExecuted = [...executed].filter(([, runsOf]) => runsOf.length > 1).map(([step]) => step);
  const held = new Set(holds.map(({ step }) => step));
  assert.equal(holds.length, HOLD_KILLS, 'every hold kill held a step');
  assert.ok(reExecuted.length >= HOLD_KILLS, 'the kills hit steps in flight');
  assert.ok(checkedResumes > runs.length / 2, `only ${checkedResumes} runs got to list their workflows`);
  const startedAfterClean = [...startedIn.values()].filter((r) => r > graceful).length;
  assert.ok(startedAfterClean > 0 && killedAfterClean.size > 0, '(b) some workflows started after the clean stop crossed a kill');
  return {
    workflows: ids.length,
    steps,
    executions: [...executed.values()].reduce((sum, runsOf) => sum + runsOf.length, 0),
    reExecuted: reExecuted.length,
    reExecutedUnheld: reExecuted.filter((step) => !held.has(step)).length,
    resumes,
    checkedResumes,
    startedAfterCleanStop: startedAfterClean,
    killedAfterCleanStop: killedAfterClean.size,
  };
}

async function crashScenario(t: TestContext, concurrency: number, scenario: Plan[]): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), `quest-manager-crash-${concurrency}-`));
  const started = performance.now();
  try {
    const seen = new Set<string>();
    const runs: Run[] = [];
    for (const plan of scenario) runs.push(await runChild(directory, runs.length, concurrency, plan, seen));
    const stats = check(runs);
    const kills = runs.filter((run) => run.signal === 'SIGKILL').length;
    assert.equal(kills, KILLS);
    t.diagnostic(
      `${kills} kills + 1 clean stop, ${stats.workflows} workflows, ${stats.steps} steps, ${stats.executions} executions; ` +
        `${stats.reExecuted} steps ran again after a kill (${stats.reExecutedUnheld} without a hold); ${stats.resumes} resumes (checked in ${stats.checkedResumes} runs); ` +
        `${stats.startedAfterCleanStop} workflows started after the clean stop, ${stats.killedAfterCleanStop} of them crossed a kill; ` +
        `${Math.round(performance.now() - started)} ms`,
    );
    await rm(directory, { recursive: true, force: true });
  } catch (error) {
    if (error instanceof Error) error.message = `[QUEST_CRASH_SEED=${SEED}, logs kept in ${directory}] ${error.message}`;
    throw error;
  }
}

const [single, concurrent] = plans();

describe(`WorkflowManager survives kill -9 (seed ${SEED}; set QUEST_CRASH_SEED to repeat another)`, { concurrency: true }, () => {
  test(`one workflow at a time: ${KILLS} kills`, { timeout: 180_000 }, (t) => crashScenario(t, 1, single));
  test(`four workflows at a time: ${KILLS} kills`, { timeout: 180_000 }, (t) => crashScenario(t, 4, concurrent));
});
