/**
 * Every way to forge an identity is refused (401/403/404), reveals nothing and changes nothing: on a real
 * server on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { WebSocket } from 'ws';
import { jwtAuth, trustHeader } from '../../src/server/auth.js';
import { QuestServer } from '../../src/server/server.js';
import { bearer, post, startServer, TOKENS } from './support.js';

/** The messages and close code of a stream connection, until the server closes it. */
function streamOnce(url: string, workflow: string, protocols: string[] = ['quest.v1'], headers: Record<string, string> = {}): Promise<{ messages: { type: string; error?: { name: string } }[]; code: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/stream?workflow=${workflow}`, protocols, { headers });
    const messages: { type: string }[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(String(data)) as { type: string }));
    ws.on('close', (code) => resolve({ messages, code }));
    ws.on('error', reject);
  });
}

describe('identity is proven, never claimed', () => {
  let served: Awaited<ReturnType<typeof startServer>>;
  /** ann's private queue, seen by ann herself (the manager, in process). */
  const annQueueSize = (): Promise<unknown> => served.manager.act('b1', 'inbox', 'ann', 'size');

  before(async () => {
    served = await startServer();
    await served.manager.start('box', 'b1', 'gift');
    await served.manager.waitForResource('b1', 'inbox', 'ann');
  });
  after(async () => {
    await served.close();
  });

  test('an identity in the body is ignored: the call runs as the token, and ann\'s queue is out of reach (404)', async () => {
    for (const headers of [{}, bearer(TOKENS.bob)]) {
      const forged = await post(served.url, 'act', { id: 'b1', resource: 'inbox', action: 'put', args: ['forged'], identity: 'ann' }, headers);
      assert.equal(forged.status, 404);
      assert.equal(forged.body.error?.fields?.code, 'RESOURCE_NOT_FOUND');
    }
    assert.equal(await annQueueSize(), 0);
  });

  test('a refusal reveals nothing: a private resource of another identity answers as one that does not exist', async () => {
    const privateOne = await post(served.url, 'act', { id: 'b1', resource: 'inbox', action: 'size', args: [] }, bearer(TOKENS.bob));
    const missing = await post(served.url, 'act', { id: 'b1', resource: 'nothere', action: 'size', args: [] }, bearer(TOKENS.bob));
    assert.equal(privateOne.status, missing.status);
    assert.equal(privateOne.body.error?.message.replace('inbox', 'X'), missing.body.error?.message.replace('nothere', 'X'));
    const listed = await post(served.url, 'resources', { id: 'b1' }, bearer(TOKENS.bob));
    assert.deepEqual((listed.body.value as { name: string }[]).map((r) => r.name).sort(), ['done', 'status']);
  });

  test('the development header is ignored when development mode is off', async () => {
    const forged = await post(served.url, 'act', { id: 'b1', resource: 'inbox', action: 'put', args: ['x'] }, { 'x-quest-identity': 'ann', 'x-quest-roles': 'admin' });
    assert.equal(forged.status, 404);
    const start = await post(served.url, 'start', { type: 'box', id: 'b2', args: ['x'] }, { 'x-quest-identity': 'root', 'x-quest-roles': 'admin' });
    assert.equal(start.status, 403);
    assert.equal(await served.manager.has('b2'), false);
    assert.equal(await annQueueSize(), 0);
  });

  test('an unknown or malformed token is 401 with WWW-Authenticate, never downgraded to anonymous', async () => {
    for (const authorization of ['Bearer not-a-token-at-all', 'Basic YW5uOmFubg==', 'Bearer', `Bearer ${TOKENS.ann}x`]) {
      const response = await fetch(`${served.url}/v1/whoami`, { method: 'POST', headers: { authorization }, body: '{}' });
      assert.equal(response.status, 401, authorization);
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer/);
      const body = (await response.json()) as { error: { name: string } };
      assert.equal(body.error.name, 'UnauthenticatedError');
    }
  });

  test('start, cancel, delete and list need the admin role (403); nothing changes', async () => {
    for (const [operation, body] of [['start', { type: 'box', id: 'b3', args: ['x'] }], ['cancel', { id: 'b1' }], ['delete', { id: 'b1' }], ['list', {}]] as const) {
      for (const headers of [{}, bearer(TOKENS.ann)]) {
        const refused = await post(served.url, operation, body, headers);
        assert.equal(refused.status, 403, operation);
        assert.equal(refused.body.error?.name, 'ForbiddenError');
      }
    }
    assert.equal(await served.manager.has('b3'), false);
    assert.equal((await served.manager.list()).find((info) => info.id === 'b1')?.status, 'running');
  });

  test('streams: a wrong token is refused with UNAUTHENTICATED (close 4401); another identity sees only public resources', async () => {
    const refused = await streamOnce(served.url, 'b1', ['quest.v1', `quest.bearer.${Buffer.from('wrong-token-123').toString('base64url')}`]);
    assert.equal(refused.code, 4401);
    assert.equal(refused.messages[0]?.error?.name, 'UnauthenticatedError');
    const headerRefused = await streamOnce(served.url, 'b1', ['quest.v1'], { authorization: 'Bearer wrong-token-123' });
    assert.equal(headerRefused.code, 4401);
  });

  test('whoami answers the identity the token proves', async () => {
    assert.deepEqual((await post(served.url, 'whoami', {}, bearer(TOKENS.ann))).body.value, { identity: 'ann', roles: [] });
    assert.deepEqual((await post(served.url, 'whoami', {})).body.value, { identity: null, roles: [] });
  });
});

describe('JWT authentication', () => {
  const secret = 'a-secret-of-at-least-32-bytes-long!!';
  let served: Awaited<ReturnType<typeof startServer>>;
  const sign = (claims: Record<string, unknown>, expiresIn: string | number, key = secret): Promise<string> =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject(String(claims['sub'] ?? 'ann')).setIssuedAt().setExpirationTime(expiresIn).sign(new TextEncoder().encode(key));

  before(async () => {
    served = await startServer({ authenticate: jwtAuth({ secret }) });
  });
  after(async () => {
    await served.close();
  });

  test('a valid token proves its subject and roles', async () => {
    const token = await sign({ sub: 'root', roles: ['admin'] }, '1h');
    assert.deepEqual((await post(served.url, 'whoami', {}, bearer(token))).body.value, { identity: 'root', roles: ['admin'] });
  });

  test('an expired, wrongly signed, unsigned or exp-less token is 401', async () => {
    const expired = await sign({ sub: 'root', roles: ['admin'] }, Math.floor(Date.now() / 1000) - 3600);
    const wrongKey = await sign({ sub: 'root', roles: ['admin'] }, '1h', 'another-secret-of-at-least-32-bytes!!');
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ sub: 'root', roles: ['admin'], exp: Math.floor(Date.now() / 1000) + 3600 })).toString('base64url');
    const unsigned = `${header}.${payload}.`;
    const noExp = await new SignJWT({ sub: 'root', roles: ['admin'] }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
    for (const [what, token] of [['expired', expired], ['wrong key', wrongKey], ['alg none', unsigned], ['no exp', noExp]] as const) {
      const refused = await post(served.url, 'start', { type: 'box', id: 'j1', args: ['x'] }, bearer(token));
      assert.equal(refused.status, 401, what);
      assert.equal(refused.body.error?.name, 'UnauthenticatedError');
    }
    assert.match((await post(served.url, 'whoami', {}, bearer(expired))).body.error?.message ?? '', /expired/);
    assert.equal(await served.manager.has('j1'), false);
  });

  test('call channel: an expired or wrongly signed token is refused at the upgrade (4401), in the header or the subprotocol; a valid one proves its subject', async () => {
    const expired = await sign({ sub: 'root', roles: ['admin'] }, Math.floor(Date.now() / 1000) - 3600);
    const wrongKey = await sign({ sub: 'root', roles: ['admin'] }, '1h', 'another-secret-of-at-least-32-bytes!!');
    for (const token of [expired, wrongKey]) {
      for (const carried of ['header', 'subprotocol'] as const) {
        const protocols = carried === 'header' ? ['quest.v1'] : ['quest.v1', `quest.bearer.${Buffer.from(token).toString('base64url')}`];
        const ws = new WebSocket(`${served.url.replace('http', 'ws')}/v1/calls`, protocols, carried === 'header' ? { headers: bearer(token) } : {});
        const answers: { id: unknown; status: number; error?: { name: string } }[] = [];
        ws.on('message', (data) => answers.push(JSON.parse(String(data)) as (typeof answers)[number]));
        ws.on('open', () => ws.send(JSON.stringify({ id: 1, operation: 'start', body: { type: 'box', id: 'j2', args: ['x'] } })));
        const code = await new Promise<number>((resolve) => ws.once('close', (closeCode) => resolve(closeCode)));
        assert.equal(code, 4401, carried);
        assert.deepEqual(answers.map((answer) => [answer.id, answer.status, answer.error?.name]), [[null, 401, 'UnauthenticatedError']], carried);
      }
    }
    assert.equal(await served.manager.has('j2'), false);
    const root = served.client(await sign({ sub: 'root', roles: ['admin'] }, '1h'), { transport: 'websocket' });
    try {
      assert.deepEqual(await root.whoami(), { identity: 'root', roles: ['admin'] });
    } finally {
      await root.close();
    }
  });
});

describe('JWT authentication with public keys', () => {
  test('an RS256 token verifies against the JWK set; one signed by another key is 401', async () => {
    const { generateKeyPair, exportJWK } = await import('jose');
    const trusted = await generateKeyPair('RS256');
    const stranger = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(trusted.publicKey)), kid: 'k1', alg: 'RS256' };
    const served = await startServer({ authenticate: jwtAuth({ jwks: { keys: [jwk] } }) });
    try {
      const sign = (key: Parameters<SignJWT['sign']>[0]): Promise<string> =>
        new SignJWT({ roles: ['admin'] }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setSubject('root').setExpirationTime('1h').sign(key);
      assert.deepEqual((await post(served.url, 'whoami', {}, bearer(await sign(trusted.privateKey)))).body.value, { identity: 'root', roles: ['admin'] });
      assert.equal((await post(served.url, 'whoami', {}, bearer(await sign(stranger.privateKey)))).status, 401);
    } finally {
      await served.close();
    }
  });
});

describe('development mode', () => {
  test('trusts the identity header only on loopback, and refuses to listen elsewhere', async () => {
    const served = await startServer({ authenticate: trustHeader(), logger: { warn: () => undefined, error: () => undefined } });
    try {
      const claimed = await post(served.url, 'whoami', {}, { 'x-quest-identity': 'ann', 'x-quest-roles': 'admin' });
      assert.deepEqual(claimed.body.value, { identity: 'ann', roles: ['admin'] });
      const exposed = new QuestServer(served.manager, { authenticate: trustHeader() });
      await assert.rejects(exposed.listen(0, '0.0.0.0'), /Development mode/);
    } finally {
      await served.close();
    }
  });
});
