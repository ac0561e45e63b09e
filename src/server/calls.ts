/**
 * The call channel: calls as messages on one WebSocket (`/v1/calls`), for callers that make many calls. The
 * same operations, the same transport-neutral handler and the same answers as `POST /v1/<operation>`, as the
 * principal proven once at the upgrade; what HTTP pays per call (a request's headers, parsing them, a
 * response's headers) is paid once per connection.
 *
 * Limits, as for HTTP: a message over `maxMessageBytes` is answered PAYLOAD_TOO_LARGE (over twice that, the
 * socket layer stops reading and closes with 1009), calls in flight per connection are capped
 * (TOO_MANY_CALLS), and a caller that stops reading its answers is stopped being read from (the socket is
 * paused) until they drain, so that answers never pile up in the server's memory.
 */
import type { RawData, WebSocket } from 'ws';
import { BadRequestError, PayloadTooLargeError, ServerClosingError, TooManyCallsError } from '../protocol/errors.js';
import type { CallAnswer, Principal } from '../protocol/messages.js';
import { errorResult, type CallResult, type HandlerOptions, type QuestHandler } from './handler.js';

/** What a call channel needs from the server. */
export interface CallChannelDeps {
  handler: QuestHandler;
  logger: NonNullable<HandlerOptions['logger']>;
  /** Largest call message answered (larger ones: PAYLOAD_TOO_LARGE). */
  maxMessageBytes: number;
  maxCallsPerConnection: number;
  /** True once the server shuts down: new calls are answered SERVER_CLOSING. */
  closing(): boolean;
  /** Run one call, tracked for graceful shutdown. */
  track(call: Promise<CallResult>): Promise<CallResult>;
}

/** Longest string id of a call. */
const MAX_ID_LENGTH = 128;

/** The calls of one WebSocket, as `principal`. */
export class CallChannel {
  /** Resolves once the socket has closed. */
  readonly closed: Promise<void>;
  private inFlight = 0;
  /** Bytes of answers handed to the socket and not yet written to the network. */
  private unsent = 0;
  private readonly highWaterBytes: number;

  constructor(
    private readonly socket: WebSocket,
    private readonly principal: Principal,
    private readonly deps: CallChannelDeps,
  ) {
    this.highWaterBytes = Math.max(1024 * 1024, 4 * deps.maxMessageBytes);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('message', (data, isBinary) => this.received(data, isBinary));
  }

  /** Calls being answered now on this channel. */
  get callsInFlight(): number {
    return this.inFlight;
  }

  /** Close with `code` and `reason` once the answers already sent are written. */
  close(code: number, reason: string): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.close(code, reason);
  }

  private received(data: RawData, isBinary: boolean): void {
    if (isBinary) return this.refuse(null, new BadRequestError('call messages are JSON text frames'));
    // The server's sockets use ws's default binaryType ('nodebuffer'): a message is one Buffer.
    const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]);
    if (bytes.length > this.deps.maxMessageBytes) return this.refuse(leadingId(bytes.subarray(0, 600).toString('utf8')), new PayloadTooLargeError(this.deps.maxMessageBytes));
    const text = bytes.toString('utf8');
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return this.refuse(null, new BadRequestError('the message is not JSON'));
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      return this.refuse(null, new BadRequestError('a call message is an object { id, operation, body }'));
    }
    const { id, operation, body } = message as Record<string, unknown>;
    if (!isCallId(id)) return this.refuse(null, new BadRequestError(`"id" must be a string of at most ${MAX_ID_LENGTH} characters or a safe integer`));
    if (this.deps.closing()) return this.refuse(id, new ServerClosingError());
    if (typeof operation !== 'string') return this.refuse(id, new BadRequestError('"operation" must be a string'));
    // The handler also takes JSON text (from HTTP): a string here must not be read as a body.
    if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) return this.refuse(id, new BadRequestError('"body" must be a JSON object'));
    if (this.inFlight >= this.deps.maxCallsPerConnection) return this.refuse(id, new TooManyCallsError(this.deps.maxCallsPerConnection));
    this.inFlight++;
    void this.deps.track(this.deps.handler(operation, body ?? {}, this.principal)).then((result) => {
      this.inFlight--;
      this.send(id, result);
    });
  }

  private refuse(id: string | number | null, error: Error): void {
    this.send(id, errorResult(error, 'call', this.deps.logger));
  }

  /** Send one answer; stop reading the caller while its unread answers exceed the high-water mark. */
  private send(id: string | number | null, result: CallResult): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    const answer = { id, status: result.status, ...result.body } as CallAnswer;
    const frame = JSON.stringify(answer);
    const bytes = Buffer.byteLength(frame);
    this.unsent += bytes;
    if (this.unsent > this.highWaterBytes && !this.socket.isPaused) this.socket.pause();
    this.socket.send(frame, () => {
      this.unsent -= bytes;
      if (this.unsent <= this.highWaterBytes / 2 && this.socket.isPaused) this.socket.resume();
    });
  }
}

function isCallId(id: unknown): id is string | number {
  return (typeof id === 'string' && id.length <= MAX_ID_LENGTH) || Number.isSafeInteger(id);
}

/**
 * The id of a message too large to parse, when it leads the message as clients write it (`{"id":7,...`);
 * null otherwise. Lets the caller match the refusal to its call without the server parsing the whole message.
 */
function leadingId(text: string): string | number | null {
  const match = /^\s*\{\s*"id"\s*:\s*(-?\d{1,16}|"[^"\\]{0,128}")\s*,/.exec(text);
  if (match === null) return null;
  const parsed = JSON.parse(match[1] as string) as unknown;
  return isCallId(parsed) ? parsed : null;
}
