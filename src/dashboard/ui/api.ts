/**
 * The page's one way to the server: Quest's client, with the signed-in token (kept in sessionStorage, so it
 * lasts as long as the tab and is never written to disk by the page), and errors in words.
 */
import { QuestClient } from '../../client/client.js';
import type { Principal } from '../../protocol/messages.js';

const TOKEN_KEY = 'quest.dashboard.token';

/** The token signed in with in this tab, if any. */
export function savedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** A client of the server that served the page, acting as `token`'s principal. */
export function clientFor(token: string): QuestClient {
  return new QuestClient(location.origin, { token, reconnect: { initialDelayMs: 200, maxDelayMs: 3000 } });
}

/** Who is signed in, and the client acting as them. */
export interface Session {
  client: QuestClient;
  principal: Principal;
  /** True when the principal has the admin role: admin-only controls are shown (the server still decides). */
  admin: boolean;
}

/** Check `token` with the server (whoami) and open a session. */
export async function signIn(token: string): Promise<Session> {
  const client = clientFor(token);
  const principal = await client.whoami();
  return { client, principal, admin: principal.roles.includes('admin') };
}

/** An error as the user reads it: the server's named error and its message. */
export function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}${typeof code === 'string' ? ` (${code})` : ''}: ${error.message}`;
  }
  return String(error);
}

/** The code of a named error, if it has one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
