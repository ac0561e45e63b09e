/**
 * Authentication and authorization of the server. Identity is proven by credentials, never claimed: the
 * `authenticate` hook turns a request's credentials into a Principal (or refuses them), and the server passes
 * that identity to the manager. Nothing in a request body or query can change it.
 *
 * Built in: bearer tokens from a map or a JSON file ({@link bearerTokens}, {@link bearerTokensFile}), JWTs
 * verified with jose ({@link jwtAuth}), and a development mode that trusts a header ({@link trustHeader}),
 * which the server accepts only on loopback.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { ForbiddenError, UnauthenticatedError } from '../protocol/errors.js';
import type { Operation, Principal } from '../protocol/messages.js';
import { INSPECT_OPERATIONS } from '../protocol/inspect.js';

/** The inspection operations (workflow list, histories, versions, stats) need admin: histories hold private values. */
const INSPECT_ADMIN_OPERATIONS: readonly Operation[] = INSPECT_OPERATIONS;

/** What authentication sees of a request: its headers (lower-case names) and the peer's address. */
export interface AuthRequest {
  /** A request header, or undefined. Names are case-insensitive. */
  header(name: string): string | undefined;
  /** The peer's IP address (e.g. '127.0.0.1', '::1'). */
  readonly remoteAddress: string;
}

/**
 * Turns credentials into a principal: resolves with the anonymous principal when the request carries none,
 * rejects (UnauthenticatedError) when it carries credentials that are not valid.
 */
export type Authenticate = (request: AuthRequest) => Principal | Promise<Principal>;

/**
 * Decides whether `principal` may do `operation` (on workflow `workflowId`, id or alias as sent, for the
 * operations that name one). Resource visibility is decided by the workflow, not here.
 */
export type Authorize = (principal: Principal, operation: Operation | 'stream', workflowId: string | undefined) => boolean | Promise<boolean>;

/** The caller that sent no credentials: it sees public resources only. */
export const ANONYMOUS: Principal = Object.freeze({ identity: null, roles: Object.freeze([]) as readonly string[] });

/** Operations that need the `admin` role under {@link defaultAuthorize}. */
export const ADMIN_OPERATIONS: readonly (Operation | 'stream')[] = ['start', 'cancel', 'delete', 'list', ...INSPECT_ADMIN_OPERATIONS];

/**
 * The default authorization: start, cancel, delete, list and the inspection operations (workflows, history,
 * versions, stats) need the `admin` role; everything else is open
 * to every caller, anonymous included (what they can see and touch is then up to the workflow's resources).
 */
export const defaultAuthorize: Authorize = (principal, operation) => !ADMIN_OPERATIONS.includes(operation) || principal.roles.includes('admin');

/** Throws ForbiddenError unless `authorize` allows the operation. */
export async function checkAuthorized(authorize: Authorize, principal: Principal, operation: Operation | 'stream', workflowId: string | undefined): Promise<void> {
  if (!(await authorize(principal, operation, workflowId))) throw new ForbiddenError(operation);
}

/** The token of an `Authorization: Bearer <token>` header; undefined without one; Unauthenticated if malformed. */
export function bearerToken(request: AuthRequest): string | undefined {
  const header = request.header('authorization');
  if (header === undefined) return undefined;
  const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
  if (match === null) throw new UnauthenticatedError('The Authorization header is not "Bearer <token>"');
  return match[1];
}

/** Who a bearer token stands for. */
export interface TokenEntry {
  identity: string;
  roles?: string[];
}

/**
 * Authenticate with a fixed set of bearer tokens: `{ "<token>": { identity: 'ann', roles: ['admin'] } }`.
 * Tokens are compared in constant time; an unknown token is refused (never downgraded to anonymous).
 *
 * @example
 * new QuestServer(manager, { authenticate: bearerTokens({ 's3cret': { identity: 'ann', roles: ['admin'] } }) });
 */
export function bearerTokens(tokens: Record<string, TokenEntry>): Authenticate {
  const entries = Object.entries(tokens).map(([token, entry]) => {
    checkTokenEntry(token, entry);
    return { digest: digest(token), principal: principalOf(entry.identity, entry.roles ?? []) };
  });
  return (request) => {
    const token = bearerToken(request);
    if (token === undefined) return ANONYMOUS;
    const presented = digest(token);
    let found: Principal | undefined;
    // Compare against every entry, so that the time taken does not tell which one (nor how many) matched.
    for (const entry of entries) if (timingSafeEqual(entry.digest, presented)) found = entry.principal;
    if (found === undefined) throw new UnauthenticatedError('Unknown bearer token');
    return found;
  };
}

/**
 * {@link bearerTokens} read from a JSON file of the same shape (read once, now).
 *
 * @example
 * // tokens.json: { "ann-secret": { "identity": "ann" }, "root-secret": { "identity": "root", "roles": ["admin"] } }
 * bearerTokensFile('tokens.json')
 */
