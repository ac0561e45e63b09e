/**
 * `quest-ts/client`: call a Quest server's workflows and follow their resources, from Node 20 or a browser.
 *
 * @example
 * import { QuestClient } from 'quest-ts/client';
 * const client = new QuestClient<typeof workflows>('http://localhost:8080', { token });
 */
export { QuestClient } from './client.js';
export type { QuestClientOptions, RemoteWorkflowHandle } from './client.js';
export { RemoteResourceStream } from './stream.js';
export type { ReconnectOptions, StreamOutcome, WebSocketConstructor, WebSocketLike } from './stream.js';
export { QueueProxy, StateProxy, EventProxy, IdentityQueueProxy } from '../core/resource-proxies.js';
export { isQuestError } from '../core/errors.js';
export * from '../protocol/index.js';
export type { VersionUsage } from '../inspect/versions.js';
export type { HistoryItem, PrunedGap } from '../inspect/history-view.js';
