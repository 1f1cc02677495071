import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HttpsJsonClient } from '../../../electron/gateway/client/https.nodejs';
import { GatewaySession } from '../../../electron/gateway/client/session.nodejs';
import { ensureTlsMaterial } from '../../../electron/gateway/sandbox/tls.nodejs';

/** The OAuth session against a small fake token endpoint (the boundary), with a movable clock. */
let dir: string;
let server: https.Server;
let url: string;
let pin: string;
let issued = 0;
let valid = new Set<string>();
let passwordsSeen: string[] = [];
let now = 1_000_000;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mkm-session-test-'));
  const material = await ensureTlsMaterial(dir);
  pin = material.pin;
  server = https.createServer({ key: material.keyPem, cert: material.certPem }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const send = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.url === '/oauth/token') {
        const form = new URLSearchParams(body);
        passwordsSeen.push(form.get('password') ?? '');
        if (form.get('grant_type') !== 'password' || form.get('password') !== 'pw-right')
          return send(401, { error: { code: 'UNAUTHORIZED', message: 'Bad credentials.' } });
        const token = `tok-${++issued}`;
        valid.add(token);
        return send(200, { access_token: token, token_type: 'Bearer', expires_in: 3600 });
      }
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      if (!valid.has(token)) return send(401, { error: { code: 'UNAUTHORIZED', message: 'Token expired.' } });
      return send(200, { token });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  issued = 0;
  valid = new Set();
  passwordsSeen = [];
  now = 1_000_000;
});

const session = (password = 'pw-right') =>
  new GatewaySession({
    http: new HttpsJsonClient({ baseUrl: url, tlsPinSha256: pin }),
    profileId: 'p1',
    username: 'merchant',
    secrets: { get: async () => password },
    clock: () => now,
  });

describe('GatewaySession', () => {
  it('signs in once and reuses the token until it is about to expire', async () => {
    const s = session();
    expect((await s.call({ method: 'GET', path: '/v1/x' })).body).toEqual({ token: 'tok-1' });
    expect((await s.call({ method: 'GET', path: '/v1/x' })).body).toEqual({ token: 'tok-1' });
    expect(issued).toBe(1);
    now += 3600_000 - 10_000; // inside the 30 s margin
    expect((await s.call({ method: 'GET', path: '/v1/x' })).body).toEqual({ token: 'tok-2' });
    expect(issued).toBe(2);
  });

  it('a token the gateway dropped early (401) is replaced once, transparently', async () => {
    const s = session();
    await s.call({ method: 'GET', path: '/v1/x' });
    valid.clear(); // the gateway restarted
    expect((await s.call({ method: 'GET', path: '/v1/x' })).body).toEqual({ token: 'tok-2' });
    expect(issued).toBe(2);
  });

  it('concurrent calls share one sign-in', async () => {
    const s = session();
    await Promise.all([1, 2, 3].map(() => s.call({ method: 'GET', path: '/v1/x' })));
    expect(issued).toBe(1);
  });

  it('bad credentials: GATEWAY_UNAUTHORIZED, without the password anywhere in the error', async () => {
    const s = session('pw-wrong-123');
    const error = (await s.call({ method: 'GET', path: '/v1/x' }).then(
      () => null,
      (e: unknown) => e,
    )) as Error;
    expect(error).toMatchObject({ code: 'GATEWAY_UNAUTHORIZED', details: { phase: 'sign-in' } });
    expect(JSON.stringify(error) + error.message + error.stack).not.toContain('pw-wrong-123');
    expect(passwordsSeen).toEqual(['pw-wrong-123']);
  });
});
