import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GatewayClient } from '../../../electron/gateway/client/gateway-client.nodejs';
import { envSecretProvider, parseGatewayProfile } from '../../../electron/gateway/client/profiles.nodejs';
import type { GatewayClientState } from '../../../electron/gateway/client/state.nodejs';
import { softHsmAvailable } from '../../helpers/softhsm';
import { codeOf, createHarness, PASSWORD, USER, type Harness } from './harness';

/**
 * Every sandbox fault, an expired OAuth token and a wrong TLS pin: each ends in its own clear
 * error code (or is absorbed where the contract allows), the token holds no orphan session key,
 * no set is sent twice, and the next call works.
 */
let h: Harness;
let client: GatewayClient;
let transportKeyId: string;
/** Milliseconds added to the client's own clock. */
let clientSkew = 0;
const extraDirs: string[] = [];

beforeAll(async () => {
  h = await createHarness({ faultTimeoutMs: 4000 });
  client = h.client({ clock: () => Date.now() + clientSkew });
  const keyId = await h.transportKey('transport-faults');
  transportKeyId = keyId;
  await client.registerTransportKey({ keyId, label: 'transport-faults' });
  await client.fetchGatewayKey();
});

afterAll(async () => {
  await client?.close();
  await h?.close();
  for (const dir of extraDirs) rmSync(dir, { recursive: true, force: true });
});

function state(): GatewayClientState {
  return JSON.parse(readFileSync(join(h.stateDir, 'gateway-sandbox.json'), 'utf8')) as GatewayClientState;
}

/** The token holds exactly the current set's two keys (or none), and no set was sent twice. */
async function expectConsistent(): Promise<void> {
  const s = state();
  const objects = (await h.sessionObjects()).sort();
  const current = client.currentKeySet();
  if (current) {
    expect(s.keySet?.setId).toBe(current.setId);
    expect(objects).toEqual([s.keySet!.encKeyId, s.keySet!.macKeyId].sort());
    expect(s.usedSetIds).not.toContain(current.setId);
  } else {
    expect(objects).toEqual([]);
    expect(s.keySet).toBeNull();
  }
  expect(new Set(s.usedSetIds).size).toBe(s.usedSetIds.length);
  const sent = h.audit.filter((a) => a.action === 'secure.send').map((a) => a.setId);
  expect(new Set(sent).size).toBe(sent.length);
}

const count = (action: string, reason?: string) =>
  h.audit.filter((a) => a.action === action && (reason === undefined || a.reason === reason)).length;

async function recovers(): Promise<void> {
  const r = await client.ping();
  expect(r.response.pong).toBe(true);
  await expectConsistent();
}

