import { StateSeals } from '../../../electron/audit/state-seal.nodejs';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../shared/formats/canonical-json.std';
import {
  GatewayClient,
  type GatewayAuditEntry,
} from '../../../electron/gateway/client/gateway-client.nodejs';
import { parseGatewayProfile } from '../../../electron/gateway/client/profiles.nodejs';
import { GatewayStateStore } from '../../../electron/gateway/client/state.nodejs';
import type { TokenCaller } from '../../../electron/gateway/client/token-envelope.nodejs';
import { keySetSignedBytes, signKeySet } from '../../../electron/gateway/keyset-signature.nodejs';

/**
 * Contract 1.1 on the client, before the token is asked anything: a key set is installed only
 * when the pinned signing key vouches for it, for this merchant, under one of our keys. The
 * token is a stub that fails the test if it is called, so a refusal here provably happened
 * before anything was unwrapped; the state file must be byte for byte what it was.
 */
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const gatewayKey = generateKeyPairSync('rsa', { modulusLength: 3072 });
const otherKey = generateKeyPairSync('rsa', { modulusLength: 3072 });
const pem = (k: typeof gatewayKey) => k.publicKey.export({ type: 'spki', format: 'pem' }) as string;

const untouchedToken: TokenCaller = {
  call: async (method) => {
    throw new Error(`the token must not be asked (${method})`);
  },
};

const MERCHANT = 'merchant-a';
const OUR_KEY = 'aabb';

function makeClient() {
  const stateDir = mkdtempSync(join(tmpdir(), 'mkm-gw-sig-'));
  dirs.push(stateDir);
  // One registered transport key of ours, as a registration would have left it.
  new GatewayStateStore(stateDir, 'gw', new StateSeals()).update((s) => {
    s.merchantKeys.push({
      keyId: OUR_KEY,
      label: 'transport',
      spkiSha256: 'ab'.repeat(32),
      wrapping: 'RSAES-OAEP-SHA256',
      modulusBytes: 256,
      registeredAt: '2026-01-01T00:00:00Z',
      status: 'active',
      retiredAt: null,
    });
  });
  const audit: GatewayAuditEntry[] = [];
  const client = new GatewayClient({
    profile: parseGatewayProfile({
      id: 'gw',
      name: 'Gateway',
      baseUrl: 'https://127.0.0.1:9',
      username: MERCHANT,
      scheme: { keyRolling: true },
    }),
    tokens: untouchedToken,
    slotId: 0,
    secrets: { get: async () => 'unused' },
    stateDir,
    onAudit: (e) => audit.push(e),
  });
  const stateFile = join(stateDir, 'gateway-gw.json');
  return { client, audit, stateFile, stateDir };
}

const unsignedSet = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  set_id: `ks_${randomBytes(6).toString('hex')}`,
  wrapping_key_id: OUR_KEY,
  enc_key: randomBytes(256).toString('base64'),
  mac_key: randomBytes(256).toString('base64'),
  iv: randomBytes(16).toString('base64'),
  enc_kcv: 'abcdef',
  mac_kcv: '012345',
  expires_at: new Date(Date.now() + 600_000).toISOString(),
  merchant: MERCHANT,
  issued_at: new Date().toISOString(),
  signing_key_id: 'sk_1',
  ...over,
});
const signed = (over: Record<string, unknown> = {}, key = gatewayKey) => {
  const set = unsignedSet(over);
  return { ...set, sig: signKeySet(key.privateKey, set) };
};

describe('the signed bytes', () => {
  it('are "mkm-keyset-1.1" LF and the RFC 8785 JSON of the set without sig', () => {
    const set = { b: '2', a: '1', sig: 'x' };
    expect(keySetSignedBytes(set).toString('utf8')).toBe('mkm-keyset-1.1\n{"a":"1","b":"2"}');
    expect(keySetSignedBytes(set).toString('utf8')).toBe(
      `mkm-keyset-1.1\n${canonicalJson({ a: '1', b: '2' })}`,
    );
  });
});

