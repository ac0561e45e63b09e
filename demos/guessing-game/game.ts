/**
 * The guessing game (quest.py's demo) as a Quest workflow. The secret is picked in a step, so it is recorded:
 * stop the program at any moment and the game continues with the same secret. Messages are steps too, so a
 * resumed game does not print old messages again.
 */
import { queue, state, step } from '../../src/index.js';

/** Print a line for the player (a step: printed once, never again on replay). */
export const say = step('say', async (message: string) => {
  console.log(message);
});

const pickSecret = step('pickSecret', async (low: number, high: number) => low + Math.floor(Math.random() * (high - low + 1)));

/**
 * Play one game: the player's guesses arrive on the public queue `guess`; the state `hint` tells a client
 * joining (or resuming) where the game stands. Resolves with the number of guesses it took.
 */
export async function guessingGame(low = 1, high = 100): Promise<number> {
  const secret = await pickSecret(low, high);
  await using hint = await state<string>('hint', null, `I am thinking of a number between ${low} and ${high}.`);
  await using guesses = await queue<number>('guess', null);
  await say(hint.get());
  for (let tries = 1; ; tries++) {
    await say(`Guess #${tries}:`);
    const guess = await guesses.get();
    if (guess === secret) {
      await say(`Correct! The number was ${secret}; you found it in ${tries} guesses.`);
      return tries;
    }
    const message = `${guess} is too ${guess < secret ? 'low' : 'high'}.`;
    await hint.set(`Guess #${tries} was ${message}`);
    await say(message);
  }
}