describe.runIf(softHsmAvailable())('gateway client under faults', () => {
  beforeEach(async () => {
    await expectConsistent();
  });

  it('timeout on a secure call: GATEWAY_UNREACHABLE, the set is burnt, the next call asks for a fresh one', async () => {
    const before = client.currentKeySet()!;
    await client.sandboxArmFault('timeout');
    // Ended by the request's own bound (the profile's 2.5 s, not the 15 s default).
    expect(await client.ping().catch((e: unknown) => e)).toMatchObject({
      code: 'GATEWAY_UNREACHABLE',
      details: { reason: 'timeout', phase: 'response', timeoutMs: 2500 },
    });
    expect(client.currentKeySet()).toBeNull();
    expect(state().usedSetIds).toContain(before.setId);
    await expectConsistent();
    const requests = h.audit.filter((a) => a.action === 'key-set.request').length;
    await recovers();
    expect(h.audit.filter((a) => a.action === 'key-set.request').length).toBe(requests + 1);
  });

  it('timeout on GET public_key: retried (idempotent) and answered', async () => {
    await client.sandboxArmFault('timeout');
    const status = await client.fetchGatewayKey();
    expect(status.status).toBe('pinned');
  });

  it('timeout on a re-registration: retried (idempotent) and answered with a fresh set', async () => {
    const keyId = client.merchantKeys()[0]!.keyId;
    await client.sandboxArmFault('timeout');
    const reg = await client.registerTransportKey({ keyId, label: 'transport-faults' });
    expect(reg.created).toBe(false);
    expect(reg.keySet).toHaveProperty('setId');
    await recovers();
  });

  it('500 on a secure call: GATEWAY_ERROR with the gateway code; recovers', async () => {
    await client.sandboxArmFault('500');
    const error = await client.ping().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'GATEWAY_ERROR', details: { gatewayCode: 'INTERNAL', status: 500 } });
    await expectConsistent();
    await recovers();
  });

  it('truncated answer: GATEWAY_BAD_RESPONSE; recovers', async () => {
    await client.sandboxArmFault('truncated');
    expect(await codeOf(client.ping())).toBe('GATEWAY_BAD_RESPONSE');
    await expectConsistent();
    await recovers();
  });

  it('bad KCV on a requested set: KCV_MISMATCH, unwrapped keys destroyed, the current set kept', async () => {
    const current = client.currentKeySet()!;
    await client.sandboxArmFault('bad_kcv');
    const error = await client.requestKeySet().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'KCV_MISMATCH', details: { key: 'enc' } });
    expect(client.currentKeySet()).toEqual(current);
    await expectConsistent();
    await recovers();
  });

  it('bad KCV on the set a secure answer carries: the answer is kept, the set refused, a fresh one asked next', async () => {
    await client.sandboxArmFault('bad_kcv');
    const r = await client.ping();
    expect(r.response.pong).toBe(true);
    expect(r.nextKeySet).toEqual({ refused: 'KCV_MISMATCH' });
    expect(client.currentKeySet()).toBeNull();
    await expectConsistent();
    await recovers();
  });

  it('bad MAC on the answer: MAC_INVALID, the set burnt, its carried set not trusted; recovers', async () => {
    await client.sandboxArmFault('bad_mac');
    const error = await client.ping().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'MAC_INVALID', details: { side: 'response' } });
    expect(client.currentKeySet()).toBeNull();
    await expectConsistent();
    await recovers();
  });

  it('a replayed set is refused before it is unwrapped (KEY_SET_USED); recovers', async () => {
    await client.sandboxArmFault('replay_set');
    const r = await client.ping();
    expect(r.nextKeySet).toEqual({ refused: 'KEY_SET_USED' });
    expect(h.audit.at(-1)).toMatchObject({
      action: 'key-set.install',
      result: 'refused',
      reason: 'replayed',
    });
    await expectConsistent();
    await recovers();
    // Also when the replay comes from POST key_sets: refused there, and the next call asks again.
    await client.sandboxArmFault('replay_set');
    expect(await codeOf(client.requestKeySet())).toBe('KEY_SET_USED');
    await recovers();
  });

  it('contract 1.1: an unsigned set (1.0) asked for: KEY_SET_SIGNATURE before anything is unwrapped; current set and state file untouched', async () => {
    const current = client.currentKeySet();
    const before = readFileSync(join(h.stateDir, 'gateway-sandbox.json'));
    const objects = await h.sessionObjects();
    await client.sandboxArmFault('unsigned_set');
    const error = await client.requestKeySet().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'KEY_SET_SIGNATURE', details: { reason: 'unsigned' } });
    expect(client.currentKeySet()).toEqual(current);
    expect(readFileSync(join(h.stateDir, 'gateway-sandbox.json')).equals(before)).toBe(true);
    expect(await h.sessionObjects()).toEqual(objects);
    await expectConsistent();
    await recovers();
  });

  it('contract 1.1: a forged set carried by a secure answer: the answer is kept, the set refused, the chain goes on with a fresh set', async () => {
    await client.sandboxArmFault('forged_set');
    const r = await client.ping();
    expect(r.response.pong).toBe(true);
    expect(r.nextKeySet).toEqual({ refused: 'KEY_SET_SIGNATURE' });
    expect(h.audit.at(-1)).toMatchObject({ action: 'key-set.install', reason: 'bad-signature' });
    expect(client.currentKeySet()).toBeNull();
    await expectConsistent();
    for (let i = 0; i < 3; i++) await recovers();
  });

  it('a client clock that jumps 16 minutes ahead: the stale set is dropped locally, fresh sets are judged by the gateway clock', async () => {
    const discards = count('key-set.discard', 'expired');
    clientSkew = 16 * 60_000;
    await recovers();
    expect(count('key-set.discard', 'expired')).toBe(discards + 1);
    // The next sets are not refused as expired on arrival although the local clock is off.
    await recovers();
    await recovers();
    expect(count('key-set.discard', 'expired')).toBe(discards + 1);
    expect(h.audit.some((a) => a.code === 'KEY_SET_EXPIRED')).toBe(false);
    clientSkew = 0;
  });

  it('an OAuth token the gateway let expire is renewed once, transparently; an expired set is replaced by the carried one', async () => {
    const signIns = h.audit.filter((a) => a.action === 'session.sign-in').length;
    h.skew.ms += 2 * 3600_000; // past the token's hour and the set's 15 minutes, at the gateway
    const r = await client.ping();
    expect(r.response.pong).toBe(true);
    expect(h.audit.filter((a) => a.action === 'session.sign-in' && a.result === 'ok').length).toBe(
      signIns + 1,
    );
    expect(h.audit.some((a) => a.action === 'secure.send' && a.code === 'KEY_SET_EXPIRED')).toBe(true);
    await expectConsistent();
  });

  it('contract 1.1: forged or unsigned sets on a registration and in a 410 answer are refused too; each call still ends well', async () => {
    await client.sandboxArmFault('forged_set');
    const again = await client.registerTransportKey({ keyId: transportKeyId, label: 'transport-faults' });
    expect(again.keySet).toEqual({ refused: 'KEY_SET_SIGNATURE' });
    await expectConsistent();
    await recovers();
    // The set goes stale at the gateway; its 410 answer carries an unsigned set, refused, and the
    // client asks for a fresh one and sends once more.
    h.skew.ms += 2 * 3600_000;
    await client.sandboxArmFault('unsigned_set');
    const r = await client.ping();
    expect(r.response.pong).toBe(true);
    expect(h.audit.some((a) => a.action === 'secure.send' && a.code === 'KEY_SET_EXPIRED')).toBe(true);
    expect(
      h.audit.some(
        (a) => a.action === 'key-set.install' && a.code === 'KEY_SET_SIGNATURE' && a.reason === 'unsigned',
      ),
    ).toBe(true);
    await expectConsistent();
  });

  it('a wrong password: GATEWAY_UNAUTHORIZED, and it is in no message or log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mkm-gw-state2-'));
    extraDirs.push(dir);
    const wrong = h.client({
      stateDir: dir,
      secrets: envSecretProvider({ env: { MKM_GATEWAY_PASSWORD: 'not-the-password' } }),
    });
    const error = await wrong.ping().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'GATEWAY_UNAUTHORIZED' });
    expect(JSON.stringify(error) + String((error as Error).message)).not.toContain('not-the-password');
    expect(JSON.stringify(h.audit)).not.toContain(PASSWORD);
  });

  it('a TLS pin mismatch: GATEWAY_TLS_PIN_MISMATCH before anything is sent; no pin on a self-signed gateway: refused too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mkm-gw-state3-'));
    extraDirs.push(dir);
    const base = {
      id: 'sandbox',
      name: 'Sandbox',
      baseUrl: h.sandbox.url,
      username: USER,
      scheme: { keyRolling: true },
      passwordEnv: 'MKM_GATEWAY_PASSWORD',
    };
    const pinned = h.client({
      stateDir: dir,
      profile: parseGatewayProfile({ ...base, tlsPinSha256: 'ab'.repeat(32) }),
    });
    const error = await pinned.fetchGatewayKey().catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'GATEWAY_TLS_PIN_MISMATCH',
      details: { expected: 'ab'.repeat(32), served: h.sandbox.pin },
    });
    const unpinned = h.client({ stateDir: dir, profile: parseGatewayProfile(base) });
    expect(await unpinned.fetchGatewayKey().catch((e: unknown) => e)).toMatchObject({
      code: 'GATEWAY_UNREACHABLE',
      details: { reason: 'tls' },
    });
    // The real client was untouched by either.
    await recovers();
  });

  it('the sandbox unreachable: GATEWAY_UNREACHABLE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mkm-gw-state4-'));
    extraDirs.push(dir);
    const closed = h.client({
      stateDir: dir,
      profile: parseGatewayProfile({
        id: 'nowhere',
        name: 'Nowhere',
        baseUrl: 'https://127.0.0.1:1',
        username: USER,
        tlsPinSha256: h.sandbox.pin,
        scheme: {},
        passwordEnv: 'MKM_GATEWAY_PASSWORD',
      }),
      http: { attempts: 2, backoffMs: 10, timeoutMs: 1000 },
    });
    expect(await closed.fetchGatewayKey().catch((e: unknown) => e)).toMatchObject({
      code: 'GATEWAY_UNREACHABLE',
      details: { reason: 'network', network: 'ECONNREFUSED' },
    });
  });
});
