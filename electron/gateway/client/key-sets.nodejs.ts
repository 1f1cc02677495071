import { z } from 'zod';
import { MkmError, type ErrorCode } from '../../../shared/errors.std';
import type { WrapMechanism } from '../../../shared/tokens.std';
import { parseNextKeySet, type NextKeySet } from '../../crypto/envelope.nodejs';
import type { HsmResult } from '../../hsm/host/protocol.std';
import { countedUse } from '../../lifecycle/usage.nodejs';
import {
  answer,
  b64,
  ClientPart,
  type GatewayClientContext,
  type TransportWrapping,
} from './client-context.nodejs';
import type { JsonResponse } from './https.nodejs';
import type { GatewayKeyPins } from './pinning.nodejs';
import type { KeySetRecord } from './state.nodejs';

/**
 * The one-use key sets: validated (signature, merchant, wrapping key, replay, expiry), unwrapped
 * into the token as session objects, KCV-checked there, and destroyed once used or discarded.
 * One set at a time.
 */

export interface KeySetInfo {
  setId: string;
  wrappingKeyId: string;
  expiresAt: string;
}

const MECHANISM_OF: Record<TransportWrapping, WrapMechanism> = {
  'RSAES-OAEP-SHA256': 'RSA_OAEP_SHA256',
  'RSAES-OAEP-SHA1': 'RSA_OAEP_SHA1',
};

const KeySetAnswer = z.object({ next_key_set: z.unknown() });

/** A set closer than this to its expiry is not used: the message might arrive after it. */
const EXPIRY_MARGIN_MS = 10_000;

/** The set in use: ids of its two session objects in the token, never their values. */
export type ActiveSet = KeySetRecord;

/** A key set's member, if it is a string (for refusals, before the set is validated). */
function member(raw: unknown, name: string): string | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const value = (raw as Record<string, unknown>)[name];
  return typeof value === 'string' ? value.slice(0, 128) : undefined;
}

export class KeySets extends ClientPart {
  /** Cleared by a secure message the moment its set counts as used. */
  set: ActiveSet | null = null;
  private leftoversHandled = false;
  /**
   * Key-set objects the token failed to destroy (it errored, or was pulled and put back): a
   * discarded set's keys must not stay usable in the token, so they are tried again before the
   * next set is used.
   */
  private readonly undestroyed = new Set<string>();
  /** An unwrap failed: the token may hold a key it made but never named; look before the next set. */
  private strayCheck = false;

  constructor(
    ctx: GatewayClientContext,
    private readonly pins: GatewayKeyPins,
  ) {
    super(ctx);
  }

  private async destroySecret(id: string): Promise<void> {
    try {
      await this.tokens.call('destroyObject', { slotId: this.slotId, id, class: 'secret', confirm: true });
      this.undestroyed.delete(id);
    } catch (error) {
      // Gone already (a restarted host took its session objects with it) is what we wanted.
      if (this.codeOf(error) === 'KEY_NOT_FOUND') {
        this.undestroyed.delete(id);
        return;
      }
      this.undestroyed.add(id);
      this.logger.warn('a key set object could not be destroyed', { keyId: id, code: this.codeOf(error) });
      throw error;
    }
  }

