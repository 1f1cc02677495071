import { MkmError } from '../../../shared/errors.std';
import { normalizeFingerprint } from '../../../shared/formats/fingerprint.std';
import { z } from 'zod';
import type { CsePadding } from '../../crypto/cse.nodejs';
import { parseRsaPublicKey } from '../../crypto/pem.nodejs';
import { keySetSignatureValid, SIGNING_KEY_MIN_BITS } from '../keyset-signature.nodejs';
import { answer, ClientPart, sha256Hex } from './client-context.nodejs';
import type { GatewayKeyRecord, PinConfirmation, SigningKeyRecord } from './state.nodejs';

/**
 * The gateway's two public keys, pinned: its encryption (CSE) key and its key-set signing key
 * (contract 1.1). First sight pins, a different key later waits for an admin's confirmation, and
 * a first pin stays unconfirmed until a person compares its fingerprint out of band.
 */

export interface GatewayKeyView {
  keyId: string | null;
  spkiSha256: string;
  padding: CsePadding;
  source: 'fetched' | 'imported';
  seenAt: string;
  /** null: pinned, unconfirmed (nobody compared its fingerprint with the gateway's yet). */
  confirmed: PinConfirmation | null;
}

export interface GatewayKeyStatus {
  status: 'none' | 'pinned' | 'rotation-pending';
  pinned: GatewayKeyView | null;
  /** The key the gateway now serves, waiting for an admin's confirmation. */
  pending: GatewayKeyView | null;
  /** From the last fetch: earlier keys the gateway still accepts. */
  previous?: { keyId: string; spkiSha256: string; acceptedUntil: string }[];
}

export interface SigningKeyView {
  keyId: string | null;
  spkiSha256: string;
  source: 'fetched' | 'imported';
  seenAt: string;
  confirmed: PinConfirmation | null;
}

/** The gateway's key-set signing key (contract 1.1), pinned like the encryption key. */
export interface SigningKeyStatus {
  status: 'none' | 'pinned' | 'rotation-pending';
  pinned: SigningKeyView | null;
  pending: SigningKeyView | null;
  /** Keys replaced by a confirmed rotation whose sets are still accepted until then. */
  previous: { keyId: string | null; spkiSha256: string; acceptedUntil: string }[];
}

const PublicKeyAnswer = z.object({
  key_id: z.string().min(1).max(128),
  pem: z.string().min(1).max(16_384),
  spki_sha256: sha256Hex,
  padding: z.enum(['RSAES-PKCS1-V1_5', 'RSAES-OAEP-SHA256']),
  created_at: z.string(),
  previous: z
    .array(z.object({ key_id: z.string(), spki_sha256: sha256Hex, accepted_until: z.string() }))
    .default([]),
});
const SigningKeyAnswer = PublicKeyAnswer.omit({ padding: true });

/** What a pinned gateway key's record shows (never its PEM): the client's and the service's views. */
export function gatewayKeyView(record: GatewayKeyRecord | null): GatewayKeyView | null {
  return record
    ? {
        keyId: record.keyId,
        spkiSha256: record.spkiSha256,
        padding: record.padding,
        source: record.source,
        seenAt: record.seenAt,
        confirmed: record.confirmed ?? null,
      }
    : null;
}

export function signingKeyView(record: SigningKeyRecord | null): SigningKeyView | null {
  return record
    ? {
        keyId: record.keyId,
        spkiSha256: record.spkiSha256,
        source: record.source,
        seenAt: record.seenAt,
        confirmed: record.confirmed ?? null,
      }
    : null;
}

/** Where a pinned key lives in the state file, and the name its audit entries go under. */
type PinSlot = 'gatewayKey' | 'signingKey';
const PIN_AUDIT = { gatewayKey: 'gateway-key', signingKey: 'signing-key' } as const;

export class GatewayKeyPins extends ClientPart {
  private lastPrevious: GatewayKeyStatus['previous'];
  /** The signing key's `previous` from the last fetch: their grace, kept when a rotation is confirmed. */
  private lastSigningPrevious: { spkiSha256: string; acceptedUntil: string }[] = [];

  private view(record: GatewayKeyRecord | null): GatewayKeyView | null {
    return gatewayKeyView(record);
  }

  gatewayKeyStatus(): GatewayKeyStatus {
    const { pinned, pending } = this.store.state.gatewayKey;
    return {
      status: pinned === null ? 'none' : pending === null ? 'pinned' : 'rotation-pending',
      pinned: this.view(pinned),
      pending: this.view(pending),
      ...(this.lastPrevious ? { previous: this.lastPrevious } : {}),
    };
  }

