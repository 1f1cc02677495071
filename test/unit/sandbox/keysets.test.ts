import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  KeySets,
  MAX_OPEN_SETS_PER_USER,
  SET_RETENTION_MS,
} from '../../../electron/gateway/sandbox/keysets.nodejs';
import { StateStore } from '../../../electron/gateway/sandbox/state.nodejs';
import { keySetSignatureValid } from '../../../electron/gateway/keyset-signature.nodejs';
import { rsaPublicKeyFromKeyObject } from '../../../electron/crypto/pem.nodejs';

// The signature arithmetic does not depend on the size; 2048 bits keep this file quick.
const signing = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingPublic = rsaPublicKeyFromKeyObject(signing.publicKey);
const forger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

const dir = mkdtempSync(join(tmpdir(), 'mkm-sb-sets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function setup() {
  const store = StateStore.open(join(dir, String(Math.random()).slice(2)));
  let now = 1_000_000;
  const sets = new KeySets(
    store,
    () => now,
    60,
    () => ({ keyId: 'sk_unit', key: signing.privateKey }),
    forger,
  );
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  store.state.merchant_keys.push({
    owner: 'u',
    key_id: 'k',
    public_key_pem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    spki_sha256: 'x',
    wrapping: 'RSAES-OAEP-SHA256',
    status: 'active',
    registered_at: 'now',
    retired_at: null,
    seq: 1,
  });
  return { store, sets, tick: (ms: number) => (now += ms) };
}

describe('KeySets', () => {
  it('forgets the oldest open sets past the per-user cap', () => {
    const { store, sets, tick } = setup();
    const ids: string[] = [];
    for (let i = 0; i < MAX_OPEN_SETS_PER_USER + 3; i++) {
      ids.push(sets.issue('u').body.set_id);
      tick(1);
    }
    expect(Object.keys(store.state.key_sets)).toHaveLength(MAX_OPEN_SETS_PER_USER);
    expect(sets.lookup('u', ids[0]!)).toBeUndefined();
    expect(sets.lookup('u', ids.at(-1)!)).toBeDefined();
  });

  it('drops clear keys at use and at expiry, and the record a day after expiry', () => {
    const { sets, tick } = setup();
    const a = sets.issue('u').body.set_id;
    const b = sets.issue('u').body.set_id;
    sets.consume(sets.lookup('u', a)!);
    expect(sets.lookup('u', a)).toMatchObject({ enc_key: null, mac_key: null });
    tick(61_000);
    sets.issue('u');
    expect(sets.lookup('u', b)).toMatchObject({ enc_key: null, mac_key: null });
    expect(sets.isExpired(sets.lookup('u', b)!)).toBe(true);
    tick(SET_RETENTION_MS);
    sets.issue('u');
    expect(sets.lookup('u', a)).toBeUndefined();
    expect(sets.lookup('u', b)).toBeUndefined();
  });

  it('does not show one user another user’s set', () => {
    const { sets } = setup();
    const id = sets.issue('u').body.set_id;
    expect(sets.lookup('someone-else', id)).toBeUndefined();
  });

  it('signs every set for its merchant (contract 1.1); unsigned_set drops the sig, forged_set signs with another key', () => {
    const { sets } = setup();
    const good = sets.issue('u').body as unknown as Record<string, unknown>;
    expect(good).toMatchObject({ merchant: 'u', signing_key_id: 'sk_unit' });
    expect(keySetSignatureValid(signingPublic, good)).toBe(true);
    expect(keySetSignatureValid(signingPublic, { ...good, merchant: 'someone-else' })).toBe(false);
    const unsigned = sets.issue('u', 'unsigned_set').body as unknown as Record<string, unknown>;
    expect(unsigned.sig).toBeUndefined();
    expect(keySetSignatureValid(signingPublic, unsigned)).toBe(false);
    const forged = sets.issue('u', 'forged_set').body as unknown as Record<string, unknown>;
    expect(forged).toMatchObject({ signing_key_id: 'sk_unit' });
    expect(typeof forged.sig).toBe('string');
    expect(keySetSignatureValid(signingPublic, forged)).toBe(false);
  });
});