  private async destroySetObjects(set: KeySetRecord): Promise<void> {
    const results = await Promise.allSettled([
      this.destroySecret(set.encKeyId),
      this.destroySecret(set.macKeyId),
    ]);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /** Drops the current set (destroyed in the token, forgotten on disk). */
  async discardSet(reason: string, set: KeySetRecord | null = this.set): Promise<void> {
    if (!set) return;
    if (this.set?.setId === set.setId) this.set = null;
    let code: ErrorCode | undefined;
    try {
      await this.destroySetObjects(set);
    } catch (error) {
      code = this.codeOf(error);
      throw error;
    } finally {
      if (this.store.state.keySet?.setId === set.setId) this.store.update((s) => void (s.keySet = null));
      this.audit({
        action: 'key-set.discard',
        result: code ? 'error' : 'ok',
        setId: set.setId,
        reason,
        ...(code ? { code } : {}),
      });
    }
  }

  /**
   * A set recorded by an earlier process (or an earlier client over the same host): its objects
   * died with that host, or linger in this one; either way it is never used again.
   */
  async handleLeftovers(): Promise<void> {
    await this.destroyStrays();
    if (this.leftoversHandled) return;
    const left = this.store.state.keySet;
    if (left && left.setId !== this.set?.setId) {
      try {
        await this.discardSet('restart', left);
      } catch (error) {
        this.logger.warn('leftover key set objects not destroyed', {
          setId: left.setId,
          code: this.codeOf(error),
        });
      }
    }
    this.leftoversHandled = true;
  }

  /** The profile is in the label, so a sweep for this client's strays never touches another profile's set. */
  private setLabel(keyType: 'aes-256' | 'hmac-256'): string {
    return `mkm gateway set ${keyType === 'aes-256' ? 'enc' : 'mac'} ${this.profile.id}`;
  }

  /**
   * Destroys what must not stay in the token: set keys whose destruction failed, and (after a
   * failed unwrap, which a token may report after making the key) session keys carrying this
   * profile's set labels that are not the current set.
   */
  private async destroyStrays(): Promise<void> {
    if (this.strayCheck) {
      try {
        const labels = new Set([this.setLabel('aes-256'), this.setLabel('hmac-256')]);
        const keep = new Set(this.set ? [this.set.encKeyId, this.set.macKeyId] : []);
        const objects = await this.tokens.call('listObjects', { slotId: this.slotId, class: 'secret' });
        for (const o of objects) {
          if (!o.token && labels.has(o.label) && !keep.has(o.id)) this.undestroyed.add(o.id);
        }
        this.strayCheck = false;
      } catch {
        // The token is still failing: looked for again before the next set.
      }
    }
    for (const id of [...this.undestroyed]) await this.destroySecret(id).catch(() => undefined);
  }

  /** The set the next message will use, if any (ids and expiry only). */
  currentKeySet(): KeySetInfo | null {
    return this.set
      ? { setId: this.set.setId, wrappingKeyId: this.set.wrappingKeyId, expiresAt: this.set.expiresAt }
      : null;
  }

  /**
   * Validates a `next_key_set`, unwraps both keys into the token as session objects, checks
   * their KCVs there, and makes it the set for the next message. Refused, with the current set
   * and the state file untouched: a set not signed by the pinned signing key, not for this
   * merchant, or wrapped under a key that is not ours (KEY_SET_SIGNATURE), a malformed one
   * (GATEWAY_BAD_RESPONSE), one already used (KEY_SET_USED), expired (KEY_SET_EXPIRED), or a
   * KCV mismatch (KCV_MISMATCH; the unwrapped objects are destroyed).
   */
  installKeySet(nextKeySet: unknown): Promise<KeySetInfo> {
    return this.exclusive(async () => {
      await this.stateSealHolds();
      await this.handleLeftovers();
      return this.install(nextKeySet);
    });
  }

  private async install(raw: unknown): Promise<KeySetInfo> {
    const wrappingKeyId = member(raw, 'wrapping_key_id');
    const setIdGuess = member(raw, 'set_id');
    const refuse = (error: MkmError): never => {
      this.audit({
        action: 'key-set.install',
        result: 'refused',
        setId: setIdGuess,
        keyId: wrappingKeyId,
        code: error.code,
        ...(typeof error.details?.reason === 'string' ? { reason: error.details.reason } : {}),
      });
      throw error;
    };
    // Contract 1.1: nothing of a set is used (not even handed to the token) before the gateway's
    // signing key vouches for it, for this merchant, under one of this merchant's keys.
    const forged = (reason: string, extra: Record<string, string> = {}) =>
      refuse(
        new MkmError(
          'KEY_SET_SIGNATURE',
          reason === 'unsigned'
            ? 'The gateway handed over an unsigned key set (contract 1.0); a 1.1 client refuses it.'
            : reason === 'no-signing-key'
              ? "The gateway's signing key is not pinned and could not be fetched; fetch it or import its PEM."
              : "The key set is not vouched for by the gateway's pinned signing key; it is refused.",
          { reason, ...extra },
        ),
      );
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      return refuse(new MkmError('GATEWAY_BAD_RESPONSE', 'next_key_set: not an object', { reason: 'shape' }));
    }
    const signed = raw as Record<string, unknown>;
    if (this.store.state.signingKey.pinned === null) {
      // First sight pins (as for the encryption key); a gateway without the endpoint needs its PEM.
      try {
        await this.pins.fetchSigning();
      } catch (error) {
        return forged('no-signing-key', { cause: this.codeOf(error) });
      }
    }
    const verdict = this.pins.signatureHolds(signed);
    if (verdict !== 'ok') {
      if (verdict === 'unknown-signing-key') {
        // Perhaps the gateway rotated its signing key: record it as pending, for an admin to see.
        await this.pins.fetchSigning().catch(() => undefined);
      }
      return forged(verdict, setIdGuess ? { setId: setIdGuess } : {});
    }
    if (signed.merchant !== this.profile.username) return forged('merchant-mismatch');
    const owner = wrappingKeyId === undefined ? undefined : this.merchantKey(wrappingKeyId);
    if (!owner) return forged('foreign-wrapping-key', wrappingKeyId ? { wrappingKeyId } : {});
    let set: NextKeySet;
    try {
      set = parseNextKeySet(raw, owner.modulusBytes);
    } catch (error) {
      return refuse(error as MkmError);
    }
    if (this.store.state.usedSetIds.includes(set.set_id) || this.set?.setId === set.set_id) {
      return refuse(
        new MkmError(
          'KEY_SET_USED',
          'The gateway handed over a key set that was already used; it is refused.',
          {
            reason: 'replayed',
            setId: set.set_id,
          },
        ),
      );
    }
    if (Date.parse(set.expires_at) - EXPIRY_MARGIN_MS <= this.gatewayNow()) {
      return refuse(
        new MkmError('KEY_SET_EXPIRED', undefined, { setId: set.set_id, reason: 'expired-on-arrival' }),
      );
    }
    const mechanism = MECHANISM_OF[owner.wrapping];
    const unwrap = (wrapped: Uint8Array, keyType: 'aes-256' | 'hmac-256') =>
      countedUse(this.options.usage, { slotId: this.slotId, id: owner.keyId }, 'key-set-unwrap', 1, () =>
        this.tokens.call('unwrapKey', {
          slotId: this.slotId,
          unwrappingKeyId: owner.keyId,
          mechanism,
          wrapped: b64(wrapped),
          keyType,
          label: this.setLabel(keyType),
          token: false,
        }),
      );
    let enc: HsmResult<'unwrapKey'>;
    try {
      enc = await unwrap(set.enc_key, 'aes-256');
    } catch (error) {
      this.strayCheck = true;
      await this.destroyStrays();
      return refuse((await this.explainTokenError(error)) as MkmError);
    }
    let mac: HsmResult<'unwrapKey'>;
    try {
      mac = await unwrap(set.mac_key, 'hmac-256');
    } catch (error) {
      await this.destroySecret(enc.id).catch(() => undefined);
      this.strayCheck = true;
      await this.destroyStrays();
      return refuse(error as MkmError);
    }
    const wrong =
      enc.method !== 'cmac' || enc.kcv !== set.enc_kcv
        ? 'enc'
        : mac.method !== 'hmac' || mac.kcv !== set.mac_kcv
          ? 'mac'
          : null;
    if (wrong) {
      await Promise.allSettled([this.destroySecret(enc.id), this.destroySecret(mac.id)]);
      return refuse(
        new MkmError(
          'KCV_MISMATCH',
          `The gateway's ${wrong === 'enc' ? 'encryption' : 'MAC'} key does not match its check value; the key set is refused.`,
          {
            setId: set.set_id,
            key: wrong,
            expected: wrong === 'enc' ? set.enc_kcv : set.mac_kcv,
            actual: wrong === 'enc' ? enc.kcv : mac.kcv,
          },
        ),
      );
    }
    const previous = this.set;
    const record: ActiveSet = {
      setId: set.set_id,
      wrappingKeyId: owner.keyId,
      iv: b64(set.iv),
      expiresAt: set.expires_at,
      encKeyId: enc.id,
      macKeyId: mac.id,
    };
    // One set at a time: a newer set replaces an unused older one (which simply expires at the gateway).
    if (previous) await this.discardSet('replaced', previous).catch(() => undefined);
    this.set = record;
    this.store.update((s) => {
      s.keySet = {
        setId: record.setId,
        wrappingKeyId: record.wrappingKeyId,
        iv: record.iv,
        expiresAt: record.expiresAt,
        encKeyId: record.encKeyId,
        macKeyId: record.macKeyId,
      };
    });
    this.audit({ action: 'key-set.install', result: 'ok', setId: set.set_id, keyId: owner.keyId });
    return { setId: record.setId, wrappingKeyId: record.wrappingKeyId, expiresAt: record.expiresAt };
  }

