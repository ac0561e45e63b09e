import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { QuestClient } from '../../src/client/client.js';
import { SqliteStore } from '../../src/storage/sqlite.js';

/** A child process whose output lines can be awaited by pattern (lines already printed count too). */
class Program {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly waiters: Array<{ pattern: RegExp; resolve(line: string): void }> = [];
  private errors = '';

  constructor(readonly child: ChildProcessWithoutNullStreams, readonly name: string) {
    child.stderr.on('data', (chunk: Buffer) => {
      this.errors += chunk.toString();
      if (process.env['QUEST_TEST_TRACE'] !== undefined) process.stderr.write(`${name} (stderr): ${chunk.toString()}`);
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      this.lines.push(line);
      if (process.env['QUEST_TEST_TRACE'] !== undefined) process.stderr.write(`${name}: ${line}\n`);
      for (const waiter of [...this.waiters]) {
        if (!waiter.pattern.test(line)) continue;
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    });
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  /** The first line (printed or to come) matching `pattern`; rejects if the program exits first. */
  waitFor(pattern: RegExp): Promise<string> {
    const seen = this.lines.find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return Promise.race([
      new Promise<string>((resolve) => this.waiters.push({ pattern, resolve })),
      this.exited.then((code) => {
        throw new Error(`${this.name} exited (${code}) before printing ${pattern}:\n${this.lines.join('\n')}\n${this.errors}`);
      }),
    ]);
  }

  write(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

function run(name: string, script: string, args: string[], env: Record<string, string> = {}): Program {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  return new Program(child, name);
}

async function startServer(database: string, port: number): Promise<{ server: Program; url: string; port: number }> {
  const server = run('server', 'demos/multiguess/server.ts', ['--port', String(port)], { QUEST_DB: database });
  const url = /^listening on (.*)$/.exec(await server.waitFor(/^listening on /))?.[1] ?? '';
  return { server, url, port: Number(new URL(url).port) };
}

/** The secret the game recorded (the result of its pickSecret step), read from the database of a killed server. */
async function secretInHistory(database: string): Promise<number> {
  const store = await SqliteStore.open(database);
  try {
    const records = await store.history('multiguess').load();
    const picked = records.find((record) => record.type === 'step_end' && record.id === 'main/pickSecret');
    assert.ok(picked !== undefined && picked.type === 'step_end', 'the secret is recorded');
    return picked.result as number;
  } finally {
    await store.close();
  }
}

test('two players over the network: the server is killed mid-game, restarts, the players reconnect by themselves and the game ends with the same secret', { timeout: 120_000 }, async (t) => {
  const directory = await mkdtemp(join(tmpdir(), 'quest-multiguess-'));
  const database = join(directory, 'game.sqlite');
  const programs: Program[] = [];
  // On a timeout, kill the children: the line being waited for then rejects, and `finally` cleans up.
  t.signal.addEventListener('abort', () => programs.forEach((program) => program.kill('SIGKILL')));
  try {
    const first = await startServer(database, 0);
    programs.push(first.server);
    const ann = run('ann', 'demos/multiguess/player.ts', ['--name', 'ann', '--url', first.url]);
    const bob = run('bob', 'demos/multiguess/player.ts', ['--name', 'bob', '--url', first.url]);
    programs.push(ann, bob);
    await ann.waitFor(/^joined as ann$/);
    await bob.waitFor(/^joined as bob$/);

    // Round 1 cannot be won (the secret is in 1..100), so the game is surely under way when the server dies.
    await Promise.all([ann.waitFor(/^your turn: round 1$/), bob.waitFor(/^your turn: round 1$/)]);
    const seenByAnn = await new QuestClient(first.url, { token: 'ann-demo-token' }).resources('multiguess');
    assert.deepEqual(seenByAnn.filter((r) => r.name === 'guess').map((r) => r.identity), ['ann'], 'a player sees only their own queue');
    ann.write('0');
    bob.write('101');
    for (const player of [ann, bob]) {
      const round1 = await player.waitFor(/^round 1: /);
      assert.match(round1, /ann: 0 is too low/);
      assert.match(round1, /bob: 101 is too high/);
      await player.waitFor(/^your turn: round 2$/);
    }

    first.server.kill('SIGKILL');
    await first.server.exited;
    const recordedSecret = await secretInHistory(database);
    let low = 1;
    let high = 100;
    // Sent while the server is down: the player program retries until it is back.
    ann.write(String(Math.floor((low + high) / 2)));
    const second = await startServer(database, first.port);
    programs.push(second.server);
    await second.server.waitFor(/^the game goes on$/);
    bob.write(String(Math.min(Math.floor((low + high) / 2) + 1, high)));

    const hints: Array<[number, string]> = [];
    for (let round = 2; ; round++) {
      const line = await ann.waitFor(new RegExp(`^round ${round}: `));
      for (const [, , guess, verdict] of line.matchAll(/(\w+): (\d+) is (right|too low|too high)/g)) {
        hints.push([Number(guess), verdict as string]);
        if (verdict === 'too low') low = Math.max(low, Number(guess) + 1);
        if (verdict === 'too high') high = Math.min(high, Number(guess) - 1);
      }
      if (line.includes(' is right')) break;
      assert.ok(round < 20, 'the binary search ends');
      const mid = Math.floor((low + high) / 2);
      ann.write(String(mid));
      bob.write(String(Math.min(mid + 1, high)));
    }

    const endings = await Promise.all([ann.waitFor(/^winner: /), bob.waitFor(/^winner: /), second.server.waitFor(/^winner: /)]);
    const secret = Number(/the number was (\d+)/.exec(endings[0])?.[1]);
    for (const ending of endings) assert.match(ending, new RegExp(`^winner: (ann|bob) \\(the number was ${secret}[,)]`));
    for (const [guess, verdict] of hints) assert.equal(verdict, guess === secret ? 'right' : guess < secret ? 'too low' : 'too high');
    assert.equal(await ann.exited, 0);
    assert.equal(await bob.exited, 0);
    second.server.kill('SIGTERM');
    assert.equal(await second.server.exited, 0);
    assert.equal(secret, recordedSecret, 'the game that ended is the one whose secret was recorded before the kill');
  } finally {
    for (const program of programs) program.kill('SIGKILL');
    await Promise.all(programs.map((program) => program.exited));
    await rm(directory, { recursive: true, force: true });
  }
});
