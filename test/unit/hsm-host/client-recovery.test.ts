import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FakeTokenService } from './fake-host';
import { loggedIn, setupClient as setup } from './fake-host';

const AES = { slotId: 1, type: 'aes-256', label: 'k', purpose: 'data' } as const;
const RSA = { slotId: 1, type: 'rsa-3072', label: 'r', purpose: 'gateway-transport' } as const;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('HsmClient when a call hangs', () => {
  it('rejects it with TIMEOUT, kills the hung host, restarts it and reloads the module without the PIN', async () => {
    const { client, spawner, events } = setup();
    await loggedIn(client);
    const first = spawner.current();

    const call = client.call('generateKey', AES, { timeoutMs: 5000 });
    const outcome = expect(call).rejects.toMatchObject({
      code: 'TIMEOUT',
      details: { method: 'generateKey' },
    });
    await vi.advanceTimersByTimeAsync(4999);
    expect(first.dead).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await outcome;
    expect(first.dead).toBe(true);
    expect(events).toContainEqual([
      'connection-lost',
      expect.objectContaining({ reason: 'timeout', signal: 'SIGKILL' }),
    ]);
    expect(events).toContainEqual(['login-required', { slotIds: [1], reason: 'TOKEN_CONNECTION_LOST' }]);
    expect(client.status).toBe('restarting');

    await vi.advanceTimersByTimeAsync(100);
    expect(spawner.hosts).toHaveLength(2);
    expect(spawner.current().calls()).toEqual([
      { t: 'call', id: expect.any(Number), method: 'loadModule', params: { path: '/opt/vendor/libp11.so' } },
    ]);
    expect(events.at(-1)).toEqual([
      'connection-restored',
      { pid: spawner.current().pid, moduleReloaded: true },
    ]);
    expect(client.loggedInSlots).toEqual([]);
    await expect(client.call('listSlots')).resolves.toHaveLength(1);
  });

  it('does not count the time a call waits behind another one', async () => {
    const { client, spawner, services } = setup();
    await client.start();
    const rsa = client.call('generateKey', RSA);
    const queued = client.call('listSlots', undefined, { timeoutMs: 1000 });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(spawner.current().dead).toBe(false);
    services[0]!.release!();
    await expect(rsa).resolves.toEqual({ id: '01' });
    await expect(queued).resolves.toHaveLength(1);
  });

  it('gives RSA generation 180 s and everything else 30 s by default', async () => {
    const { client } = setup();
    await client.start();
    const rsa = client.call('generateKey', RSA);
    const rsaOutcome = expect(rsa).rejects.toMatchObject({
      code: 'TIMEOUT',
      details: { timeoutMs: 180_000 },
    });
    await vi.advanceTimersByTimeAsync(179_000);
    await vi.advanceTimersByTimeAsync(1000);
    await rsaOutcome;

    await vi.advanceTimersByTimeAsync(100);
    expect(client.status).toBe('ready');
    const aes = client.call('generateKey', AES);
    const aesOutcome = expect(aes).rejects.toMatchObject({ code: 'TIMEOUT', details: { timeoutMs: 30_000 } });
    await vi.advanceTimersByTimeAsync(30_000);
    await aesOutcome;
  });
});

