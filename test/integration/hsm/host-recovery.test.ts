import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HsmClient, type HsmClientEvents } from '../../../electron/hsm/client.nodejs';
import { createLogger } from '../../../electron/core/logger.nodejs';
import { createNodeHostSpawner } from '../../../electron/hsm/node-spawner.nodejs';
import { MkmError } from '../../../shared/errors.std';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';

/**
 * The real host process, the real TokenEngine and a fresh SoftHSM2 token store: what happens
 * to main when the process holding the PKCS#11 library is killed or its token disappears.
 */
let hsm: SoftHsmToken;
let client: HsmClient;
// Errors only: the warnings a killed host produces are the expected outcome here.
const logger = createLogger({ name: 'main', level: 'error', stderrLevel: 'error' });
const events: [keyof HsmClientEvents, unknown][] = [];

function nextEvent<K extends keyof HsmClientEvents>(
  name: K,
  timeoutMs = 15_000,
): Promise<HsmClientEvents[K][0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${name} within ${timeoutMs} ms`)), timeoutMs);
    client.once(name, ((info: HsmClientEvents[K][0]) => {
      clearTimeout(timer);
      resolve(info);
    }) as never);
  });
}

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (e: unknown) => (e instanceof MkmError ? e.code : String(e)),
  );

beforeAll(async () => {
  hsm = createSoftHsmToken({ slots: 2, setProcessEnv: false });
  client = new HsmClient({
    logger,
    spawner: createNodeHostSpawner({ env: hsm.env, logger }),
    restart: { delaysMs: [100] },
  });
  for (const name of ['connection-lost', 'connection-restored', 'login-required'] as const) {
    client.on(name, (info: unknown) => events.push([name, info]));
  }
  await client.start();
  await client.call('loadModule', { path: hsm.modulePath });
  await client.call('login', { slotId: hsm.slotId, pin: hsm.userPin });
});

afterAll(async () => {
  await client?.stop();
  hsm?.cleanup();
});

describe('the HSM host with SoftHSM2', () => {
  let aesId: string;

  it('runs calls in its own process', async () => {
    expect(client.hostPid).toBeGreaterThan(0);
    expect(client.hostPid).not.toBe(process.pid);
    const key = await client.call('generateKey', {
      slotId: hsm.slotId,
      type: 'aes-256',
      label: 'before-kill',
      purpose: 'data',
    });
    aesId = key.id;
    const objects = await client.call('listObjects', { slotId: hsm.slotId });
    expect(objects.map((o) => o.id)).toContain(aesId);
  });

  it("refuses to run the service's private helpers", async () => {
    const raw = client as unknown as {
      invoke(m: string, p: unknown, o: object, i: boolean): Promise<unknown>;
    };
    for (const helper of ['session', 'module', 'callAsync']) {
      expect(await codeOf(raw.invoke(helper, { slotId: hsm.slotId }, {}, true))).toBe('UNKNOWN_CHANNEL');
    }
  });

  it('keeps main responsive while the host generates an RSA key', async () => {
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    // Main's timers keep firing while the token works in the host: a generation run on main's
    // thread would let none fire between its start and its answer. Counted, not timed, so a
    // loaded machine cannot fail it (the delay is printed for the record).
    let ticks = 0;
    let started = false;
    const timer = setInterval(() => started && ticks++, 1);
    const progress: string[] = [];
    try {
      await client.call(
        'generateKey',
        { slotId: hsm.slotId, type: 'rsa-3072', label: 'loop-delay', purpose: 'signing' },
        {
          onProgress: (p) => {
            progress.push(p.phase);
            if (p.phase === 'started') started = true;
          },
        },
      );
    } finally {
      clearInterval(timer);
      delay.disable();
    }
    expect(progress[0]).toBe('started');
    console.log(
      `main event-loop delay during RSA-3072 generation: p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms, ${ticks} timer ticks`,
    );
    expect(ticks).toBeGreaterThanOrEqual(3);
  });

  it('fails the call in flight with TOKEN_CONNECTION_LOST when the host is killed -9, then recovers', async () => {
    events.length = 0;
    const pid = client.hostPid!;
    let started!: () => void;
    const inHost = new Promise<void>((resolve) => (started = resolve));
    const generation = client.call(
      'generateKey',
      { slotId: hsm.slotId, type: 'rsa-4096', label: 'killed', purpose: 'signing' },
      { onProgress: (p) => p.phase === 'started' && started() },
    );
    const outcome = codeOf(generation);
    const restored = nextEvent('connection-restored');
    await inHost;
    process.kill(pid, 'SIGKILL');
    expect(await outcome).toBe('TOKEN_CONNECTION_LOST');
    expect(await restored).toMatchObject({ moduleReloaded: true });
    expect(events.map(([name]) => name)).toEqual([
      'connection-lost',
      'login-required',
      'connection-restored',
    ]);
    expect(events[0]![1]).toMatchObject({ reason: 'exit', pid, signal: 'SIGKILL' });
    expect(events[1]![1]).toEqual({ slotIds: [hsm.slotId], reason: 'TOKEN_CONNECTION_LOST' });
    expect(client.hostPid).not.toBe(pid);

    // Login state died with the old process; after logging in again the earlier key is there.
    await client.call('login', { slotId: hsm.slotId, pin: hsm.userPin });
    const objects = await client.call('listObjects', { slotId: hsm.slotId });
    expect(objects.map((o) => o.id)).toContain(aesId);
    expect(objects.map((o) => o.label)).not.toContain('killed');
  });

  it('kills and replaces a host whose call outlives its timeout, as with a hung library', async () => {
    const pid = client.hostPid!;
    const lost = nextEvent('connection-lost');
    const restored = nextEvent('connection-restored');
    const slow = { slotId: hsm.slotId, type: 'rsa-4096', label: 'too-slow', purpose: 'signing' } as const;
    expect(await codeOf(client.call('generateKey', slow, { timeoutMs: 100 }))).toBe('TIMEOUT');
    expect(await lost).toMatchObject({ reason: 'timeout', pid, signal: 'SIGKILL' });
    await restored;
    expect(() => process.kill(pid, 0)).toThrow();
    await client.call('login', { slotId: hsm.slotId, pin: hsm.userPin });
    await expect(client.call('kcv', { slotId: hsm.slotId, id: aesId })).resolves.toMatchObject({
      method: 'cmac',
    });
  });

  it('reports a token whose store vanished under an open session as TOKEN_REMOVED', async () => {
    // SoftHSM2 keeps the session open and answers CKR_GENERAL_ERROR for anything that touches
    // the token (C_GetTokenInfo included); the host turns that into TOKEN_REMOVED.
    const second = hsm.tokens[1]!;
    await client.call('login', { slotId: second.slotId, pin: hsm.userPin });
    const tokensDir = join(hsm.dir, 'tokens');
    const dir = readdirSync(tokensDir).find((d) => d.replace(/-/g, '').endsWith(second.serial));
    expect(dir).toBeDefined();
    rmSync(join(tokensDir, dir!), { recursive: true, force: true });

    const loginRequired = nextEvent('login-required');
    const failure = client.call('generateKey', {
      slotId: second.slotId,
      type: 'aes-256',
      label: 'gone',
      purpose: 'data',
    });
    await expect(failure).rejects.toMatchObject({
      code: 'TOKEN_REMOVED',
      details: { slotId: second.slotId, cause: 'CKR_GENERAL_ERROR' },
    });
    expect(await loginRequired).toEqual({ slotIds: [second.slotId], reason: 'TOKEN_REMOVED' });
    // The other token is unaffected.
    await expect(client.call('listObjects', { slotId: hsm.slotId })).resolves.toBeInstanceOf(Array);
  });

  it('answers a bad module path with MODULE_NOT_FOUND and stays usable', async () => {
    const other = new HsmClient({ logger, env: hsm.env });
    try {
      await other.start();
      const pid = other.hostPid;
      expect(await codeOf(other.call('loadModule', { path: join(hsm.dir, 'no-such-lib.so') }))).toBe(
        'MODULE_NOT_FOUND',
      );
      expect(other.hostPid).toBe(pid);
      await expect(other.call('loadModule', { path: hsm.modulePath })).resolves.toMatchObject({
        path: hsm.modulePath,
      });
      await expect(other.call('listSlots')).resolves.not.toHaveLength(0);
    } finally {
      await other.stop();
    }
  });

  it('leaves no host process behind after stop()', async () => {
    const pid = client.hostPid!;
    await client.stop();
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
