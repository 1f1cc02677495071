import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { contract } from '../../../shared/contract.std';
import { startBrowserMode, type BrowserMode } from '../../../electron/browser/server.nodejs';
import { closed, connect, openSocket, type RawClient } from '../../helpers/ws-client';

/**
 * Every channel of the contract, hit with garbage through the real browser-mode socket and the
 * real registry: each answer is a typed error, and the services still answer afterwards.
 */
const SECRET = 'test-secret-' + 'x'.repeat(20);
let mode: BrowserMode;
let client: RawClient;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-ipc-'));
  mode = await startBrowserMode({
    dataDir,
    rendererDir: join(import.meta.dirname, '../../fixtures/renderer'),
    secret: SECRET,
  });
  client = await connect(mode.origin, SECRET);
});

afterAll(async () => {
  client?.close();
  await mode?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function deep(levels: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
}

const generic: [string, unknown][] = [
  ['a number', 42],
  ['a string', 'hello'],
  ['a boolean', true],
  ['null', null],
  ['an array', [1, 2, 3]],
  ['a __proto__ key', JSON.parse('{"__proto__": {"polluted": true}}')],
  ['a constructor.prototype key', { constructor: { prototype: { polluted: true } } }],
  ['an unknown field', { surprise: 1 }],
  ['a huge string', { surprise: 'x'.repeat(2_000_000) }],
  ['deep nesting', deep(60)],
];

const channels = Object.entries(contract).flatMap(([ns, methods]) =>
  Object.entries(methods).map(([m, def]) => ({ name: `${ns}.${m}`, schema: def.request as z.ZodType })),
);

describe.each(channels)('channel $name', ({ name, schema }) => {
  it.each(generic)('answers %s with VALIDATION', async (_label, request) => {
    const envelope = await client.call(name, request);
    expect(envelope.ok).toBe(false);
    expect(envelope.error?.code).toBe('VALIDATION');
  });

  if (schema instanceof z.ZodObject) {
    const shape = schema.shape as Record<string, z.ZodType>;
    it.each(Object.keys(shape))('answers a wrong type in field %s with VALIDATION', async (field) => {
      const envelope = await client.call(name, { [field]: { not: ['the', 'right', 'type'] } });
      expect(envelope.error?.code).toBe('VALIDATION');
      expect(envelope.error?.message).toContain(field);
    });
    const required = Object.entries(shape).filter(([, s]) => !s.safeParse(undefined).success);
    if (required.length) {
      it('answers missing required fields with VALIDATION', async () => {
        const envelope = await client.call(name, {});
        expect(envelope.error?.code).toBe('VALIDATION');
      });
    }
  }
});

describe('channel names', () => {
  it.each([['app.nope'], ['__proto__.toString'], ['constructor'], ['app.status.extra'], [42], [null], ['']])(
    '%s is an UNKNOWN_CHANNEL',
    async (channel) => {
      const envelope = await client.call(channel);
      expect(envelope.error?.code).toMatch(/UNKNOWN_CHANNEL|VALIDATION/);
    },
  );
});

describe('senders', () => {
  it('refuses a socket from a foreign origin before any call', async () => {
    await expect(openSocket(mode.origin, { Origin: 'http://evil.test' })).rejects.toThrow('HTTP 403');
  });

  it('refuses a socket addressed to another Host (DNS rebinding)', async () => {
    await expect(openSocket(mode.origin, { Host: 'evil.test:80' })).rejects.toThrow('HTTP 403');
  });

  it('refuses a wrong secret and closes the socket', async () => {
    await expect(connect(mode.origin, 'wrong-secret')).rejects.toThrow('UNAUTHENTICATED');
  });

  it('refuses a call made before the hello', async () => {
    const ws = await openSocket(mode.origin);
    const code = closed(ws);
    ws.send(JSON.stringify({ t: 'call', id: 1, channel: 'app.status' }));
    expect(await code).toBe(4401);
  });

  it('refuses a malformed frame', async () => {
    const ws = await openSocket(mode.origin);
    const code = closed(ws);
    ws.send('{not json');
    expect(await code).toBe(4400);
  });

  it('answers a call from an untrusted sender with FORBIDDEN_SENDER', async () => {
    const envelope = await mode.app.registry.dispatch('app.status', undefined, {
      transport: 'websocket',
      origin: 'http://evil.test',
      authenticated: true,
    });
    expect(envelope).toMatchObject({ ok: false, error: { code: 'FORBIDDEN_SENDER' } });
    const cli = await mode.app.registry.dispatch('app.status', undefined, { transport: 'cli' });
    expect(cli.ok).toBe(false);
  });
});

describe('after all that', () => {
  it('the services still answer, and nothing was polluted', async () => {
    const envelope = await client.call('app.status');
    expect(envelope.ok).toBe(true);
    expect((envelope.result as { mode: string }).mode).toBe('browser');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const settings = await client.call('settings.get');
    expect(settings.ok).toBe(true);
  });
});
