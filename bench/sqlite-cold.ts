/**
 * Sequential durable steps on SQLite from a cold start: a fresh process's first 1,000 steps, against the disk's
 * fdatasync rate measured just before, and where the time of those steps goes, 100 steps at a time.
 *
 *   npm run bench:sqlite-cold               the compiled package (dist/), as users run it
 *   npm run bench:sqlite-cold -- --dir=PATH   put the databases (and the fdatasync probe) under PATH
 *
 * Three workflows of 1,000 trivial steps, one after the other, each on a database whose WAL is new: a fresh
 * database (the cold start: nothing compiled yet), a second fresh database (the JIT now warm), then the second
 * database opened again (its WAL was removed when it closed, as SQLite does). For each: steps/s as a share of
 * the fdatasync rate (the README's target: ≥ 70 %; the probe is measured first, then fdatasync after 8 KiB
 * appended and written in place), the milliseconds of every 100 steps, and the size of the
 * WAL at each hundredth step. What it showed (docs/performance.md, "Sequential steps from a cold start"): the
 * steps were slow while the WAL grew, whether the JIT was warm or not, and ran at the fdatasync rate once
 * SQLite restarted the WAL at its 1,000-page mark and wrote over it in place; so a store now fills its WAL
 * past that mark when it opens (src/storage/sqlite-wal.ts), and the WAL's size stays the same throughout.
 */
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Historian, step } from '../src/index.js';
import { SqliteStore } from '../src/storage/sqlite.js';
import { fdatasyncAppendMs, fdatasyncOverwriteMs, formatPercent, machineLoad, measuredCode, now, scratchDirectory } from './harness.js';

const STEPS = 1_000;
const EVERY = 100;
const FSYNC_N = 2_000;
/** The size of a small commit's WAL frames, two pages (a step adds 5–6 KiB to the WAL, as this bench prints). */
const WAL_BYTES_PER_COMMIT = 8 * 1024;

const directory = scratchDirectory('quest-bench-sqlite-cold-');
const trivial = step('trivial', async (i: number) => i);

/** What a run saw at every EVERY-th step: the time, and the size of the WAL. */
interface Marks {
  times: number[];
  walKiB: number[];
}

/** A workflow of `count` trivial steps that notes the time and the WAL's size every EVERY steps. */
function markedSteps(marks: Marks, walPath: string): (count: number) => Promise<number> {
  const walKiB = (): number => {
    try {
      return Math.round(statSync(walPath).size / 1024);
    } catch {
      return 0;
    }
  };
  return async (count: number) => {
    let sum = 0;
    for (let i = 0; i < count; i++) {
      if (i % EVERY === 0) {
        marks.times.push(now());
        marks.walKiB.push(walKiB());
      }
      sum += await trivial(i);
    }
    marks.times.push(now());
    return sum;
  };
}

async function run(label: string, file: string, fsyncPerSecond: number): Promise<void> {
  const path = join(directory, file);
  const marks: Marks = { times: [], walKiB: [] };
  const store = new SqliteStore(path);
  const id = `steps-${label}`;
  const historian = new Historian(id, markedSteps(marks, `${path}-wal`), store.history(id));
  const start = now();
  const sum = await historian.run(STEPS);
  const ms = now() - start;
  await store.close();
  if (sum !== (STEPS * (STEPS - 1)) / 2) throw new Error(`the workflow returned ${sum}`);
  const perSecond = (STEPS * 1000) / ms;
  const per100 = marks.times.slice(1).map((time, i) => (time - (marks.times[i] as number)).toFixed(0));
  process.stdout.write(`${label.padEnd(36)} ${perSecond.toFixed(0).padStart(6)} steps/s = ${formatPercent(perSecond / fsyncPerSecond).padStart(5)} of fdatasync\n`);
  process.stdout.write(`${''.padEnd(36)} ms per ${EVERY} steps: ${per100.join(' ')}\n`);
  process.stdout.write(`${''.padEnd(36)} WAL KiB at each ${EVERY}th step: ${marks.walKiB.join(' ')}\n`);
}

try {
  process.stdout.write(`Sequential durable steps on SQLite from a cold start — node ${process.version}; measuring ${measuredCode()}\n`);
  process.stdout.write(`${machineLoad()}\n`);
  const fsyncPerSecond = (FSYNC_N * 1000) / fdatasyncAppendMs(directory, FSYNC_N);
  process.stdout.write(`fdatasync after a 100 B append: ${fsyncPerSecond.toFixed(0)}/s (${(1e6 / fsyncPerSecond).toFixed(0)} µs)\n`);
  // What a commit of a few WAL pages costs the disk while the WAL grows, and once it is written over in place.
  const appended = (FSYNC_N * 1000) / fdatasyncAppendMs(directory, FSYNC_N, WAL_BYTES_PER_COMMIT);
  const inPlace = (FSYNC_N * 1000) / fdatasyncOverwriteMs(directory, FSYNC_N, WAL_BYTES_PER_COMMIT);
  process.stdout.write(`fdatasync after writing ${WAL_BYTES_PER_COMMIT / 1024} KiB: appended ${appended.toFixed(0)}/s, in place ${inPlace.toFixed(0)}/s\n\n`);
  await run('cold process, fresh database', 'first.sqlite', fsyncPerSecond);
  await run('warm JIT, fresh database', 'second.sqlite', fsyncPerSecond);
  await run('warm JIT, same database reopened', 'second.sqlite', fsyncPerSecond);
} finally {
  rmSync(directory, { recursive: true, force: true });
}
