/**
 * The kill -9 check shared by the crash tests (crash.test.ts: files and SQLite; cloud-crash.test.ts: S3 and
 * DynamoDB): a child process commits to several histories and reports each acknowledged commit; we kill it
 * after a (seeded) random number of acknowledgements, reopen the store and check that the history holds exactly
 * the state after the last acknowledged commit, or after the one in flight — never a partial commit, never
 * less. Ten kills per backend, on the same store, so that each child also recovers from the previous crash.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { HistoryRecord } from '../../src/core/records.js';
import type { Store } from '../../src/storage/store.js';
import { CRASH_HISTORIES, crashHistoryId, crashRecord } from './crash-child.js';
import { seededRandom } from '../helpers.js';

/** Kills per backend (each child also recovers from the previous crash). */
export const KILLS = 10;
export const SEED = Number(process.env.QUEST_CRASH_SEED ?? 20240611);
const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

/** The records left after commits 1..seq (commit s appends s and, when s is even, removes s - 1). */
function liveAfter(history: number, seq: number): HistoryRecord[] {
  const records: HistoryRecord[] = [];
  for (let s = 2; s <= seq; s += 2) records.push(crashRecord(history, s));
  if (seq % 2 === 1) records.push(crashRecord(history, seq));
  return records;
}

interface Round {
  /** Per history: the seq the child started from. */
  started: Map<number, number>;
  /** Per history: the last acknowledged seq. */
  acked: Map<number, number>;
}

/** Run one child until it has acknowledged `killAfter` commits, kill it, and return what it acknowledged. */
async function crashOnce(backend: string, location: string, killAfter: number): Promise<Round> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, backend, location], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  const round: Round = { started: new Map(), acked: new Map() };
  let acks = 0;
  // Read to the end, also after the kill: lines already in the pipe were acknowledged too.
  for await (const line of createInterface({ input: child.stdout })) {
    const [kind, history, seq] = line.split(' ');
    if (kind === 'start') round.started.set(Number(history), Number(seq));
    if (kind === 'ack') {
      round.acked.set(Number(history), Number(seq));
      if (++acks === killAfter) child.kill('SIGKILL');
    }
  }
  const [code, signal] = await closed;
  assert.equal(signal, 'SIGKILL', `the child ended by itself (code ${code}): ${stderr}`);
  return round;
}

/** Check each history against what was acknowledged; returns each history's last seq, the next round's base. */
async function verify(store: Store, base: Map<number, number>, round: Round, counts: { landed: number }): Promise<Map<number, number>> {
  const next = new Map<number, number>();
  for (let history = 0; history < CRASH_HISTORIES; history++) {
    const known = base.get(history) ?? 0;
    const started = round.started.get(history);
    if (started !== undefined) assert.equal(started, known, `history ${history}: the child found seq ${started}, expected ${known}`);
    const acked = round.acked.get(history) ?? known;
    const records = await store.history(crashHistoryId(history)).load();
    const last = records.at(-1)?.seq ?? 0;
    // The commit in flight at the kill may or may not have landed, but only whole.
    const expected = last === acked + 1 && started !== undefined ? liveAfter(history, acked + 1) : liveAfter(history, acked);
    assert.deepEqual(records, expected, `history ${history}: acknowledged up to ${acked}, found up to ${last}`);
    if (last > acked) counts.landed++;
    next.set(history, last);
  }
  return next;
}

/**
 * Kill a child writing to the store at `location` (a directory, or what the cloud backends take: see
 * crash-child.ts) `kills` times, checking after each kill what `open(location)` finds.
 */
export async function crashTest(
  t: TestContext, backend: string, location: string, open: (location: string) => Promise<Store>, seed: number, kills = KILLS,
): Promise<void> {
  const next = seededRandom(seed);
  const counts = { landed: 0, acks: 0 };
  {
    let base = new Map<number, number>();
    for (let kill = 0; kill < kills; kill++) {
      // Mostly early kills (mid-start, first commits), some after a few hundred commits.
      const killAfter = 1 + Math.floor(next() ** 2 * 400);
      const round = await crashOnce(backend, location, killAfter);
      const store = await open(location);
      try {
        base = await verify(store, base, round, counts);
        counts.acks += [...round.acked.values()].reduce((sum, seq) => sum + seq, 0) - [...round.started.values()].reduce((sum, seq) => sum + seq, 0);
      } finally {
        await store.close();
      }
    }
    t.diagnostic(`${counts.acks} acknowledged commits checked; ${counts.landed} times the commit in flight at the kill had landed`);
  }
}