  /**
   * First sight pins; a different key later waits for an admin's confirmation (confirmPin), and
   * until then the pinned key stays the one in use. Both gateway keys follow this rule.
   */
  private considerPin(slot: PinSlot, candidate: GatewayKeyRecord | SigningKeyRecord): void {
    const { pinned, pending } = this.store.state[slot];
    const prefix = PIN_AUDIT[slot];
    if (pinned === null) {
      this.store.update((s) => {
        s[slot].pinned = candidate as GatewayKeyRecord;
        s[slot].pending = null;
      });
      this.audit({
        action: `${prefix}.pin`,
        result: 'ok',
        keyId: candidate.keyId ?? undefined,
        fingerprint: candidate.spkiSha256,
      });
    } else if (pinned.spkiSha256 === candidate.spkiSha256) {
      if (pending !== null) this.store.update((s) => void (s[slot].pending = null));
    } else if (pending?.spkiSha256 !== candidate.spkiSha256) {
      this.store.update((s) => void (s[slot].pending = candidate as GatewayKeyRecord));
      this.audit({
        action: `${prefix}.rotation-detected`,
        result: 'refused',
        keyId: candidate.keyId ?? undefined,
        fingerprint: candidate.spkiSha256,
        previousFingerprint: pinned.spkiSha256,
        reason: 'confirmation-required',
      });
    }
  }

  /** An admin accepts the pending key of `slot` (named by its fingerprint, as shown to them). */
  private confirmPin(slot: PinSlot, fingerprint: string): void {
    const { pinned, pending } = this.store.state[slot];
    const what = slot === 'gatewayKey' ? 'gateway key' : 'gateway signing key';
    if (pending === null) throw new MkmError('NOT_FOUND', `No ${what} rotation is waiting for confirmation.`);
    if (pending.spkiSha256 !== fingerprint.toLowerCase()) {
      throw new MkmError('CONFLICT', `The pending ${what} has another fingerprint; look at it again.`, {
        pending: pending.spkiSha256,
      });
    }
    // The replaced signing key still vouches for sets it signed, for the grace the gateway stated.
    const grace =
      slot === 'signingKey' && pinned
        ? this.lastSigningPrevious.find((p) => p.spkiSha256 === pinned.spkiSha256)
        : undefined;
    this.store.update((s) => {
      s[slot].pinned = pending as GatewayKeyRecord;
      s[slot].pending = null;
      if (slot === 'signingKey') {
        const now = this.gatewayNow();
        s.signingKey.previous = s.signingKey.previous.filter((p) => Date.parse(p.acceptedUntil) > now);
        if (grace && pinned) s.signingKey.previous.push({ ...(pinned as SigningKeyRecord), ...grace });
      }
    });
    this.audit({
      action: `${PIN_AUDIT[slot]}.rotation-confirmed`,
      result: 'ok',
      keyId: pending.keyId ?? undefined,
      fingerprint: pending.spkiSha256,
      ...(pinned ? { previousFingerprint: pinned.spkiSha256 } : {}),
    });
  }

  /**
   * A person compared the pinned key's fingerprint with the one the gateway's operator read out
   * (out of band) and says who they are: recorded in the sealed state file and the audit log.
   * A fingerprint that differs confirms nothing (PIN_FINGERPRINT_MISMATCH).
   */
  private confirmFirstPin(slot: PinSlot, fingerprint: string, by: string, role: string | null): void {
    const { pinned } = this.store.state[slot];
    const what = slot === 'gatewayKey' ? 'gateway key' : 'gateway signing key';
    const prefix = PIN_AUDIT[slot];
    if (pinned === null) throw new MkmError('NOT_FOUND', `No ${what} is pinned for this profile yet.`);
    const given = normalizeFingerprint(fingerprint);
    if (given === null) {
      throw new MkmError('VALIDATION', 'A fingerprint is 64 hex digits (spaces and colons allowed).');
    }
    const name = by.trim();
    if (!name) throw new MkmError('VALIDATION', 'Say who compared the fingerprint (a name).');
    if (given !== pinned.spkiSha256) {
      this.audit({
        action: `${prefix}.pin-confirmed`,
        result: 'refused',
        keyId: pinned.keyId ?? undefined,
        fingerprint: pinned.spkiSha256,
        code: 'PIN_FINGERPRINT_MISMATCH',
        confirmedBy: name,
        ...(role ? { confirmedRole: role } : {}),
      });
      throw new MkmError(
        'PIN_FINGERPRINT_MISMATCH',
        `The fingerprint given is not the pinned ${what}'s: nothing was confirmed. Read it again with the gateway operator; if it still differs, do not use this gateway.`,
        { pinned: pinned.spkiSha256, given },
      );
    }
    const confirmed: PinConfirmation = {
      by: name,
      role: role?.trim() || null,
      at: new Date(this.clock()).toISOString(),
    };
    this.store.update((s) => {
      s[slot].pinned!.confirmed = confirmed;
    });
    this.audit({
      action: `${prefix}.pin-confirmed`,
      result: 'ok',
      keyId: pinned.keyId ?? undefined,
      fingerprint: pinned.spkiSha256,
      confirmedBy: confirmed.by,
      ...(confirmed.role ? { confirmedRole: confirmed.role } : {}),
    });
  }

