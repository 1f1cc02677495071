import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CallProgress } from '../../../electron/hsm/client.nodejs';
import { TokenOperations } from '../../../electron/hsm/operations.nodejs';
import { EventBus } from '../../../electron/core/registry.nodejs';
import { silentLogger } from '../../../electron/core/logger.nodejs';
import { loggedIn, setupClient as setup } from './fake-host';

/**
 * A call the token does not answer: main says it waits on the token (from the client's own
 * timers, faked here), and a cancel abandons it at once, killing and restarting the host.
 */
const AES = { slotId: 1, type: 'aes-256', label: 'k', purpose: 'data' } as const;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('HsmClient: a call the token does not answer', () => {
  it('is reported waiting after 2 s, every second while it lasts, and answered when it is', async () => {
    const { client, spawner, services } = setup();
    await loggedIn(client);
    const seen: CallProgress[] = [];
    const call = client.call('generateKey', AES, { onProgress: (p) => seen.push(p) });
    await vi.advanceTimersByTimeAsync(1999);
    expect(seen.filter((p) => p.phase === 'waiting')).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(seen.filter((p) => p.phase === 'waiting')).toEqual([{ phase: 'waiting', elapsedMs: 2000 }]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(seen.filter((p) => p.phase === 'waiting').map((p) => p.elapsedMs)).toEqual([2000, 3000, 4000]);
    services[0]!.release!();
    await expect(call).resolves.toEqual({ id: '01' });
    expect(seen.at(-1)).toEqual({ phase: 'waited', elapsedMs: 4000, answered: true });
    expect(spawner.current().dead).toBe(false);
  });

  it('cancelled while waiting: rejects with CANCELLED at once, the host is killed and restarted, the login is asked again', async () => {
    const { client, spawner, events } = setup();
    await loggedIn(client);
    const first = spawner.current();
    const cancel = new AbortController();
    const seen: CallProgress[] = [];
    const call = client.call('generateKey', AES, { signal: cancel.signal, onProgress: (p) => seen.push(p) });
    const outcome = expect(call).rejects.toMatchObject({
      code: 'CANCELLED',
      details: { method: 'generateKey' },
    });
    await vi.advanceTimersByTimeAsync(2500);
    expect(first.dead).toBe(false);
    cancel.abort();
    // No timer has to pass: the abort itself ends the call.
    await outcome;
    await vi.advanceTimersByTimeAsync(0);
    expect(first.dead).toBe(true);
    expect(seen.at(-1)).toMatchObject({ phase: 'waited', answered: false });
    expect(events).toContainEqual(['connection-lost', expect.objectContaining({ reason: 'cancelled' })]);
    expect(events).toContainEqual(['login-required', { slotIds: [1], reason: 'TOKEN_CONNECTION_LOST' }]);
    await vi.advanceTimersByTimeAsync(100);
    expect(spawner.hosts).toHaveLength(2);
    expect(events.at(-1)).toEqual([
      'connection-restored',
      { pid: spawner.current().pid, moduleReloaded: true },
    ]);
    await expect(client.call('listSlots')).resolves.toHaveLength(1);
  });

  it('cancelled before the token is late: the call is abandoned once it is waiting, not before', async () => {
    const { client, spawner } = setup();
    await loggedIn(client);
    const cancel = new AbortController();
    const call = client.call('generateKey', AES, { signal: cancel.signal });
    const outcome = expect(call).rejects.toMatchObject({ code: 'CANCELLED' });
    await vi.advanceTimersByTimeAsync(500);
    cancel.abort();
    await vi.advanceTimersByTimeAsync(1499);
    expect(spawner.current().dead).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await outcome;
    expect(spawner.hosts[0]!.dead).toBe(true);
  });

  it('cancelled while the token answers in time: the answer is kept and the host lives', async () => {
    const { client, spawner, services } = setup();
    await loggedIn(client);
    const cancel = new AbortController();
    const call = client.call('generateKey', AES, { signal: cancel.signal });
    await vi.advanceTimersByTimeAsync(500);
    cancel.abort();
    services[0]!.release!();
    await expect(call).resolves.toEqual({ id: '01' });
    await vi.advanceTimersByTimeAsync(5000);
    expect(spawner.current().dead).toBe(false);
    expect(spawner.hosts).toHaveLength(1);
  });

  it('an admin cancelling stuck calls is no crash: six in a minute still get a new host each time', async () => {
    const { client, spawner, events } = setup();
    await loggedIn(client);
    for (let i = 0; i < 6; i++) {
      const cancel = new AbortController();
      const call = client.call('generateKey', AES, { signal: cancel.signal });
      const outcome = expect(call).rejects.toMatchObject({ code: 'CANCELLED' });
      await vi.advanceTimersByTimeAsync(2000);
      cancel.abort();
      await outcome;
      // The first restart delay every time: no back-off, as for a crash.
      await vi.advanceTimersByTimeAsync(100);
      expect(client.status).toBe('ready');
    }
    expect(events.filter(([name]) => name === 'gave-up')).toEqual([]);
    expect(spawner.hosts).toHaveLength(7);
  });
});

describe('TokenOperations: which operation waits, and cancelling it', () => {
  it('turns a waiting call into progress events and a status, hides heartbeats meanwhile, and cancels by operation id', async () => {
    const { client, spawner } = setup();
    await loggedIn(client);
    const bus = new EventBus(silentLogger);
    const progress: unknown[] = [];
    bus.subscribe((name, payload) => name === 'progress' && progress.push(payload));
    const operations = new TokenOperations(bus, { now: () => Date.now() });
    const own: CallProgress[] = [];
    const running = operations.run('op-1', 'keys.generate', () =>
      client.call(
        'generateKey',
        AES,
        operations.callOptions('generateKey', { onProgress: (p) => own.push(p) }),
      ),
    );
    const outcome = expect(running).rejects.toMatchObject({ code: 'CANCELLED' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(operations.waiting()).toEqual([]);
    expect(own.some((p) => p.phase === 'running')).toBe(true);
    await vi.advanceTimersByTimeAsync(2000);
    expect(operations.waiting()).toEqual([
      { operationId: 'op-1', channel: 'keys.generate', method: 'generateKey', waitingMs: 3000 },
    ]);
    expect(progress).toContainEqual({
      operationId: 'op-1',
      phase: 'waiting',
      fraction: null,
      message: expect.stringMatching(/^Waiting on the token: no answer to generateKey for 2 s/),
    });
    // The host's heartbeats go on (an async call), but the caller's "still working" is held back.
    const heard = own.length;
    await vi.advanceTimersByTimeAsync(1000);
    expect(own.length).toBe(heard);

    expect(operations.cancel('another')).toBe(false);
    expect(operations.cancel('op-1')).toBe(true);
    await outcome;
    expect(operations.waiting()).toEqual([]);
    await vi.advanceTimersByTimeAsync(0);
    expect(spawner.hosts[0]!.dead).toBe(true);
    // Done: nothing left to cancel under that id.
    expect(operations.cancel('op-1')).toBe(false);
  });
});
