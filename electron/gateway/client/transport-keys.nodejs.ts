import { z } from 'zod';
import { MkmError, type ErrorCode } from '../../../shared/errors.std';
import type { CapabilitiesResult } from '../../../shared/tokens.std';
import { checkCapabilities } from '../../hsm/capability-guard.nodejs';
import {
  answer,
  ClientPart,
  sha256Hex,
  type GatewayClientContext,
  type TransportWrapping,
} from './client-context.nodejs';
import type { KeySetInfo, KeySets } from './key-sets.nodejs';
import type { MerchantKeyRecord } from './state.nodejs';

/** The merchant's transport keys at the gateway: registered (with the first set), listed, retired. */

const WRAPPING_OF: Record<'RSA_OAEP_SHA256' | 'RSA_OAEP_SHA1', TransportWrapping> = {
  RSA_OAEP_SHA256: 'RSAES-OAEP-SHA256',
  RSA_OAEP_SHA1: 'RSAES-OAEP-SHA1',
};

export interface Registration {
  keyId: string;
  spkiSha256: string;
  wrapping: TransportWrapping;
  status: 'active';
  registeredAt: string;
  /** 201 on a first registration, 200 when it was already registered exactly so. */
  created: boolean;
  /** The installed first set, or why it was refused (then the next call asks for a fresh one). */
  keySet: KeySetInfo | { refused: ErrorCode };
}

export interface MerchantKeyListing {
  keyId: string;
  spkiSha256: string;
  status: 'active' | 'retired';
  registeredAt: string;
  retiredAt: string | null;
  wrapping?: string | undefined;
}

const RegisterAnswer = z.object({
  key_id: z.string(),
  spki_sha256: sha256Hex,
  wrapping: z.enum(['RSAES-OAEP-SHA256', 'RSAES-OAEP-SHA1']),
  status: z.literal('active'),
  registered_at: z.string(),
  next_key_set: z.unknown(),
});
const MerchantKeysAnswer = z.object({
  keys: z.array(
    z.object({
      key_id: z.string(),
      spki_sha256: sha256Hex,
      status: z.enum(['active', 'retired']),
      registered_at: z.string(),
      retired_at: z.string().nullable(),
      wrapping: z.string().optional(),
    }),
  ),
});
const RetireAnswer = z.object({ key_id: z.string(), status: z.literal('retired'), retired_at: z.string() });

export class TransportKeys extends ClientPart {
  private probed: CapabilitiesResult | null = null;

  constructor(
    ctx: GatewayClientContext,
    private readonly keySets: KeySets,
  ) {
    super(ctx);
  }

  /** What the token can unwrap, strongest first. */
  async bestWrapping(): Promise<TransportWrapping> {
    this.probed ??= this.options.probe
      ? await this.options.probe()
      : await this.tokens.call('probeCapabilities', { slotId: this.slotId });
    const best = this.probed.bestOaepUnwrap;
    checkCapabilities(this.probed, 'keyset-unwrap');
    if (best === null) throw new MkmError('CAPABILITY_MISSING', undefined, { capability: 'rsaOaepUnwrap' });
    return WRAPPING_OF[best];
  }

