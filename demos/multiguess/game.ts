/**
 * quest.py's multi-player guessing game as a Quest workflow. Players register through the public identity
 * queue `join` (each puts the name its credentials prove); once enough have joined, every round each player
 * guesses once through their own queue `guess` of a multiQueue (private: only that player sees it), and the
 * public state `status` shows everyone where the game stands. The secret is picked in a step, so a server
 * killed mid-game resumes the same game with the same secret.
 */
import { identityQueue, multiQueue, state, step, type State } from '../../src/index.js';

/** What the public state `status` shows every player. */
export interface GameStatus {
  phase: 'joining' | 'playing' | 'over';
  players: string[];
  /** The round being played (0 while players join). */
  round: number;
  /** What the last finished round's guesses told, one line per player (`ann: 50 is too low`). */
  hints: string[];
  winner: string | null;
}

/** How a game ended. */
export interface GameResult {
  winner: string;
  secret: number;
  rounds: number;
  /** What the last round's guesses told (as `GameStatus.hints`). */
  hints: string[];
}

/**
 * A guess names the round it is for: a guess sent twice (a retry after a lost answer) or late is ignored
 * rather than taken as the next round's guess.
 */
export interface Guess {
  round: number;
  guess: number;
}

const pickSecret = step('pickSecret', async (low: number, high: number) => low + Math.floor(Math.random() * (high - low + 1)));

/**
 * Play one game for `playerCount` players guessing a number in [low, high]. A round ends when every player has
 * guessed; the first correct guess of a round (in arrival order) wins.
 */
export async function multiguess(playerCount = 2, low = 1, high = 100): Promise<GameResult> {
  const secret = await pickSecret(low, high);
  await using status = await state<GameStatus>('status', null, { phase: 'joining', players: [], round: 0, hints: [], winner: null });
  const players = await register(playerCount, status);
  await status.set({ phase: 'playing', players, round: 1, hints: [], winner: null });
  for (let round = 1; ; round++) {
    const hints: string[] = [];
    let winner: string | null = null;
    // One private queue `guess` per player, each closed after that player's guess of this round.
    await using guesses = await multiQueue<Guess>('guess', players);
    for await (const [player, sent] of guesses) {
      if (sent?.round !== round || !Number.isInteger(sent.guess)) continue;
      await guesses.remove(player);
      const { guess } = sent;
      if (guess === secret && winner === null) winner = player;
      hints.push(`${player}: ${guess} is ${guess === secret ? 'right' : `too ${guess < secret ? 'low' : 'high'}`}`);
    }
    if (winner !== null) {
      await status.set({ phase: 'over', players, round, hints, winner });
      return { winner, secret, rounds: round, hints };
    }
    // The next round's status carries this round's hints.
    await status.set({ phase: 'playing', players, round: round + 1, hints, winner: null });
  }
}

/** Take registrations until `playerCount` distinct names have joined (a name joining twice counts once). */
async function register(playerCount: number, status: State<GameStatus>): Promise<string[]> {
  await using join = await identityQueue<string>('join');
  const players: string[] = [];
  while (players.length < playerCount) {
    const [, name] = await join.get();
    if (typeof name !== 'string' || name === '' || players.includes(name)) continue;
    players.push(name);
    await status.set({ ...status.get(), players: [...players] });
  }
  return players;
}
