import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayHttpError } from '../../../electron/gateway/client/https.nodejs';
import { HttpsJsonClient, type HttpsJsonClientOptions } from '../../../electron/gateway/client/https.nodejs';
import { ensureTlsMaterial, type TlsMaterial } from '../../../electron/gateway/sandbox/tls.nodejs';

/**
 * The HTTPS JSON client against small local TLS servers standing in for a gateway: pinning
 * (nothing sent to a wrong key), the error vocabulary, limits, truncation and retries.
 */
let dir: string;
let material: TlsMaterial;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mkm-https-test-'));
  material = await ensureTlsMaterial(dir);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

async function serve(handler: Handler): Promise<{ url: string; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const server = https.createServer({ key: material.keyPem, cert: material.certPem }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      hits.push(`${req.method} ${req.url}`);
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
};

const client = (url: string, more: Partial<HttpsJsonClientOptions> = {}) =>
  new HttpsJsonClient({ baseUrl: url, tlsPinSha256: material.pin, timeoutMs: 1500, backoffMs: 5, ...more });

const failure = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e as GatewayHttpError,
  );

describe('HttpsJsonClient: TLS', () => {
  it('accepts a self-signed gateway by its pin', async () => {
    const s = await serve((req, res, body) =>
      json(res, 200, { echo: JSON.parse(body), auth: req.headers.authorization }),
    );
    const r = await client(s.url).request({ method: 'POST', path: '/x', json: { a: 1 }, bearer: 't0k' });
    expect(r).toMatchObject({ status: 200, body: { echo: { a: 1 }, auth: 'Bearer t0k' } });
    await s.close();
  });

  it('refuses a wrong pin before a single byte of the request reaches the server', async () => {
    let received = 0;
    let connections = 0;
    const server = tls.createServer({ key: material.keyPem, cert: material.certPem }, (socket) => {
      socket.on('data', (chunk) => (received += chunk.length));
      socket.on('error', () => undefined);
    });
    // Once a connection's TCP socket has closed, no byte of it can still arrive.
    const closed: Promise<void>[] = [];
    server.on('connection', (raw: Socket) => {
      connections++;
      closed.push(new Promise((resolve) => raw.once('close', () => resolve())));
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const wrong = 'cd'.repeat(32);
    const error = await failure(
      client(`https://127.0.0.1:${port}`, { tlsPinSha256: wrong }).request({
        method: 'POST',
        path: '/oauth/token',
        form: { grant_type: 'password', username: 'u', password: 'secret-pw' },
      }),
    );
    expect(error).toMatchObject({
      code: 'GATEWAY_TLS_PIN_MISMATCH',
      details: { expected: wrong, served: material.pin },
    });
    expect(JSON.stringify(error?.toShape())).not.toContain('secret-pw');
    await Promise.all(closed);
    expect(connections).toBe(1);
    expect(received).toBe(0);
    // Control: with the right pin the same server does receive the request.
    await failure(
      client(`https://127.0.0.1:${port}`, { timeoutMs: 300 }).request({
        method: 'POST',
        path: '/x',
        json: {},
      }),
    );
    expect(connections).toBe(2);
    expect(received).toBeGreaterThan(0);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('without a pin verifies normally: an unknown self-signed certificate is refused, the same one as CA is accepted', async () => {
    const s = await serve((_req, res) => json(res, 200, { ok: true }));
    const noPin = await failure(
      client(s.url, { tlsPinSha256: undefined }).request({ method: 'GET', path: '/' }),
    );
    expect(noPin).toMatchObject({ code: 'GATEWAY_UNREACHABLE', details: { reason: 'tls' } });
    const withCa = await client(s.url, { tlsPinSha256: undefined, ca: material.certPem }).request({
      method: 'GET',
      path: '/',
    });
    expect(withCa.body).toEqual({ ok: true });
    await s.close();
  });

  it('refuses http:// and a malformed pin up front', () => {
    expect(() => new HttpsJsonClient({ baseUrl: 'http://127.0.0.1:1' })).toThrow(/https/);
    expect(() => new HttpsJsonClient({ baseUrl: 'https://127.0.0.1:1', tlsPinSha256: 'abc' })).toThrow(/pin/);
  });
});

describe('HttpsJsonClient: answers', () => {
  it('maps gateway error codes to ours and keeps the refusal body for the caller', async () => {
    const s = await serve((req, res) => {
      if (req.url === '/401') json(res, 401, { error: { code: 'UNAUTHORIZED', message: 'no' } });
      else if (req.url === '/429')
        json(res, 429, { error: { code: 'RATE_LIMITED', message: 'slow' } }, { 'retry-after': '7' });
      else if (req.url === '/409')
        json(res, 409, {
          error: { code: 'KEY_SET_USED', message: 'used' },
          next_key_set: { set_id: 'ks_x' },
        });
      else if (req.url === '/400') json(res, 400, { error: { code: 'MAC_INVALID', message: 'bad' } });
      else json(res, 404, { error: { code: 'NOT_FOUND', message: 'There is no such endpoint.' } });
    });
    const c = client(s.url);
    expect(await failure(c.request({ method: 'POST', path: '/401' }))).toMatchObject({
      code: 'GATEWAY_UNAUTHORIZED',
    });
    expect(await failure(c.request({ method: 'POST', path: '/429' }))).toMatchObject({
      code: 'GATEWAY_RATE_LIMITED',
      details: { retryAfterSeconds: 7 },
    });
    const used = await failure(c.request({ method: 'POST', path: '/409' }));
    expect(used).toMatchObject({
      code: 'KEY_SET_USED',
      status: 409,
      body: { next_key_set: { set_id: 'ks_x' } },
    });
    expect(used!.toShape()).not.toHaveProperty('body');
    expect(await failure(c.request({ method: 'POST', path: '/400' }))).toMatchObject({ code: 'MAC_INVALID' });
    expect(await failure(c.request({ method: 'POST', path: '/other' }))).toMatchObject({
      code: 'GATEWAY_ERROR',
      details: { gatewayCode: 'NOT_FOUND', status: 404 },
    });
    await s.close();
  });

  it('answers that are not JSON, too large or cut short are GATEWAY_BAD_RESPONSE', async () => {
    const s = await serve((req, res) => {
      if (req.url === '/html') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>maintenance</html>');
      } else if (req.url === '/big') json(res, 200, { pad: 'x'.repeat(5000) });
      else if (req.url === '/big-chunked') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"pad":"');
        res.write('y'.repeat(5000));
        res.end('"}');
      } else {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"half":');
        setTimeout(() => res.socket?.destroy(), 20);
      }
    });
    const c = client(s.url, { maxResponseBytes: 1024 });
    expect(await failure(c.request({ method: 'GET', path: '/html' }))).toMatchObject({
      code: 'GATEWAY_BAD_RESPONSE',
      details: { reason: 'not-json' },
    });
    expect(await failure(c.request({ method: 'GET', path: '/big' }))).toMatchObject({
      code: 'GATEWAY_BAD_RESPONSE',
      details: { reason: 'too-large' },
    });
    expect(await failure(c.request({ method: 'GET', path: '/big-chunked' }))).toMatchObject({
      code: 'GATEWAY_BAD_RESPONSE',
      details: { reason: 'too-large' },
    });
    expect(await failure(c.request({ method: 'POST', path: '/cut' }))).toMatchObject({
      code: 'GATEWAY_BAD_RESPONSE',
      details: { reason: 'truncated' },
    });
    await s.close();
  });

  it('a gateway that does not answer in time is GATEWAY_UNREACHABLE (timeout); a closed port too', async () => {
    const s = await serve(() => undefined);
    // The request's own bound (300 ms, not the 15 s default) is what ended it.
    expect(
      await failure(client(s.url, { timeoutMs: 300 }).request({ method: 'POST', path: '/slow' })),
    ).toMatchObject({
      code: 'GATEWAY_UNREACHABLE',
      details: { reason: 'timeout', phase: 'response', timeoutMs: 300 },
    });
    await s.close();
    expect(await failure(client(s.url, { attempts: 1 }).request({ method: 'GET', path: '/' }))).toMatchObject(
      {
        code: 'GATEWAY_UNREACHABLE',
        details: { reason: 'network' },
      },
    );
  });
});

describe('HttpsJsonClient: retries', () => {
  it('retries an idempotent call after 5xx, and never a non-idempotent one or a 4xx', async () => {
    let n = 0;
    const s = await serve((req, res) => {
      if (req.url === '/flaky') {
        n++;
        if (n < 3) json(res, 500, { error: { code: 'INTERNAL', message: 'x' } });
        else json(res, 200, { ok: n });
      } else if (req.url === '/bad') json(res, 400, { error: { code: 'VALIDATION', message: 'x' } });
      else json(res, 500, { error: { code: 'INTERNAL', message: 'x' } });
    });
    const c = client(s.url, { attempts: 3 });
    expect((await c.request({ method: 'GET', path: '/flaky', idempotent: true })).body).toEqual({ ok: 3 });
    expect(s.hits.filter((x) => x === 'GET /flaky')).toHaveLength(3);
    expect(await failure(c.request({ method: 'POST', path: '/post' }))).toMatchObject({
      code: 'GATEWAY_ERROR',
    });
    expect(s.hits.filter((x) => x === 'POST /post')).toHaveLength(1);
    expect(await failure(c.request({ method: 'GET', path: '/bad', idempotent: true }))).toMatchObject({
      code: 'GATEWAY_ERROR',
    });
    expect(s.hits.filter((x) => x === 'GET /bad')).toHaveLength(1);
    await s.close();
  });
});
