import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HsmClient } from '../../../electron/hsm/client.nodejs';
import type { SlotsChange } from '../../../electron/hsm/slots.std';
import type { ClientTimers } from '../../../electron/hsm/timers.std';
import { fakeSpawner, FakeTokenService } from './fake-host';

const MIN = 60_000;

// Injected explicitly (rather than relying on the global fakes) to prove the client uses only
// the timers it is given.
const fakeClock: ClientTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as number),
};

function setup(idleLogoutMs?: number) {
  let service!: FakeTokenService;
  const spawner = fakeSpawner(() => (service = new FakeTokenService()));
  const client = new HsmClient({
    spawner,
    timers: fakeClock,
    ...(idleLogoutMs !== undefined ? { idleLogoutMs } : {}),
  });
  const autoLogouts: unknown[] = [];
  const changes: SlotsChange[] = [];
  client.on('auto-logout', (e) => autoLogouts.push(e));
  client.on('slots-changed', (c) => changes.push(c));
  return { client, spawner, service: () => service, autoLogouts, changes };
}

async function loggedIn(client: HsmClient) {
  await client.start();
  await client.call('loadModule', { path: '/lib.so' });
  await client.call('login', { slotId: 1, pin: '123456' });
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('idle auto-logout', () => {
  it('logs out after 5 minutes without a call by default, and says so', async () => {
    const { client, service, autoLogouts } = setup();
    await loggedIn(client);
    await vi.advanceTimersByTimeAsync(5 * MIN - 1);
    expect(service().loggedIn.has(1)).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(service().loggedIn.has(1)).toBe(false);
    expect(autoLogouts).toEqual([{ slotIds: [1], idleMs: 5 * MIN }]);
    expect(client.loggedInSlots).toEqual([]);
  });

  it('counts from the last call, and not while a call is still running', async () => {
    const { client, service, autoLogouts } = setup(2 * MIN);
    await loggedIn(client);
    await vi.advanceTimersByTimeAsync(1.5 * MIN);
    await client.call('listSlots');
    await vi.advanceTimersByTimeAsync(1.5 * MIN);
    expect(autoLogouts).toEqual([]);

    const slow = client.call('generateKey', { slotId: 1, type: 'rsa-4096', label: 'r', purpose: 'signing' });
    await vi.advanceTimersByTimeAsync(2.5 * MIN);
    expect(autoLogouts).toEqual([]);
    service().release!();
    await slow;
    await vi.advanceTimersByTimeAsync(2 * MIN);
    expect(autoLogouts).toHaveLength(1);
  });

  it('is not kept alive by slot polling', async () => {
    const { client, autoLogouts } = setup(MIN);
    await loggedIn(client);
    client.watchSlots({ intervalMs: 1000 });
    await vi.advanceTimersByTimeAsync(MIN + 1000);
    expect(autoLogouts).toHaveLength(1);
  });

  it('can be changed or disabled at run time', async () => {
    const { client, autoLogouts } = setup();
    await loggedIn(client);
    client.setIdleLogout(0);
    await vi.advanceTimersByTimeAsync(30 * MIN);
    expect(autoLogouts).toEqual([]);
    client.setIdleLogout(10_000);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(autoLogouts).toHaveLength(1);
  });

  it('does nothing when nobody is logged in', async () => {
    const { client, spawner, autoLogouts } = setup(MIN);
    await client.start();
    await vi.advanceTimersByTimeAsync(10 * MIN);
    expect(autoLogouts).toEqual([]);
    expect(spawner.current().calls('logout')).toEqual([]);
  });
});

describe('slot watching', () => {
  it('reports the initial slots, then only insertions and removals', async () => {
    const { client, service, changes } = setup();
    await client.start();
    client.watchSlots({ intervalMs: 1000 });
    await vi.advanceTimersByTimeAsync(0);
    expect(changes).toEqual([
      expect.objectContaining({ initial: true, added: [expect.objectContaining({ slotId: 1 })] }),
    ]);

    await vi.advanceTimersByTimeAsync(3000);
    expect(changes).toHaveLength(1);

    service().slots.push({ slotId: 2, token: { serial: 'B2' } });
    await vi.advanceTimersByTimeAsync(1000);
    expect(changes[1]).toMatchObject({ initial: false, added: [{ slotId: 2 }], removed: [] });

    // Same slot, another card: a removal and an insertion.
    service().slots[1] = { slotId: 2, token: { serial: 'C3' } };
    await vi.advanceTimersByTimeAsync(1000);
    expect(changes[2]).toMatchObject({
      added: [{ token: { serial: 'C3' } }],
      removed: [{ token: { serial: 'B2' } }],
    });
  });

  it('skips ticks while the host is busy instead of queueing polls behind the long call', async () => {
    const { client, service } = setup();
    await client.start();
    const stop = client.watchSlots({ intervalMs: 1000 });
    await vi.advanceTimersByTimeAsync(2500);
    const before = service().listSlotsCalls;
    expect(before).toBe(3);

    const slow = client.call('generateKey', { slotId: 1, type: 'rsa-2048', label: 'r', purpose: 'signing' });
    await vi.advanceTimersByTimeAsync(20_000);
    expect(service().listSlotsCalls).toBe(before);

    service().release!();
    await slow;
    await vi.advanceTimersByTimeAsync(1000);
    expect(service().listSlotsCalls).toBe(before + 1);
    stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(service().listSlotsCalls).toBe(before + 1);
  });

  it('notices through the poll that a login ended without any call failing', async () => {
    const { client, service } = setup();
    await loggedIn(client);
    const required: unknown[] = [];
    client.on('login-required', (e) => required.push(e));
    client.watchSlots({ intervalMs: 1000 });
    await vi.advanceTimersByTimeAsync(2000);
    expect(required).toEqual([]);

    service().loggedIn.clear();
    await vi.advanceTimersByTimeAsync(1000);
    expect(required).toEqual([{ slotIds: [1], reason: 'SESSION_CLOSED' }]);
    expect(client.loggedInSlots).toEqual([]);

    await client.call('login', { slotId: 1, pin: '123456' });
    (service().slots[0] as { token: unknown }).token = null;
    await vi.advanceTimersByTimeAsync(1000);
    expect(required.at(-1)).toEqual({ slotIds: [1], reason: 'TOKEN_REMOVED' });
  });
});