export function bearerTokensFile(path: string): Authenticate {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new TypeError(`Cannot read the tokens file ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new TypeError(`The tokens file ${path} must hold an object: { "<token>": { "identity": "ann", "roles": ["admin"] } }`);
  }
  return bearerTokens(parsed as Record<string, TokenEntry>);
}

/** Options of {@link jwtAuth}: one way to check signatures, and which claims carry identity and roles. */
export interface JwtOptions {
  /** HS256 shared secret. */
  secret?: string | Uint8Array;
  /** Public keys as a JWK set (RS256, ES256, EdDSA, ...). */
  jwks?: JSONWebKeySet;
  /** URL of a JWK set to fetch (and cache). */
  jwksUrl?: string | URL;
  /** Required `iss`, when set. */
  issuer?: string;
  /** Required `aud`, when set. */
  audience?: string;
  /** The claim holding the identity (default `sub`). */
  identityClaim?: string;
  /** The claim holding the roles, a string array (default `roles`). */
  rolesClaim?: string;
  /** Clock skew tolerated for `exp`/`nbf`, in seconds (default 5). */
  clockToleranceSeconds?: number;
}

/**
 * Authenticate with JWTs: the signature (HS256 secret, or public keys), `exp` (required), and `iss`/`aud` when
 * configured are checked; the identity comes from `sub` (or `identityClaim`), the roles from `roles`.
 *
 * @example
 * new QuestServer(manager, { authenticate: jwtAuth({ secret: process.env.QUEST_JWT_SECRET }) });
 */
export function jwtAuth(options: JwtOptions): Authenticate {
  const ways = [options.secret, options.jwks, options.jwksUrl].filter((way) => way !== undefined).length;
  if (ways !== 1) throw new TypeError('jwtAuth() needs exactly one of `secret`, `jwks` or `jwksUrl`.');
  const secret = typeof options.secret === 'string' ? new TextEncoder().encode(options.secret) : options.secret;
  if (secret !== undefined && secret.length < 32) throw new TypeError('jwtAuth(): an HS256 secret must have at least 32 bytes.');
  const keys =
    options.jwks !== undefined ? createLocalJWKSet(options.jwks) : options.jwksUrl !== undefined ? createRemoteJWKSet(new URL(options.jwksUrl)) : undefined;
  const verifyOptions = {
    issuer: options.issuer,
    audience: options.audience,
    requiredClaims: ['exp'],
    clockTolerance: options.clockToleranceSeconds ?? 5,
    algorithms: secret !== undefined ? ['HS256'] : undefined,
  };
  const identityClaim = options.identityClaim ?? 'sub';
  const rolesClaim = options.rolesClaim ?? 'roles';
  return async (request) => {
    const token = bearerToken(request);
    if (token === undefined) return ANONYMOUS;
    let payload: JWTPayload;
    try {
      payload = secret !== undefined ? (await jwtVerify(token, secret, verifyOptions)).payload : (await jwtVerify(token, keys!, verifyOptions)).payload;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new UnauthenticatedError(code === 'ERR_JWT_EXPIRED' ? 'The token has expired' : 'The token is not valid (signature, algorithm or claims)');
    }
    const identity = payload[identityClaim];
    if (typeof identity !== 'string' || identity.length === 0) throw new UnauthenticatedError(`The token has no ${identityClaim} claim`);
    const roles = payload[rolesClaim];
    return principalOf(identity, Array.isArray(roles) ? roles.filter((role): role is string => typeof role === 'string') : []);
  };
}

/**
 * Development only: trust the identity (and comma-separated roles) named in headers, e.g.
 * `x-quest-identity: ann`, `x-quest-roles: admin`. Anyone who can reach the server can claim any identity,
 * so the server refuses this unless it listens on loopback, refuses requests from other addresses, and warns
 * when it starts.
 *
 * @example
 * new QuestServer(manager, { authenticate: trustHeader(), host: '127.0.0.1' });
 */
export function trustHeader(options: { identityHeader?: string; rolesHeader?: string } = {}): Authenticate {
  const identityHeader = options.identityHeader ?? 'x-quest-identity';
  const rolesHeader = options.rolesHeader ?? 'x-quest-roles';
  const authenticate: Authenticate = (request) => {
    if (!isLoopback(request.remoteAddress)) throw new UnauthenticatedError('The development identity header is accepted from loopback only');
    const identity = request.header(identityHeader);
    if (identity === undefined || identity === '') return ANONYMOUS;
    const roles = (request.header(rolesHeader) ?? '').split(',').map((role) => role.trim()).filter((role) => role !== '');
    return principalOf(identity, roles);
  };
  return Object.assign(authenticate, { [DEVELOPMENT]: true });
}

/** Marks the authenticators that trust claimed identities (development mode). */
export const DEVELOPMENT = Symbol('quest.development');

/** True for an authenticator made by {@link trustHeader}. */
export function isDevelopmentAuth(authenticate: Authenticate): boolean {
  return (authenticate as { [DEVELOPMENT]?: boolean })[DEVELOPMENT] === true;
}

/** True for loopback addresses (IPv4 127/8, ::1, and IPv4-mapped loopback). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  return plain === '::1' || plain === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(plain);
}

function principalOf(identity: string, roles: readonly string[]): Principal {
  return Object.freeze({ identity, roles: Object.freeze([...roles]) });
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function checkTokenEntry(token: string, entry: TokenEntry): void {
  if (token.length < 8 || !/^[\x21-\x7e]+$/.test(token)) {
    throw new TypeError('Bearer tokens must be at least 8 printable ASCII characters without spaces.');
  }
  if (typeof entry !== 'object' || entry === null || typeof entry.identity !== 'string' || entry.identity === '') {
    throw new TypeError('Each bearer token needs { identity: "<non-empty string>", roles?: string[] }.');
  }
  if (entry.roles !== undefined && (!Array.isArray(entry.roles) || !entry.roles.every((role) => typeof role === 'string'))) {
    throw new TypeError(`The roles of identity ${JSON.stringify(entry.identity)} must be an array of strings.`);
  }
}