  confirmGatewayKeyPin(fingerprint: string, by: string, role: string | null): Promise<GatewayKeyStatus> {
    return this.exclusive(async () => {
      this.confirmFirstPin('gatewayKey', fingerprint, by, role);
      return this.gatewayKeyStatus();
    });
  }

  confirmSigningKeyPin(fingerprint: string, by: string, role: string | null): Promise<SigningKeyStatus> {
    return this.exclusive(async () => {
      this.confirmFirstPin('signingKey', fingerprint, by, role);
      return this.signingKeyStatus();
    });
  }

  fetchGatewayKey(): Promise<GatewayKeyStatus> {
    return this.exclusive(async () => {
      try {
        const reply = await this.session.call({
          method: 'GET',
          path: '/v1/encryption/public_key',
          idempotent: true,
        });
        const body = answer(PublicKeyAnswer, reply.body, 'gateway public key');
        const parsed = parseRsaPublicKey(body.pem);
        if (parsed.spkiSha256 !== body.spki_sha256) {
          throw new MkmError(
            'GATEWAY_BAD_RESPONSE',
            "The gateway's key does not match the fingerprint it states.",
            {
              reason: 'fingerprint-mismatch',
            },
          );
        }
        this.lastPrevious = body.previous.map((p) => ({
          keyId: p.key_id,
          spkiSha256: p.spki_sha256,
          acceptedUntil: p.accepted_until,
        }));
        this.audit({
          action: 'gateway-key.fetch',
          result: 'ok',
          keyId: body.key_id,
          fingerprint: parsed.spkiSha256,
        });
        this.considerPin('gatewayKey', {
          keyId: body.key_id,
          spkiSha256: parsed.spkiSha256,
          pem: parsed.keyObject.export({ type: 'spki', format: 'pem' }) as string,
          padding: body.padding,
          source: 'fetched',
          seenAt: new Date(this.clock()).toISOString(),
        });
        return this.gatewayKeyStatus();
      } catch (error) {
        this.audit({ action: 'gateway-key.fetch', result: 'error', code: this.codeOf(error) });
        throw error;
      }
    });
  }

  /** For a gateway without a public_key endpoint (PayTrace): the PEM file, same checks. */
  importGatewayKeyPem(pem: string, padding?: CsePadding): Promise<GatewayKeyStatus> {
    return this.exclusive(async () => {
      const parsed = parseRsaPublicKey(pem);
      this.audit({ action: 'gateway-key.import', result: 'ok', fingerprint: parsed.spkiSha256 });
      this.considerPin('gatewayKey', {
        keyId: null,
        spkiSha256: parsed.spkiSha256,
        pem: parsed.keyObject.export({ type: 'spki', format: 'pem' }) as string,
        padding: padding ?? this.profile.scheme.cse?.padding ?? 'RSAES-PKCS1-V1_5',
        source: 'imported',
        seenAt: new Date(this.clock()).toISOString(),
      });
      return this.gatewayKeyStatus();
    });
  }

  /** An admin accepts the pending key (named by its fingerprint, as shown to them). */
  confirmGatewayKeyRotation(fingerprint: string): Promise<GatewayKeyStatus> {
    return this.exclusive(async () => {
      this.confirmPin('gatewayKey', fingerprint);
      return this.gatewayKeyStatus();
    });
  }

  // ------------------------------------------------------------------ the gateway's signing key

  signingKeyStatus(): SigningKeyStatus {
    const { pinned, pending, previous } = this.store.state.signingKey;
    const view = signingKeyView;
    return {
      status: pinned === null ? 'none' : pending === null ? 'pinned' : 'rotation-pending',
      pinned: view(pinned),
      pending: view(pending),
      previous: previous.map((p) => ({
        keyId: p.keyId,
        spkiSha256: p.spkiSha256,
        acceptedUntil: p.acceptedUntil,
      })),
    };
  }