describe('HsmClient when the host dies', () => {
  it('fails the calls in flight with TOKEN_CONNECTION_LOST and holds new calls until the host is back', async () => {
    const { client, spawner, events } = setup();
    await loggedIn(client);
    const inFlight = client.call('generateKey', AES);
    const lost = expect(inFlight).rejects.toMatchObject({ code: 'TOKEN_CONNECTION_LOST' });
    await vi.advanceTimersByTimeAsync(10);
    spawner.current().exit(null, 'SIGSEGV');
    await lost;
    expect(events.map(([name]) => name)).toEqual(['connection-lost', 'login-required']);

    const waiting = client.call('listSlots');
    await vi.advanceTimersByTimeAsync(100);
    await expect(waiting).resolves.toHaveLength(1);
    expect(events.map(([name]) => name)).toEqual([
      'connection-lost',
      'login-required',
      'connection-restored',
    ]);
    // The module was reloaded before the waiting call reached the new host.
    expect(
      spawner
        .current()
        .calls()
        .map((c) => c.method),
    ).toEqual(['loadModule', 'listSlots']);
  });

  it('keeps recovering when a listener throws, and lets a listener stop it', async () => {
    const { client, spawner } = setup();
    await client.start();
    client.once('connection-lost', () => {
      throw new Error('UI bug');
    });
    spawner.current().exit(1, null);
    await vi.advanceTimersByTimeAsync(100);
    expect(client.status).toBe('ready');

    client.once('connection-lost', () => void client.stop());
    spawner.current().exit(1, null);
    await vi.advanceTimersByTimeAsync(1000);
    expect(client.status).toBe('stopped');
    expect(spawner.hosts).toHaveLength(2);
  });

  it('gives up after repeated rapid crashes with a clear error, and start() tries again', async () => {
    const { client, spawner, events } = setup({
      restart: { delaysMs: [100], maxRapidCrashes: 3, rapidWindowMs: 60_000 },
    });
    await client.start();
    for (let i = 0; i < 3; i++) {
      spawner.current().exit(134, null);
      await vi.advanceTimersByTimeAsync(100);
    }
    expect(spawner.hosts).toHaveLength(3);
    expect(client.status).toBe('failed');
    const gaveUp = events.find(([name]) => name === 'gave-up')?.[1] as Error;
    expect(gaveUp.message).toMatch(/stopped 3 times/);
    await expect(client.call('listSlots')).rejects.toMatchObject({ code: 'TOKEN_CONNECTION_LOST' });

    await client.start();
    await expect(client.call('listSlots')).resolves.toHaveLength(1);
  });

  it('does not count crashes that are far apart as rapid', async () => {
    const { client, spawner } = setup({
      restart: { delaysMs: [100], maxRapidCrashes: 2, rapidWindowMs: 10_000 },
    });
    await client.start();
    for (let i = 0; i < 4; i++) {
      spawner.current().exit(1, null);
      await vi.advanceTimersByTimeAsync(20_000);
    }
    expect(client.status).toBe('ready');
    expect(spawner.hosts).toHaveLength(5);
  });

  it('treats a malformed answer as an error for that call only', async () => {
    const { client, spawner } = setup();
    await client.start();
    const call = client.call('generateKey', AES);
    await vi.advanceTimersByTimeAsync(1);
    const id = spawner.current().calls('generateKey')[0]!.id;
    spawner.current().emit({ t: 'error', id, error: { code: 'NOT_A_CODE', message: 'x' } });
    await expect(call).rejects.toMatchObject({ code: 'INTERNAL' });
    spawner.current().emit({ t: 'surprise' });
    spawner.current().emit(null);
    await vi.advanceTimersByTimeAsync(1);
    expect(spawner.hosts).toHaveLength(1);
    // The real answer arriving late, for a call already settled, is dropped.
    (spawner.current().service as FakeTokenService).release!();
    await expect(client.call('listSlots')).resolves.toHaveLength(1);
  });

  it('stop() shuts the host down and cancels what is still waiting', async () => {
    const { client, spawner } = setup();
    await client.start();
    const call = client.call('generateKey', AES);
    const cancelled = expect(call).rejects.toMatchObject({ code: 'CANCELLED' });
    await vi.advanceTimersByTimeAsync(1);
    await client.stop();
    await cancelled;
    expect(spawner.current().received.at(-1)).toEqual({ t: 'shutdown' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(spawner.hosts).toHaveLength(1);
    await expect(client.call('listSlots')).rejects.toMatchObject({ code: 'TOKEN_CONNECTION_LOST' });
  });
});
