import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayClient } from '../../../electron/gateway/client/gateway-client.nodejs';
import { parseGatewayProfile } from '../../../electron/gateway/client/profiles.nodejs';
import type { GatewayClientState } from '../../../electron/gateway/client/state.nodejs';
import { keySetSignedBytes } from '../../../electron/gateway/keyset-signature.nodejs';
import { softHsmAvailable } from '../../helpers/softhsm';
import { call, login, opensslVerifiesPss } from '../sandbox/client';
import { codeOf, createHarness, PASSWORD, USER, type Harness } from './harness';
import { startMitm, type Mitm } from './mitm-proxy';

/**
 * Contract 1.1 against a real man in the middle: a loopback TLS-terminating proxy the profile
 * is pinned to, between the real client (real SoftHSM2 token) and the real sandbox, planting
 * key sets wrapped under the merchant's public transport key with correct KCVs. Every planted
 * set is refused before it reaches the token, no message is ever sealed under one, nothing the
 * client holds is lost, and the chain goes on once the network is clean again. Then a genuine
 * signing-key rotation at the sandbox, which waits for an admin.
 */
let h: Harness;
let mitm: Mitm;
let client: GatewayClient;
let mitmDir: string;

const stateFile = () => join(h.stateDir, 'gateway-mitm.json');
const state = () => JSON.parse(readFileSync(stateFile(), 'utf8')) as GatewayClientState;
/** What a lost state would lose: the pins and the registrations. */
const kept = () => {
  const s = state();
  return { gatewayKey: s.gatewayKey, signingKey: s.signingKey, merchantKeys: s.merchantKeys };
};

beforeAll(async () => {
  h = await createHarness();
  mitmDir = mkdtempSync(join(tmpdir(), 'mkm-gw-mitm-'));
  mitm = await startMitm(h.sandbox, mitmDir);
  client = h.client({
    profile: parseGatewayProfile({
      id: 'mitm',
      name: 'Gateway behind an intercepting proxy',
      baseUrl: mitm.url,
      username: USER,
      // Pinned to the proxy's certificate: TLS gives no protection here; only 1.1 does.
      tlsPinSha256: mitm.pin,
      scheme: { keyRolling: true },
      passwordEnv: 'MKM_GATEWAY_PASSWORD',
    }),
  });
  // The network was clean when the profile was set up: the signing key was pinned then.
  const keyId = await h.transportKey('transport-mitm');
  const r = await client.registerTransportKey({ keyId, label: 'transport-mitm' });
  expect(r.keySet).not.toHaveProperty('refused');
  expect(client.signingKeyStatus().status).toBe('pinned');
  expect((await client.ping()).response.pong).toBe(true);
});

afterAll(async () => {
  await client?.close();
  await mitm?.close();
  await h?.close();
  if (mitmDir) rmSync(mitmDir, { recursive: true, force: true });
});

describe.runIf(softHsmAvailable())('a man in the middle planting key sets (contract 1.1)', () => {
  it.each(['forge', 'strip'] as const)(
    'mode %s: every planted set is refused before the token, no message is sealed under one, nothing is lost',
    async (mode) => {
      const before = kept();
      mitm.mode = mode;
      // The set in hand is genuine: this message goes, but the set its answer carries is planted.
      const r = await client.ping();
      expect(r.response.pong).toBe(true);
      expect(r.nextKeySet).toEqual({ refused: 'KEY_SET_SIGNATURE' });
      // Now every set on offer is planted: the client asks twice, refuses both, sends nothing.
      const error = await client.ping().catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: 'KEY_SET_SIGNATURE',
        details: { reason: mode === 'strip' ? 'unsigned' : 'bad-signature' },
      });
      expect(mitm.planted.size).toBeGreaterThan(0);
      expect(mitm.readable).toEqual([]);
      expect(client.currentKeySet()).toBeNull();
      expect(await h.sessionObjects()).toEqual([]);
      expect(kept()).toEqual(before);
      for (const id of mitm.planted) expect(state().usedSetIds).not.toContain(id);
      // The network is clean again: the chain goes on with a fresh set.
      mitm.mode = 'pass';
      for (let i = 0; i < 3; i++) expect((await client.ping()).response.pong).toBe(true);
      expect(mitm.readable).toEqual([]);
    },
  );

  it('a signing key swapped on the way is only a pending rotation: sets it signs are still refused', async () => {
    const before = client.signingKeyStatus();
    mitm.swapSigningKey = true;
    mitm.mode = 'forge';
    const status = await client.fetchSigningKey();
    expect(status.status).toBe('rotation-pending');
    expect(status.pinned).toEqual(before.pinned);
    expect((await client.ping()).nextKeySet).toEqual({ refused: 'KEY_SET_SIGNATURE' });
    expect(await codeOf(client.ping())).toBe('KEY_SET_SIGNATURE');
    expect(mitm.readable).toEqual([]);
    mitm.swapSigningKey = false;
    mitm.mode = 'pass';
    // Seeing the pinned key again clears the pending one; nothing was confirmed.
    expect((await client.fetchSigningKey()).status).toBe('pinned');
    expect((await client.ping()).response.pong).toBe(true);
  });

  it('openssl verifies a genuine set over the bytes the client checks (PSS, SHA-256, salt 32)', () => {
    const set = mitm.genuine.at(-1)!;
    const pem = state().signingKey.pinned!.pem;
    expect(opensslVerifiesPss(pem, String(set.sig), keySetSignedBytes(set), mitmDir)).toBe(true);
    const changed = keySetSignedBytes({ ...set, merchant: 'someone-else' });
    expect(opensslVerifiesPss(pem, String(set.sig), changed, mitmDir)).toBe(false);
  });
});

describe.runIf(softHsmAvailable())('a genuine signing-key rotation at the gateway', () => {
  it('is held until an admin confirms it; then the chain goes on, the old key kept for its grace', async () => {
    const old = client.signingKeyStatus().pinned!;
    // Straight to the sandbox: making an RSA-3072 key can outlast the client's short test timeout.
    const target = { url: h.sandbox.url, caPem: h.sandbox.caPem, pin: h.sandbox.pin };
    const rotated = await call(target, 'POST', '/sandbox/rotate_signing_key', {
      token: await login(target, USER, PASSWORD),
      json: {},
    });
    expect(rotated.status).toBe(200);
    // This answer's set is signed by the new key: refused, and the new key recorded as pending.
    const r = await client.ping();
    expect(r.nextKeySet).toEqual({ refused: 'KEY_SET_SIGNATURE' });
    const pending = client.signingKeyStatus();
    expect(pending).toMatchObject({ status: 'rotation-pending', pinned: { spkiSha256: old.spkiSha256 } });
    expect(h.audit.some((a) => a.action === 'signing-key.rotation-detected')).toBe(true);
    expect(await codeOf(client.ping())).toBe('KEY_SET_SIGNATURE');
    const confirmed = await client.confirmSigningKeyRotation(pending.pending!.spkiSha256);
    expect(confirmed.pinned!.spkiSha256).toBe(pending.pending!.spkiSha256);
    expect(confirmed.previous).toEqual([
      { keyId: old.keyId, spkiSha256: old.spkiSha256, acceptedUntil: expect.any(String) as string },
    ]);
    for (let i = 0; i < 3; i++) expect((await client.ping()).response.pong).toBe(true);
    expect(mitm.readable).toEqual([]);
  });
});
