import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SqliteStore } from '../../src/storage/sqlite.js';

/**
 * The player: first two guesses that cannot win (0 and 101, so the game always reaches the interruption),
 * then a binary search driven by the game's hints, across both processes.
 */
class Player {
  low = 1;
  high = 100;
  sent = 0;
  readonly hints: Array<[number, 'low' | 'high']> = [];
  next(): number {
    this.sent++;
    if (this.sent === 1) return 0;
    if (this.sent === 2) return 101;
    return Math.floor((this.low + this.high) / 2);
  }
  learn(line: string): void {
    const match = /^(\d+) is too (low|high)\.$/.exec(line);
    if (match === null) return;
    const guess = Number(match[1]);
    const way = match[2] as 'low' | 'high';
    this.hints.push([guess, way]);
    if (way === 'low') this.low = guess + 1;
    else this.high = guess - 1;
  }
}

function startGame(database: string): { child: ChildProcessWithoutNullStreams; lines: AsyncIterableIterator<string>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'demos/guessing-game/main.ts'], {
    env: { ...process.env, QUEST_DB: database },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let errors = '';
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => {
    if (errors.trim() !== '') console.error(errors);
    resolve(code);
  }));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return { child, lines, exited };
}

/** The secret the first process recorded (the result of its pickSecret step), read from the database. */
async function secretInHistory(database: string): Promise<number> {
  const store = await SqliteStore.open(database);
  try {
    const records = await store.history('game').load();
    const picked = records.find((record) => record.type === 'step_end' && record.id === 'main/pickSecret');
    assert.ok(picked !== undefined && picked.type === 'step_end', 'the secret is recorded');
    return picked.result as number;
  } finally {
    await store.close();
  }
}

async function nextLine(lines: AsyncIterableIterator<string>): Promise<string> {
  const { value, done } = await lines.next();
  assert.ok(done !== true, 'the game ended its output early');
  return value;
}

test('the guessing game survives Ctrl-C: a restart continues the same game with the same secret', { timeout: 60_000 }, async () => {
  const directory = await mkdtemp(join(tmpdir(), 'quest-game-'));
  const database = join(directory, 'game.sqlite');
  const player = new Player();
  try {
    // First process: answer two prompts, then interrupt it while it waits for the third guess.
    const first = startGame(database);
    for (;;) {
      const line = await nextLine(first.lines);
      player.learn(line);
      if (line === 'Guess #3:') break;
      if (/^Guess #\d+:$/.test(line)) first.child.stdin.write(`${player.next()}\n`);
    }
    assert.equal(player.hints.length, 2);
    first.child.kill('SIGINT');
    assert.equal(await first.exited, 0, 'Ctrl-C suspends the game and exits cleanly');
    const recordedSecret = await secretInHistory(database);

    // Second process: the game continues where it was.
    const second = startGame(database);
    const welcome = await nextLine(second.lines);
    assert.match(welcome, /^Welcome back! Your game continues\. Guess #2 was \d+ is too (low|high)\.$/);
    second.child.stdin.write(`${player.next()}\n`);
    let result = '';
    for (;;) {
      const line = await nextLine(second.lines);
      player.learn(line);
      if (line.startsWith('Correct!')) {
        result = line;
        break;
      }
      assert.doesNotMatch(line, /^I am thinking/, 'a resumed game does not start over');
      if (/^Guess #\d+:$/.test(line)) second.child.stdin.write(`${player.next()}\n`);
    }
    const [, secret, tries] = /^Correct! The number was (\d+); you found it in (\d+) guesses\.$/.exec(result) ?? [];
    // The secret is the one recorded before the interruption, and agrees with every hint: it is the same game.
    assert.equal(Number(secret), recordedSecret);
    for (const [guess, way] of player.hints) assert.ok(way === 'low' ? Number(secret) > guess : Number(secret) < guess);
    assert.equal(Number(tries), player.sent, 'guesses from both processes count in one game');
    assert.equal(await second.exited, 0);

    // A finished game is deleted: the next start is a new game.
    const third = startGame(database);
    assert.equal(await nextLine(third.lines), 'I am thinking of a number between 1 and 100.');
    third.child.kill('SIGINT');
    assert.equal(await third.exited, 0);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('after a kill -9 the returning player is greeted first, before any prompt the resumed game prints', { timeout: 60_000 }, async () => {
  const directory = await mkdtemp(join(tmpdir(), 'quest-game-'));
  const database = join(directory, 'game.sqlite');
  const player = new Player();
  try {
    const first = startGame(database);
    for (;;) {
      const line = await nextLine(first.lines);
      player.learn(line);
      if (line === 'Guess #2:') break;
      if (/^Guess #\d+:$/.test(line)) first.child.stdin.write(`${player.next()}\n`);
    }
    first.child.kill('SIGKILL');
    await first.exited;

    const second = startGame(database);
    try {
      assert.match(await nextLine(second.lines), /^Welcome back! Your game continues\. Guess #1 was \d+ is too (low|high)\.$/);
    } finally {
      second.child.kill('SIGKILL');
    }
    await second.exited;
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
