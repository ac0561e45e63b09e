/**
 * The main job: the guessing game, played in the terminal, durable on the embedded SQLite default.
 *
 *   npm start                 # play; Ctrl-C at any moment
 *   npm start                 # ...and the game continues where it was, with the same secret number
 *
 * The database is `.quest/guessing-game.sqlite` (or $QUEST_DB). A finished game is deleted, so the next
 * `npm start` starts a new one.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { isSuspension } from '../../src/core/errors.js';
import { upgradeRecord } from '../../src/core/records.js';
import { visibleResources } from '../../src/inspect/resources.js';
import { WorkflowManager } from '../../src/manager/workflow-manager.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { guessingGame } from './game.js';

const GAME_ID = 'game';
const databasePath = process.env['QUEST_DB'] ?? '.quest/guessing-game.sqlite';
mkdirSync(dirname(databasePath), { recursive: true });

const store = await SqliteStore.open(databasePath);
// Greet a returning player before the manager resumes the game: its replay may print the prompt it was
// printing when the process stopped, and that prompt reads naturally after the greeting, not before it.
await welcomeBack();
const manager = await WorkflowManager.open({ store, workflows: { guessingGame } });
// Ctrl-C (or kill) suspends the game durably and exits; the next start resumes it.
manager.handleSignals();

const game = await manager.startWith('guessingGame', GAME_ID, [], { ifExists: 'resume' });

// Read guesses only once the game listens for them.
await manager.waitForResource(GAME_ID, 'guess', null);
const input = createInterface({ input: process.stdin, terminal: false });
const guesses = manager.queue<number>(GAME_ID, 'guess', null);
let finished = false;
input.on('close', () => {
  if (finished) return;
  // End of input (Ctrl-D): save the game and leave, like Ctrl-C.
  console.log('Your game is saved: run npm start to continue it.');
  manager.close().then(() => process.exit(0), (error: unknown) => {
    console.error(error);
    process.exit(1);
  });
});
input.on('line', (line) => {
  const guess = Number.parseInt(line.trim(), 10);
  if (Number.isNaN(guess)) {
    console.log('Please type a whole number.');
    return;
  }
  guesses.put(guess).catch((error: unknown) => console.error(`Could not send your guess: ${String(error)}`));
});

let tries: number;
try {
  tries = await game.result();
} catch (error) {
  // Ctrl-C suspended the game: the signal handler saves it and exits; nothing more to do here.
  if (isSuspension(error)) await new Promise<never>(() => undefined);
  throw error;
}
finished = true;
input.close();
await manager.delete(GAME_ID);
await manager.close();
console.log(`Thanks for playing (${tries} guesses). Run npm start again for a new game.`);

/** When a game is under way, say so with its latest hint, read from the stored history. */
async function welcomeBack(): Promise<void> {
  if ((await store.getWorkflow(GAME_ID))?.state !== 'running') return;
  const records = (await store.history(GAME_ID).load()).map(upgradeRecord);
  const view = visibleResources(records, null).find((resource) => resource.name === 'hint')?.view;
  const hint = typeof view === 'object' && view !== null && 'value' in view ? view.value : undefined;
  console.log(typeof hint === 'string' ? `Welcome back! Your game continues. ${hint}` : 'Welcome back! Your game continues.');
}