  /**
   * Key-set work starts here (explicit installs, set requests, secure messages, whose answers
   * install the next set): the state file's seal must hold first. Its pinned signing key decides
   * which sets are trusted, and this work writes the file (leftovers, used ids, the new set), so
   * a client that read a tampered file would both trust the swapped key and seal the swap as its
   * own. Refused (STATE_TAMPERED, or STATE_UNCHECKED with no audit key) before anything is
   * written or handed to the token. One check per call: it runs inside the call's exclusive turn.
   */
  private async stateSealHolds(): Promise<void> {
    try {
      await this.store.check('the gateway state (its pinned keys and key sets)');
    } catch (error) {
      this.audit({ action: 'key-set.install', result: 'refused', code: this.codeOf(error) });
      throw error;
    }
  }

  /** Installs, or records why not (the next message then asks for a fresh set). */
  async installOrRefuse(raw: unknown): Promise<KeySetInfo | { refused: ErrorCode }> {
    try {
      return await this.install(raw);
    } catch (error) {
      this.logger.warn('key set refused', { code: this.codeOf(error) });
      return { refused: this.codeOf(error) };
    }
  }

  /** POST /v1/encryption/key_sets and install the answer. */
  requestKeySet(): Promise<KeySetInfo> {
    return this.exclusive(async () => {
      await this.stateSealHolds();
      await this.handleLeftovers();
      return this.requestSet();
    });
  }

