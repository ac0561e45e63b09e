/**
 * `quest-ts/server`: serve a WorkflowManager over HTTP and WebSocket, with proven identities.
 *
 * @example
 * import { QuestServer, bearerTokensFile } from 'quest-ts/server';
 * const server = new QuestServer(manager, { authenticate: bearerTokensFile('tokens.json') });
 * console.log((await server.listen(8080)).url);
 */
export { QuestServer } from './server.js';
export type { QuestServerOptions } from './server.js';
export { createHandler, wireError, wireInfo } from './handler.js';
export type { CallResult, HandlerOptions, QuestHandler, ServedManager } from './handler.js';
export {
  ANONYMOUS,
  ADMIN_OPERATIONS,
  bearerTokens,
  bearerTokensFile,
  defaultAuthorize,
  isLoopback,
  jwtAuth,
  trustHeader,
} from './auth.js';
export type { AuthRequest, Authenticate, Authorize, JwtOptions, TokenEntry } from './auth.js';
export * from '../protocol/index.js';
export { DASHBOARD_PATH } from './dashboard-route.js';
export type { InspectStore } from './inspect-operations.js';
