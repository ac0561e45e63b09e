/**
 * One resource stream on one WebSocket: the snapshots of a workflow's resources visible to the
 * authenticated identity, then the workflow's result or failure.
 *
 * Memory stays bounded whatever the reader's speed: the manager's stream is drained at once, and only the
 * latest snapshot waits while one frame is being written (the next frame goes when the socket has taken the
 * previous one). A slow reader so gets fewer, coalesced snapshots, never a growing backlog. Each WebSocket
 * has its own manager stream, so several listeners (on one identity or not) never share or steal snapshots,
 * and closing one ends only its own stream.
 */
import type { WebSocket } from 'ws';
import { isQuestError, isSuspension } from '../core/errors.js';
import type { ResourceSnapshot, ResourceStream } from '../core/resource-stream.js';
import { serialize } from '../core/serializer.js';
import { BadRequestError, isServiceError } from '../protocol/errors.js';
import { CLOSE, type Principal, type StreamMessage } from '../protocol/messages.js';
import { checkAuthorized, type Authorize } from './auth.js';
import { errorResult, wireError, type HandlerOptions, type ServedManager } from './handler.js';

/** What a stream session needs from the server. */
export interface StreamDeps {
  manager: ServedManager;
  authorize: Authorize;
  logger: NonNullable<HandlerOptions['logger']>;
}

/** The stream of workflow `workflowId` for `principal`, over `socket`. */
export class StreamSession {
  private stream: ResourceStream | undefined;
  /** The latest snapshot not yet sent (older ones were replaced: they coalesce). */
  private latest: ResourceSnapshot | undefined;
  /** The last message, sent after the latest snapshot, and the close that follows it. */
  private final: { message: StreamMessage | undefined; code: number; reason: string } | undefined;
  private sending = false;
  private closed = false;

  constructor(
    private readonly socket: WebSocket,
    private readonly workflowId: string,
    private readonly principal: Principal,
    private readonly deps: StreamDeps,
  ) {
    socket.on('close', () => this.stop());
    socket.on('message', () => {
      // Streams take no messages: say so (named error), keep streaming.
      this.sendNow({ type: 'error', error: wireError(new BadRequestError('a stream takes no messages from the client'), false) });
    });
  }

  /** Run the stream until the workflow stops or a side closes. Never throws. */
  async run(): Promise<void> {
    try {
      await checkAuthorized(this.deps.authorize, this.principal, 'stream', this.workflowId);
      this.stream = await this.deps.manager.resourceStream(this.workflowId, this.principal.identity);
    } catch (error) {
      // A finished workflow (or an id the manager does not run) ends the stream with its outcome, if any.
      if (isQuestError(error, 'WORKFLOW_NOT_FOUND') || isQuestError(error, 'WORKFLOW_FINISHED')) await this.finishWithOutcome(true);
      else this.refuse(error);
      return;
    }
    if (this.closed) {
      this.stream.end();
      return;
    }
    for await (const snapshot of this.stream) {
      this.latest = snapshot;
      this.flush();
    }
    if (!this.closed) await this.finishWithOutcome(false);
  }

  /** End this stream from the server's side (shutdown): the client reconnects later. */
  close(code: number, reason: string): void {
    this.end(undefined, code, reason);
  }

  /** The client went away (or the server closed): release the manager's stream. */
  private stop(): void {
    this.closed = true;
    this.latest = undefined;
    this.stream?.end();
  }

  /**
   * The manager's stream ended, or the workflow was not running when the stream was asked for: send the
   * workflow's outcome if it has one, or close so that the client retries (suspended).
   */
  private async finishWithOutcome(notRunning: boolean): Promise<void> {
    let message: StreamMessage;
    try {
      const value = await this.deps.manager.getResult(this.workflowId);
      message = { type: 'result', value: serialize(value, 'the result') };
    } catch (error) {
      if (isSuspension(error)) return this.end(undefined, CLOSE.suspended, 'the workflow is not running here now; reconnect later');
      if (notRunning && isQuestError(error, 'WORKFLOW_NOT_FOUND')) return this.refuse(error);
      if (isQuestError(error, 'NOT_SERIALIZABLE')) return this.refuse(error);
      message = { type: 'failed', error: wireError(error, true) };
    }
    // The outcome is the `result` operation's: only for callers allowed to ask for it.
    const allowed = await Promise.resolve(this.deps.authorize(this.principal, 'result', this.workflowId)).catch(() => false);
    this.end(allowed ? message : undefined, CLOSE.finished, 'the workflow finished');
  }

  /** Send an `error` message for `error`, then close with 4000 + its status. */
  private refuse(error: unknown): void {
    const { status, body } = errorResult(error, 'stream', this.deps.logger);
    const wire = 'error' in body ? body.error : wireError(error, false);
    this.end({ type: 'error', error: wire }, CLOSE.refusedBase + status, isServiceError(error) || isQuestError(error) ? error.code : 'INTERNAL');
  }

  private end(message: StreamMessage | undefined, code: number, reason: string): void {
    if (this.final !== undefined) return;
    this.final = { message, code, reason };
    this.stream?.end();
    this.flush();
  }

  /** Send the next frame unless one is being written: the latest snapshot, then the final message. */
  private flush(): void {
    if (this.sending || this.socket.readyState !== this.socket.OPEN) return;
    if (this.latest !== undefined) {
      const snapshot = this.latest;
      this.latest = undefined;
      this.sendThenFlush({ type: 'snapshot', ...snapshot });
      return;
    }
    const final = this.final;
    if (final === undefined) return;
    if (final.message !== undefined) {
      const message = final.message;
      final.message = undefined;
      this.sendThenFlush(message);
      return;
    }
    this.closed = true;
    this.socket.close(final.code, final.reason);
  }

  private sendThenFlush(message: StreamMessage): void {
    this.sending = true;
    this.socket.send(JSON.stringify(message), (error) => {
      this.sending = false;
      if (error === undefined || error === null) this.flush();
    });
  }

  /** An immediate message outside the snapshot flow (answers to stray client messages). */
  private sendNow(message: StreamMessage): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    // A client that sends without reading would grow these answers without bound: cut it off instead.
    if (this.socket.bufferedAmount > STRAY_ANSWERS_LIMIT) this.socket.terminate();
    else this.socket.send(JSON.stringify(message));
  }
}

/** Bytes of unread answers to stray client messages after which the connection is cut. */
const STRAY_ANSWERS_LIMIT = 1024 * 1024;
