import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bearerTokens, isLoopback, jwtAuth, trustHeader, type AuthRequest } from '../../src/server/auth.js';

const request = (headers: Record<string, string>, remoteAddress = '127.0.0.1'): AuthRequest => ({
  header: (name) => headers[name.toLowerCase()],
  remoteAddress,
});

describe('authentication options are checked when they are made', () => {
  test('bearer tokens must be long, printable and name an identity', () => {
    assert.throws(() => bearerTokens({ short: { identity: 'ann' } }), TypeError);
    assert.throws(() => bearerTokens({ 'has a space': { identity: 'ann' } }), TypeError);
    assert.throws(() => bearerTokens({ 'long-enough-token': { identity: '' } }), TypeError);
    assert.throws(() => bearerTokens({ 'long-enough-token': { identity: 'ann', roles: 'admin' as never } }), TypeError);
  });

  test('jwtAuth needs exactly one key source, and an HS256 secret of 32 bytes or more', () => {
    assert.throws(() => jwtAuth({}), TypeError);
    assert.throws(() => jwtAuth({ secret: 'short' }), TypeError);
    assert.throws(() => jwtAuth({ secret: 'x'.repeat(32), jwksUrl: 'https://example.invalid/jwks' }), TypeError);
  });

  test('trustHeader refuses requests that do not come from loopback', async () => {
    const authenticate = trustHeader();
    assert.deepEqual(await authenticate(request({ 'x-quest-identity': 'ann' })), { identity: 'ann', roles: [] });
    await assert.rejects(Promise.resolve().then(() => authenticate(request({ 'x-quest-identity': 'ann' }, '10.0.0.7'))), { name: 'UnauthenticatedError' });
    assert.equal(isLoopback('::ffff:127.0.0.1'), true);
    assert.equal(isLoopback('::1'), true);
    assert.equal(isLoopback('0.0.0.0'), false);
  });
});
