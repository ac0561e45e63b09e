/** A raw call channel (`/v1/calls`) for the tests: send messages, await answers by id, see how it closed. */
import { WebSocket } from 'ws';
import type { CallAnswer } from '../../src/protocol/messages.js';
import { untilSettled } from '../helpers.js';

export interface RawChannel {
  ws: WebSocket;
  /** Every answer received, in order. */
  answers: CallAnswer[];
  /** Send one message (an object is sent as JSON text). */
  send(message: unknown): void;
  /** The answer with `id` (waits for it). */
  answer(id: string | number | null): Promise<CallAnswer>;
  /** Resolves with the close code and reason. */
  closed: Promise<[number, string]>;
}

/** Open a call channel with `token` (sent as Node clients send it, in the Authorization header) or headers. */
export async function rawChannel(url: string, options: { token?: string; headers?: Record<string, string> } = {}): Promise<RawChannel> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/calls`, ['quest.v1'], { headers });
  const answers: CallAnswer[] = [];
  ws.on('message', (data) => answers.push(JSON.parse(String(data)) as CallAnswer));
  const closed = new Promise<[number, string]>((resolve) => ws.once('close', (code, reason) => resolve([code, String(reason)])));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return {
    ws,
    answers,
    closed,
    send: (message) => ws.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message)),
    answer: async (id) => {
      await untilSettled(() => answers.some((answer) => answer.id === id), 1_000_000);
      return answers.find((answer) => answer.id === id) as CallAnswer;
    },
  };
}
