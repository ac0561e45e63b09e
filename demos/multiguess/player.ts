/**
 * A player of the multi-user guessing game: joins with its token, reads guesses from stdin, and prints what its
 * stream shows (the public status, and its own turn: nobody else sees a player's `guess` queue).
 *
 *   npm run multiguess:player -- --name ann [--url http://127.0.0.1:8080] [--token ann-demo-token]
 *
 * When the server goes away the stream reconnects by itself (with backoff), and a guess that cannot be sent
 * is sent again until the server is back.
 */
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { QuestClient } from '../../src/client/client.js';
import { isQuestError } from '../../src/core/errors.js';
import { isServiceError } from '../../src/protocol/errors.js';
import type { ResourceInfo } from '../../src/core/resource-stream.js';
import type { GameResult, GameStatus, Guess } from './game.js';

const GAME_ID = 'multiguess';
/** How long a call is retried while the server cannot be reached before the player gives up. */
const RETRY_FOR_MS = 120_000;

const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    url: { type: 'string', default: 'http://127.0.0.1:8080' },
    token: { type: 'string' },
  },
});
if (values.name === undefined) {
  console.error('Say who plays: npm run multiguess:player -- --name ann');
  process.exit(2);
}
const me = values.name;
const client = new QuestClient(values.url, { token: values.token ?? `${me}-demo-token` });

/**
 * Run `call` again while it fails in a way a later attempt may fix (the server is down or restarting), or in a way
 * `alsoRetry` says may pass.
 */
async function retrying<T>(call: () => Promise<T>, alsoRetry: (error: unknown) => boolean = () => false): Promise<T> {
  const giveUpAt = Date.now() + RETRY_FOR_MS;
  for (let wait = 100; ; wait = Math.min(wait * 2, 2_000)) {
    try {
      return await call();
    } catch (error) {
      if (!(isRetryable(error) || alsoRetry(error)) || Date.now() > giveUpAt) throw error;
      await delay(wait);
    }
  }
}

/** Quest's errors and the service's (connection failed, server closing) say whether a later attempt may work. */
function isRetryable(error: unknown): boolean {
  return (isQuestError(error) || isServiceError(error)) && error.retryable;
}

const whoami = await retrying(() => client.whoami());
if (whoami.identity !== me) {
  console.error(`This token belongs to ${String(whoami.identity)}, not ${me}: pass --token with ${me}'s token.`);
  process.exit(2);
}

// Guesses are sent one after another, each once the player's own queue for the round is open.
let sending: Promise<void> = Promise.resolve();
const input = createInterface({ input: process.stdin, terminal: false });
input.on('line', (line) => {
  const guess = Number.parseInt(line.trim(), 10);
  if (Number.isNaN(guess)) {
    console.log('Please type a whole number.');
    return;
  }
  sending = sending.then(() => sendGuess(guess));
});

// A guess is for the latest round in which the stream showed this player's queue and no guess was sent yet.
let turn = 0;
let sentFor = 0;
let turnCame: (() => void) | undefined;
async function nextTurn(): Promise<number> {
  while (turn <= sentFor) await new Promise<void>((resolve) => (turnCame = resolve));
  return (sentFor = turn);
}

async function sendGuess(guess: number): Promise<void> {
  const round = await nextTurn();
  try {
    // Sent again after a lost answer, the guess names its round: the game ignores the copy.
    // After a server restart the game reopens this player's queue while it replays: wait for it, then put. The
    // queue seen may be closed again by the time the put arrives (the resumed game moved past it): wait for the
    // queue again; the guess names its round, so the game ignores it if that round is over.
    await retrying(
      async () => {
        await client.waitForResource(GAME_ID, 'guess');
        await client.queue<Guess>(GAME_ID, 'guess').put({ round, guess });
      },
      (error) => isQuestError(error, 'RESOURCE_NOT_FOUND'),
    );
  } catch (error) {
    console.log(`Could not send your guess ${guess}: ${String(error)}`);
  }
}

let joining: Promise<unknown> | undefined;
const printed = new Set<string>();
/** Print a line once, however often reconnected streams show it again. */
function say(line: string): void {
  if (printed.has(line)) return;
  printed.add(line);
  console.log(line);
}

function show(resources: ResourceInfo[]): void {
  const status = valueOf(resources, 'status') as GameStatus | undefined;
  if (status === undefined) return;
  if (!status.players.includes(me) && resources.some((r) => r.name === 'join')) {
    joining ??= retrying(() => client.identityQueue<string>(GAME_ID, 'join').put(me));
  }
  if (status.players.includes(me)) say(`joined as ${me}`);
  if (status.players.length > 0) say(`players: ${status.players.join(', ')}`);
  const finished = status.phase === 'over' ? status.round : status.round - 1;
  if (status.hints.length > 0) say(`round ${finished}: ${status.hints.join('; ')}`);
  if (status.phase === 'playing' && resources.some((r) => r.name === 'guess' && r.identity === me)) {
    say(`your turn: round ${status.round}`);
    turn = Math.max(turn, status.round);
    turnCame?.();
  }
}

function valueOf(resources: ResourceInfo[], name: string): unknown {
  const view = resources.find((r) => r.name === name)?.view;
  return typeof view === 'object' && view !== null && 'value' in view ? view.value : undefined;
}

const stream = client.resourceStream(GAME_ID);
for await (const snapshot of stream) show(snapshot.resources);
const { winner, secret, rounds, hints } = (await stream.result()) as GameResult;
// The last status may not have reached this stream before the result did (a stream keeps the latest only).
say(`round ${rounds}: ${hints.join('; ')}`);
say(`winner: ${winner} (the number was ${secret})`);
input.close();
process.exit(0);
