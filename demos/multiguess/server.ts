/**
 * The multi-user guessing game's server: one durable game on SQLite, served over HTTP and WebSocket.
 *
 *   npm run multiguess                          # serves http://127.0.0.1:8080 (--port, --players, --tokens)
 *   npm run multiguess:player -- --name ann     # in another terminal, and again with --name bob
 *
 * The database is `.quest/multiguess.sqlite` (or $QUEST_DB). Kill the server at any moment (even kill -9) and
 * start it again: the game goes on with the same secret, and the players reconnect by themselves. A finished
 * game is kept until the next start, which starts a new one.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { WorkflowManager } from '../../src/manager/workflow-manager.js';
import { QuestServer } from '../../src/server/server.js';
import { bearerTokens, bearerTokensFile, type TokenEntry } from '../../src/server/auth.js';
import { SqliteStore } from '../../src/storage/sqlite.js';
import { multiguess } from './game.js';

/** The game's workflow id. */
export const GAME_ID = 'multiguess';

/** Demo credentials: `<name>-demo-token` for each player, and an admin (who may list, cancel, delete games). */
export const DEMO_TOKENS: Record<string, TokenEntry> = Object.fromEntries([
  ['admin-demo-token', { identity: 'admin', roles: ['admin'] }],
  ...['ann', 'bob', 'cat', 'dan', 'eve'].map((name) => [`${name}-demo-token`, { identity: name }]),
]);

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env['PORT'] ?? '8080' },
    players: { type: 'string', default: '2' },
    tokens: { type: 'string' },
  },
});
const players = Number.parseInt(values.players, 10);
if (!Number.isInteger(players) || players < 1) {
  console.error(`--players takes a whole number of players (at least 1), not ${values.players}.`);
  process.exit(2);
}
const databasePath = process.env['QUEST_DB'] ?? '.quest/multiguess.sqlite';
mkdirSync(dirname(databasePath), { recursive: true });

const store = await SqliteStore.open(databasePath);
// A game that finished in a previous run is over: the admin (this program) starts a new one.
const previous = await store.getWorkflow(GAME_ID);
const manager = await WorkflowManager.open({ store, workflows: { multiguess } });
if (previous !== undefined && previous.state !== 'running') await manager.delete(GAME_ID);
const game = await manager.startWith('multiguess', GAME_ID, [players], { ifExists: 'resume' });

const server = new QuestServer(manager, { authenticate: values.tokens === undefined ? bearerTokens(DEMO_TOKENS) : bearerTokensFile(values.tokens) });
const { url } = await server.listen(Number.parseInt(values.port, 10), '127.0.0.1');
console.log(`listening on ${url}`);
console.log(previous?.state === 'running' ? 'the game goes on' : `a new game for ${players} players: waiting for them to join`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    // Close the server first (streams end with 1001: players reconnect later), then suspend the game durably.
    server.close().then(() => manager.close()).then(() => process.exit(0), (error: unknown) => {
      console.error(error);
      process.exit(1);
    });
  });
}

try {
  const { winner, secret, rounds } = await game.result();
  console.log(`winner: ${winner} (the number was ${secret}, ${rounds} rounds)`);
  console.log('The game is over. Ctrl-C to stop; the next start begins a new game.');
} catch (error) {
  // Stopping suspends the game: the signal handler exits.
  if (!stopping) throw error;
}