  /** A signing key candidate: RSA of 3072 bits or more, and never the key that decrypts card data. */
  private signingCandidate(
    pem: string,
    keyId: string | null,
    source: 'fetched' | 'imported',
  ): SigningKeyRecord {
    const parsed = parseRsaPublicKey(pem, { minBits: SIGNING_KEY_MIN_BITS });
    const encryption = this.store.state.gatewayKey;
    if ([encryption.pinned, encryption.pending].some((k) => k?.spkiSha256 === parsed.spkiSha256)) {
      throw new MkmError(
        'GATEWAY_BAD_RESPONSE',
        "The gateway's signing key is its encryption key; it is refused.",
        {
          reason: 'signing-key-is-encryption-key',
        },
      );
    }
    return {
      keyId,
      spkiSha256: parsed.spkiSha256,
      pem: parsed.keyObject.export({ type: 'spki', format: 'pem' }) as string,
      source,
      seenAt: new Date(this.clock()).toISOString(),
    };
  }

  /** GET /v1/encryption/signing_key: pinned on first sight, a rotation to confirm after. */
  fetchSigningKey(): Promise<SigningKeyStatus> {
    return this.exclusive(() => this.fetchSigning());
  }

  async fetchSigning(): Promise<SigningKeyStatus> {
    try {
      const reply = await this.session.call({
        method: 'GET',
        path: '/v1/encryption/signing_key',
        idempotent: true,
      });
      this.observe(reply);
      const body = answer(SigningKeyAnswer, reply.body, 'gateway signing key');
      const candidate = this.signingCandidate(body.pem, body.key_id, 'fetched');
      if (candidate.spkiSha256 !== body.spki_sha256) {
        throw new MkmError(
          'GATEWAY_BAD_RESPONSE',
          "The gateway's signing key does not match the fingerprint it states.",
          {
            reason: 'fingerprint-mismatch',
          },
        );
      }
      this.lastSigningPrevious = body.previous.map((p) => ({
        spkiSha256: p.spki_sha256,
        acceptedUntil: p.accepted_until,
      }));
      this.audit({
        action: 'signing-key.fetch',
        result: 'ok',
        keyId: body.key_id,
        fingerprint: candidate.spkiSha256,
      });
      this.considerPin('signingKey', candidate);
      return this.signingKeyStatus();
    } catch (error) {
      this.audit({ action: 'signing-key.fetch', result: 'error', code: this.codeOf(error) });
      throw error;
    }
  }

  /** The signing key's PEM, imported by hand (a gateway without the endpoint); same checks. */
  importSigningKeyPem(pem: string): Promise<SigningKeyStatus> {
    return this.exclusive(async () => {
      const candidate = this.signingCandidate(pem, null, 'imported');
      this.audit({ action: 'signing-key.import', result: 'ok', fingerprint: candidate.spkiSha256 });
      this.considerPin('signingKey', candidate);
      return this.signingKeyStatus();
    });
  }

  confirmSigningKeyRotation(fingerprint: string): Promise<SigningKeyStatus> {
    return this.exclusive(async () => {
      this.confirmPin('signingKey', fingerprint);
      return this.signingKeyStatus();
    });
  }

  /**
   * Whether the set's `sig` verifies under a key this client trusts for it: the pinned key, or a
   * key replaced by a confirmed rotation before its `acceptedUntil`. A pending key never counts.
   */
  signatureHolds(raw: Record<string, unknown>): 'ok' | 'unsigned' | 'unknown-signing-key' | 'bad-signature' {
    if (raw.sig === undefined) return 'unsigned';
    const { pinned, previous } = this.store.state.signingKey;
    const now = this.gatewayNow();
    const trusted = [
      ...(pinned ? [pinned] : []),
      ...previous.filter((p) => Date.parse(p.acceptedUntil) > now),
    ];
    const named = raw.signing_key_id;
    // A key imported by hand has no id: it answers for any id (the signature decides).
    const candidates = trusted.filter((k) => k.keyId === null || k.keyId === named);
    if (candidates.length === 0) return 'unknown-signing-key';
    return candidates.some((k) =>
      keySetSignatureValid(parseRsaPublicKey(k.pem, { minBits: SIGNING_KEY_MIN_BITS }), raw),
    )
      ? 'ok'
      : 'bad-signature';
  }
}
