import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayClient } from '../../../electron/gateway/client/gateway-client.nodejs';
import { softHsmAvailable } from '../../helpers/softhsm';
import { codeOf, createHarness, type Harness } from './harness';

/**
 * Restarts in the middle of a chain: the client (new GatewayClient over a new host process),
 * the client over the same host, a crashed host under a running client, and the sandbox
 * (same data dir and port). Each recovers; the token never keeps a dead set's keys.
 */
let h: Harness;
let client: GatewayClient;

beforeAll(async () => {
  h = await createHarness();
  client = h.client();
  const keyId = await h.transportKey('transport-restart');
  await client.registerTransportKey({ keyId, label: 'transport-restart' });
});

afterAll(async () => {
  await client?.close();
  await h?.close();
});

async function chain(n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await client.ping()).setId);
  return ids;
}

const count = (action: string, reason?: string) =>
  h.audit.filter((a) => a.action === action && (reason === undefined || a.reason === reason)).length;

describe.runIf(softHsmAvailable())('gateway client across restarts', () => {
  const sent: string[] = [];

  it('runs a chain', async () => {
    sent.push(...(await chain(3)));
  });

  it('a restarted client over a new host asks for a fresh set and carries on', async () => {
    const pending = client.currentKeySet()!;
    await h.host.stop();
    h.host = await h.startHost();
    // The old set's keys died with the old host.
    expect(await h.sessionObjects()).toEqual([]);
    client = h.client();
    const requests = count('key-set.request');
    const first = await client.ping();
    expect(first.setId).not.toBe(pending.setId);
    expect(count('key-set.discard', 'restart')).toBe(1);
    expect(count('key-set.request')).toBe(requests + 1);
    sent.push(first.setId, ...(await chain(2)));
    expect(await h.sessionObjects()).toHaveLength(2);
  });

  it('a restarted client over the same host destroys the lingering keys of the old set', async () => {
    expect(await h.sessionObjects()).toHaveLength(2);
    client = h.client();
    sent.push(...(await chain(2)));
    expect(await h.sessionObjects()).toHaveLength(2);
    expect(count('key-set.discard', 'restart')).toBe(2);
  });

  it('a host that crashed under a running client: the lost set is replaced before anything is sent', async () => {
    const restored = new Promise<void>((resolve) => h.host.once('connection-restored', () => resolve()));
    process.kill(h.host.hostPid!, 'SIGKILL');
    await restored;
    await h.host.call('login', { slotId: h.hsm.slotId, pin: h.hsm.userPin });
    const r = await client.ping();
    expect(r.response.pong).toBe(true);
    expect(count('key-set.discard', 'token-lost')).toBe(1);
    sent.push(r.setId);
  });

  it('a logout mid-chain: NOT_LOGGED_IN (not a missing key); after the login a fresh set replaces the one C_Logout destroyed', async () => {
    const current = client.currentKeySet()!;
    const lost = count('key-set.discard', 'token-lost');
    await h.host.call('logout', { slotId: h.hsm.slotId });
    expect(await codeOf(client.ping())).toBe('NOT_LOGGED_IN');
    await h.host.call('login', { slotId: h.hsm.slotId, pin: h.hsm.userPin });
    // PKCS#11: logging out destroys the private session objects, the set's keys with them.
    expect(await h.sessionObjects()).toEqual([]);
    const r = await client.ping();
    expect(r.setId).not.toBe(current.setId);
    expect(count('key-set.discard', 'token-lost')).toBe(lost + 1);
    expect(await h.sessionObjects()).toHaveLength(2);
    sent.push(r.setId);
  });

  it('a restarted sandbox (same data dir): signs in again and the chain goes on', async () => {
    const signIns = count('session.sign-in');
    const current = client.currentKeySet()!;
    await h.restartSandbox();
    const r = await client.ping();
    // The gateway kept the set it issued; only the bearer token was lost.
    expect(r.setId).toBe(current.setId);
    expect(count('session.sign-in')).toBe(signIns + 1);
    sent.push(r.setId, ...(await chain(2)));
  });

  it('never sent one set twice', () => {
    expect(new Set(sent).size).toBe(sent.length);
    expect(sent.length).toBeGreaterThanOrEqual(11);
  });
});