  private async requestSet(): Promise<KeySetInfo> {
    let reply: JsonResponse;
    try {
      reply = await this.session.call({ method: 'POST', path: '/v1/encryption/key_sets', json: {} });
    } catch (error) {
      this.audit({ action: 'key-set.request', result: 'error', code: this.codeOf(error) });
      throw error;
    }
    this.observe(reply);
    const body = answer(KeySetAnswer, reply.body, 'key set');
    this.audit({ action: 'key-set.request', result: 'ok' });
    return this.install(body.next_key_set);
  }

  /** The current set if it can still carry a message; otherwise a fresh one. */
  async usableSet(): Promise<ActiveSet> {
    await this.stateSealHolds();
    await this.handleLeftovers();
    if (this.set && Date.parse(this.set.expiresAt) - EXPIRY_MARGIN_MS > this.gatewayNow()) return this.set;
    if (this.set) await this.discardSet('expired');
    try {
      await this.requestSet();
    } catch (error) {
      // A refused set (bad KCV, replayed id, a signature that does not hold) is a one-off
      // mistake or a forgery on the way: ask once more, then give up with the refusal.
      const code = this.codeOf(error);
      const oneOff = ['KCV_MISMATCH', 'KEY_SET_USED', 'KEY_SET_EXPIRED', 'KEY_SET_SIGNATURE'];
      if (!oneOff.includes(code)) throw error;
      await this.requestSet();
    }
    return this.set!;
  }
}