describe('a 1.1 client installs only sets the pinned signing key vouches for', () => {
  it.each([
    ['an unsigned (1.0) set', () => unsignedSet(), 'unsigned'],
    ['a set signed by another key (a man in the middle)', () => signed({}, otherKey), 'bad-signature'],
    ['a set changed after signing', () => ({ ...signed(), enc_kcv: 'fedcba' }), 'bad-signature'],
    [
      'a set whose sig is not base64 of the right length',
      () => ({ ...signed(), sig: 'AAAA' }),
      'bad-signature',
    ],
    ['a signed set made for another merchant', () => signed({ merchant: 'merchant-b' }), 'merchant-mismatch'],
    [
      'a signed set wrapped under a key that is not ours',
      () => signed({ wrapping_key_id: 'ccdd' }),
      'foreign-wrapping-key',
    ],
  ])(
    'refuses %s with KEY_SET_SIGNATURE, before the token, leaving the state file as it was',
    async (_what, make, reason) => {
      const { client, audit, stateFile } = makeClient();
      await client.importSigningKeyPem(pem(gatewayKey));
      const before = readFileSync(stateFile);
      await expect(client.installKeySet(make())).rejects.toMatchObject({
        code: 'KEY_SET_SIGNATURE',
        details: { reason },
      });
      expect(readFileSync(stateFile).equals(before)).toBe(true);
      expect(client.currentKeySet()).toBeNull();
      expect(audit.at(-1)).toMatchObject({
        action: 'key-set.install',
        result: 'refused',
        code: 'KEY_SET_SIGNATURE',
        reason,
      });
    },
  );

  it('a correctly signed set gets past every signature check (to the token, which this stub refuses)', async () => {
    const { client } = makeClient();
    await client.importSigningKeyPem(pem(gatewayKey));
    await expect(client.installKeySet(signed())).rejects.toThrow(/the token must not be asked \(unwrapKey\)/);
  });
});

describe('the signing key is pinned like the encryption key', () => {
  it('pins the first PEM, holds another as pending until an admin confirms it, and then trusts only that one', async () => {
    const { client, audit, stateFile } = makeClient();
    const first = await client.importSigningKeyPem(pem(gatewayKey));
    expect(first.status).toBe('pinned');
    const second = await client.importSigningKeyPem(pem(otherKey));
    expect(second).toMatchObject({
      status: 'rotation-pending',
      pinned: { spkiSha256: first.pinned!.spkiSha256 },
    });
    expect(audit.map((a) => a.action)).toContain('signing-key.rotation-detected');
    // Pending is not trusted.
    await expect(client.installKeySet(signed({}, otherKey))).rejects.toMatchObject({
      code: 'KEY_SET_SIGNATURE',
    });
    await expect(client.confirmSigningKeyRotation('00'.repeat(32))).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    const confirmed = await client.confirmSigningKeyRotation(second.pending!.spkiSha256);
    expect(confirmed).toMatchObject({
      status: 'pinned',
      pending: null,
      pinned: { spkiSha256: second.pending!.spkiSha256 },
    });
    // No grace was stated for the old key (imported by hand): it is not trusted any more.
    expect(confirmed.previous).toEqual([]);
    await expect(client.installKeySet(signed({}, gatewayKey))).rejects.toMatchObject({
      code: 'KEY_SET_SIGNATURE',
      details: { reason: 'bad-signature' },
    });
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { signingKey: { pinned: { pem: string } } };
    expect(state.signingKey.pinned.pem).toBe(pem(otherKey));
  });

  it('refuses a signing key under 3072 bits, a private key, and the encryption key itself', async () => {
    const { client } = makeClient();
    const small = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await expect(client.importSigningKeyPem(pem(small))).rejects.toMatchObject({ code: 'KEY_SIZE_RANGE' });
    const priv = gatewayKey.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await expect(client.importSigningKeyPem(priv)).rejects.toMatchObject({ code: 'PRIVATE_KEY_REFUSED' });
    await client.importGatewayKeyPem(pem(gatewayKey), 'RSAES-OAEP-SHA256');
    await expect(client.importSigningKeyPem(pem(gatewayKey))).rejects.toMatchObject({
      code: 'GATEWAY_BAD_RESPONSE',
      details: { reason: 'signing-key-is-encryption-key' },
    });
    expect(client.signingKeyStatus().status).toBe('none');
  });

  it('loads a state file written before 1.1 with nothing pinned', () => {
    const { stateDir, stateFile } = makeClient();
    const old = JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, unknown>;
    delete old.signingKey;
    expect(existsSync(stateFile)).toBe(true);
    const store = new GatewayStateStore(stateDir, 'gw', new StateSeals());
    expect(store.state.signingKey).toEqual({ pinned: null, pending: null, previous: [] });
  });
});
