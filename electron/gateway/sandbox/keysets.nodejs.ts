import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { aesCmacKcv, hmacKcv } from '../../crypto/kcv.nodejs';
import { signKeySet } from '../keyset-signature.nodejs';
import { iso, type Clock } from './clock.nodejs';
import { GatewayError } from './errors.nodejs';
import { generateRsaKey, wrapOaep } from './rsa.nodejs';
import type { IssuedKeySet, KeySetRecord, MerchantKeyRecord, StateStore } from './state.nodejs';

/**
 * Issuing and consuming key sets (the Pace-style rolling keys). A used or expired set keeps its
 * record, minus its clear keys, for a day so that a late replay is told KEY_SET_USED or
 * KEY_SET_EXPIRED rather than KEY_SET_UNKNOWN; after that it is forgotten.
 */

export const SET_RETENTION_MS = 24 * 3600 * 1000;
/**
 * Every refusal hands out a set, so a client looping on errors could grow the state without
 * bound; past this many open (unused, unexpired) sets per user the oldest are forgotten.
 */
export const MAX_OPEN_SETS_PER_USER = 256;

export type IssueFault = 'none' | 'bad_kcv' | 'replay_set' | 'unsigned_set' | 'forged_set';

/** The key that signs sets (contract 1.1): the signing keyring's current key. */
export type SetSigner = () => { keyId: string; key: KeyObject };

export class KeySets {
  /** The forged_set fault's signer: made once, never published, never the gateway's. */
  private forging: Promise<KeyObject> | null = null;

  constructor(
    private readonly store: StateStore,
    private readonly clock: Clock,
    private readonly ttlSeconds: number,
    private readonly signer: SetSigner,
    private forger: KeyObject | null = null,
  ) {}

  /** New sets are wrapped under the most recently registered key that is still active. */
  wrappingKey(owner: string): MerchantKeyRecord | undefined {
    let best: MerchantKeyRecord | undefined;
    for (const k of this.store.state.merchant_keys) {
      if (k.owner === owner && k.status === 'active' && (!best || k.seq > best.seq)) best = k;
    }
    return best;
  }

  lookup(owner: string, setId: string): KeySetRecord | undefined {
    const set = Object.hasOwn(this.store.state.key_sets, setId)
      ? this.store.state.key_sets[setId]
      : undefined;
    // Another user's set is reported as unknown: set ids must not be probeable across merchants.
    return set && set.owner === owner ? set : undefined;
  }

  isExpired(set: KeySetRecord): boolean {
    return this.clock() >= set.expires_at_ms;
  }

  /** One use per set; the clear keys go with it. */
  consume(set: KeySetRecord): void {
    set.used_at_ms = this.clock();
    set.enc_key = null;
    set.mac_key = null;
  }

  private lastUsed(owner: string): KeySetRecord | undefined {
    let best: KeySetRecord | undefined;
    for (const s of Object.values(this.store.state.key_sets)) {
      if (s.owner === owner && s.used_at_ms !== null && (!best || s.used_at_ms >= best.used_at_ms!)) best = s;
    }
    return best;
  }

  /**
   * The next_key_set for `owner`. With `replay_set` it hands out the last used set's body
   * unchanged (a gateway replaying a cached answer) and reports `replayed`; when there is no
   * used set to replay it issues a fresh one and reports that the fault did not happen.
   * Does not save: the caller saves once per request.
   */
  issue(owner: string, fault: IssueFault = 'none'): { body: IssuedKeySet; replayed: boolean } {
    this.prune();
    if (fault === 'replay_set') {
      const used = this.lastUsed(owner);
      if (used) return { body: { ...used.issued }, replayed: true };
    }
    const wrapper = this.wrappingKey(owner);
    if (!wrapper) {
      throw new GatewayError('NOT_FOUND', 'No active merchant key is registered; register one first.');
    }
    const publicKey = createPublicKey(wrapper.public_key_pem);
    const encKey = randomBytes(32);
    const macKey = randomBytes(32);
    const iv = randomBytes(16);
    const now = this.clock();
    const setId = `ks_${randomBytes(16).toString('base64url')}`;
    let encKcv = aesCmacKcv(encKey);
    if (fault === 'bad_kcv') {
      // Off by one bit: the most plausible corruption, and still a well-formed kcv.
      encKcv = (parseInt(encKcv, 16) ^ 0x000001).toString(16).padStart(6, '0');
    }
    const signer = this.signer();
    const body: IssuedKeySet = {
      set_id: setId,
      wrapping_key_id: wrapper.key_id,
      enc_key: wrapOaep(publicKey, wrapper.wrapping, encKey).toString('base64'),
      mac_key: wrapOaep(publicKey, wrapper.wrapping, macKey).toString('base64'),
      iv: iv.toString('base64'),
      enc_kcv: encKcv,
      mac_kcv: hmacKcv(macKey),
      expires_at: iso(now + this.ttlSeconds * 1000),
      merchant: owner,
      issued_at: iso(now),
      signing_key_id: signer.keyId,
    };
    // forged_set: what a man in the middle can make (keys wrapped under the public transport
    // key, right KCVs, the real key id) except a signature by the gateway's key.
    if (fault !== 'unsigned_set')
      body.sig = signKeySet(fault === 'forged_set' ? this.forgery() : signer.key, body);
    this.store.state.key_sets[setId] = {
      set_id: setId,
      owner,
      wrapping_key_id: wrapper.key_id,
      enc_key: encKey.toString('base64'),
      mac_key: macKey.toString('base64'),
      iv: body.iv,
      issued: body,
      issued_at_ms: now,
      expires_at_ms: now + this.ttlSeconds * 1000,
      used_at_ms: null,
    };
    this.capOpenSets(owner);
    return { body, replayed: false };
  }

  /**
   * Makes the forged_set signer ahead of time (when the fault is armed), so the call that shows
   * the fault is not held up by an RSA-3072 key generation.
   */
  async prepareForgery(): Promise<void> {
    if (this.forger) return;
    // One generation however often the fault is armed (a client retrying a slow arm call).
    this.forging ??= generateRsaKey(3072).then(({ privatePem }) => createPrivateKey(privatePem));
    this.forger = await this.forging;
  }

  private forgery(): KeyObject {
    this.forger ??= generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey;
    return this.forger;
  }

  private capOpenSets(owner: string): void {
    const now = this.clock();
    const open = Object.values(this.store.state.key_sets)
      .filter((s) => s.owner === owner && s.used_at_ms === null && now < s.expires_at_ms)
      .sort((a, b) => a.issued_at_ms - b.issued_at_ms);
    for (const s of open.slice(0, Math.max(0, open.length - MAX_OPEN_SETS_PER_USER))) {
      delete this.store.state.key_sets[s.set_id];
    }
  }

  private prune(): void {
    const now = this.clock();
    const sets = this.store.state.key_sets;
    for (const [id, s] of Object.entries(sets)) {
      if (now >= s.expires_at_ms + SET_RETENTION_MS) delete sets[id];
      else if (now >= s.expires_at_ms) {
        s.enc_key = null;
        s.mac_key = null;
      }
    }
  }
}
