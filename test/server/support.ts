/** Helpers of the server and client tests: workflows with public and private resources, a real server on 127.0.0.1. */
import { event, queue, state } from '../../src/index.js';
import { WorkflowManager } from '../../src/manager/workflow-manager.js';
import { MemoryStore } from '../../src/storage/memory.js';
import type { Store, WorkflowEntry, WorkflowState } from '../../src/storage/store.js';
import type { WorkflowEntryPage, WorkflowPageQuery } from '../../src/storage/workflow-pages.js';
import { bearerTokens, type Authenticate } from '../../src/server/auth.js';
import { QuestServer, type QuestServerOptions } from '../../src/server/server.js';
import { QuestClient, type QuestClientOptions } from '../../src/client/client.js';

/** Tokens of the tests: an admin, and two players. */
export const TOKENS = {
  admin: 'admin-token-0001',
  ann: 'ann-token-00001',
  bob: 'bob-token-00001',
} as const;

export const tokenAuth: Authenticate = bearerTokens({
  [TOKENS.admin]: { identity: 'root', roles: ['admin'] },
  [TOKENS.ann]: { identity: 'ann' },
  [TOKENS.bob]: { identity: 'bob' },
});

/** The workflow types served in the tests. */
export const workflows = {
  /** A public status, a queue private to ann, a public `done` event; returns what ann sent. */
  box: async (label: string): Promise<string> => {
    await using status = await state('status', null, `open ${label}`);
    await using inbox = await queue<string>('inbox', 'ann');
    await using done = await event('done', null);
    const note = await inbox.get();
    await status.set(`got ${note}`);
    await done.wait();
    return `${label}: ${note}`;
  },
  /** A public counter set from outside; fails with a TypeError once `fail` is set. */
  counter: async (): Promise<number> => {
    await using count = await state('count', null, 0);
    await using fail = await event('fail', null);
    await fail.wait();
    throw new TypeError(`failed at ${await count.get()}`);
  },
  /** Only a queue private to ann: callers without ann's token can change nothing. */
  vault: async (): Promise<string> => {
    await using secret = await queue<string>('secret', 'ann');
    return await secret.get();
  },
};

export type Workflows = typeof workflows;

/** A manager over a memory store and a server on 127.0.0.1 (ephemeral port). */
export async function startServer(options: QuestServerOptions = {}, store: Store = new MemoryStore()): Promise<{
  manager: WorkflowManager<Workflows>;
  server: QuestServer;
  url: string;
  store: Store;
  client(token?: string, clientOptions?: QuestClientOptions): QuestClient<Workflows>;
  close(): Promise<void>;
}> {
  const manager = await WorkflowManager.open({ store, workflows, inboxPollMs: 0 });
  const server = new QuestServer(manager, { authenticate: tokenAuth, ...options });
  const { url } = await server.listen(0, '127.0.0.1');
  return {
    manager,
    server,
    url,
    store,
    client: (token, clientOptions = {}) => new QuestClient<Workflows>(url, { ...clientOptions, ...(token === undefined ? {} : { token }) }),
    close: async () => {
      await server.close();
      await manager.close();
    },
  };
}

/** A real MemoryStore that counts the reads of the whole list (listWorkflows), to see a call did not make one. */
export class CountingStore extends MemoryStore {
  lists = 0;
  /** The pages read, each by its query. */
  pages: WorkflowPageQuery[] = [];
  override listWorkflows(state?: WorkflowState): Promise<WorkflowEntry[]> {
    this.lists++;
    return super.listWorkflows(state);
  }
  override pageWorkflows(query: WorkflowPageQuery): Promise<WorkflowEntryPage> {
    this.pages.push(query);
    return super.pageWorkflows(query);
  }
}

/** POST a raw body to an operation; the status and parsed JSON answer. */
export async function post(url: string, operation: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: { value?: unknown; error?: { name: string; message: string; fields?: { code?: string } } } }> {
  const response = await fetch(`${url}/v1/${operation}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as never };
}

/** The bearer header of a token. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