  /**
   * Registers the token's RSA key `keyId` (CKA_ID hex, also its key_id at the gateway) as a
   * transport key, with the strongest OAEP the token can unwrap, and installs the first set.
   * Safe to repeat: the gateway answers the same registration again with a fresh set.
   */
  registerTransportKey(request: {
    keyId: string;
    label: string;
    /** The managed key it is (kept with the registration; an earlier link stays when absent). */
    link?: { logicalKeyId: string; versionId: string } | undefined;
  }): Promise<Registration> {
    return this.exclusive(async () => {
      await this.keySets.handleLeftovers();
      const keyId = request.keyId.toLowerCase();
      try {
        const exported = await this.tokens.call('exportPublicKey', {
          slotId: this.slotId,
          id: keyId,
          format: 'pem',
        });
        const wrapping = await this.bestWrapping();
        const reply = await this.session.call({
          method: 'POST',
          path: '/v1/encryption/merchant_keys',
          json: { key_id: keyId, public_key_pem: exported.pem, wrapping },
          idempotent: true,
        });
        this.observe(reply);
        const body = answer(RegisterAnswer, reply.body, 'merchant key registration');
        if (body.key_id !== keyId || body.spki_sha256 !== exported.spkiSha256 || body.wrapping !== wrapping) {
          throw new MkmError(
            'GATEWAY_BAD_RESPONSE',
            'The gateway registered something other than what was sent.',
            {
              reason: 'registration-mismatch',
            },
          );
        }
        const record: MerchantKeyRecord = {
          keyId,
          label: request.label,
          spkiSha256: body.spki_sha256,
          wrapping,
          modulusBytes: Math.ceil(exported.bits / 8),
          registeredAt: body.registered_at,
          status: 'active',
          retiredAt: null,
        };
        const earlier = this.merchantKey(keyId);
        const link =
          request.link ??
          (earlier?.logicalKeyId && earlier.versionId
            ? { logicalKeyId: earlier.logicalKeyId, versionId: earlier.versionId }
            : undefined);
        if (link) Object.assign(record, link);
        this.store.update((s) => {
          s.merchantKeys = s.merchantKeys.filter((k) => k.keyId !== keyId);
          s.merchantKeys.push(record);
        });
        this.audit({
          action: 'merchant-key.register',
          result: 'ok',
          keyId,
          fingerprint: body.spki_sha256,
          wrapping,
          reason: reply.status === 201 ? 'created' : 'already-registered',
        });
        const keySet = await this.keySets.installOrRefuse(body.next_key_set);
        return {
          keyId,
          spkiSha256: body.spki_sha256,
          wrapping,
          status: 'active' as const,
          registeredAt: body.registered_at,
          created: reply.status === 201,
          keySet,
        };
      } catch (error) {
        this.audit({ action: 'merchant-key.register', result: 'error', keyId, code: this.codeOf(error) });
        throw error;
      }
    });
  }

  listMerchantKeys(): Promise<MerchantKeyListing[]> {
    return this.exclusive(async () => {
      const reply = await this.session.call({
        method: 'GET',
        path: '/v1/encryption/merchant_keys',
        idempotent: true,
      });
      const body = answer(MerchantKeysAnswer, reply.body, 'merchant keys');
      // The gateway is the authority on status: a key retired elsewhere is retired here too.
      this.store.update((s) => {
        for (const k of s.merchantKeys) {
          const there = body.keys.find((g) => g.key_id === k.keyId);
          if (there && there.status === 'retired' && k.status !== 'retired') {
            k.status = 'retired';
            k.retiredAt = there.retired_at;
          }
        }
      });
      this.audit({ action: 'merchant-key.list', result: 'ok' });
      return body.keys.map((k) => ({
        keyId: k.key_id,
        spkiSha256: k.spki_sha256,
        status: k.status,
        registeredAt: k.registered_at,
        retiredAt: k.retired_at,
        wrapping: k.wrapping,
      }));
    });
  }

  /** No new set is wrapped under a retired key; sets already issued under it stay usable. */
  retireMerchantKey(keyId: string): Promise<{ keyId: string; status: 'retired'; retiredAt: string }> {
    return this.exclusive(async () => {
      try {
        const reply = await this.session.call({
          method: 'POST',
          path: `/v1/encryption/merchant_keys/${encodeURIComponent(keyId)}/retire`,
          json: {},
        });
        const body = answer(RetireAnswer, reply.body, 'retirement');
        this.store.update((s) => {
          const k = s.merchantKeys.find((m) => m.keyId === body.key_id);
          if (k) {
            k.status = 'retired';
            k.retiredAt = body.retired_at;
          }
        });
        this.audit({ action: 'merchant-key.retire', result: 'ok', keyId });
        return { keyId: body.key_id, status: 'retired' as const, retiredAt: body.retired_at };
      } catch (error) {
        this.audit({ action: 'merchant-key.retire', result: 'error', keyId, code: this.codeOf(error) });
        throw error;
      }
    });
  }

  merchantKeys(): readonly MerchantKeyRecord[] {
    return this.store.state.merchantKeys;
  }
}
