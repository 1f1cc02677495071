import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { MkmError } from '../../../shared/errors.std';
import type { CseFieldName } from '../../../shared/formats/cse-fields.std';
import { encryptField, type CsePadding } from '../../crypto/cse.nodejs';
import { parseRsaPublicKey, type RsaPublicKey } from '../../crypto/pem.nodejs';
import { countGatewayKeyUse } from '../../lifecycle/usage.nodejs';
import { answer, b64, ClientPart, sha256Hex } from './client-context.nodejs';

/** Client-side encryption under the pinned gateway key, and the gateway's verdict on it. */

export type { CseFieldName };

export interface CseVerifyRequest {
  padding: CsePadding;
  key_id?: string;
  /** base64 of 16+ random bytes */
  salt: string;
  fields: Partial<Record<CseFieldName, string>>;
}

export interface CseVerdict {
  decrypted: boolean;
  error?: string;
  length?: number;
  last4?: string;
  tag?: string;
  luhn_ok?: boolean;
  aba_ok?: boolean;
}

const CseVerdictSchema = z.object({
  decrypted: z.boolean(),
  error: z.string().max(64).optional(),
  length: z.number().int().nonnegative().optional(),
  last4: z.string().max(4).optional(),
  tag: sha256Hex.optional(),
  luhn_ok: z.boolean().optional(),
  aba_ok: z.boolean().optional(),
});
const CseVerifyAnswer = z.object({ fields: z.record(z.string(), CseVerdictSchema) });

export class GatewayCse extends ClientPart {
  /** The pinned gateway key (never the pending one). */
  pinnedGatewayKey(): (RsaPublicKey & { keyId: string | null; padding: CsePadding }) | null {
    const pinned = this.store.state.gatewayKey.pinned;
    if (!pinned) return null;
    return { ...parseRsaPublicKey(pinned.pem), keyId: pinned.keyId, padding: pinned.padding };
  }

  /**
   * Client-side encryption of clear values under the pinned key, ready for verifyCse. The
   * values are used for the call only.
   */
  encryptCseFields(
    values: Partial<Record<CseFieldName, string>>,
    salt?: Uint8Array,
    padding?: CsePadding,
  ): CseVerifyRequest {
    const key = this.pinnedGatewayKey();
    if (!key)
      throw new MkmError('NOT_FOUND', "The gateway's public key is not known yet; fetch or import it first.");
    // `padding`: what the caller composed (the console's round trip), else what the gateway advertises.
    const used = padding ?? key.padding;
    const fields: Partial<Record<CseFieldName, string>> = {};
    for (const [name, value] of Object.entries(values) as [CseFieldName, string | undefined][]) {
      if (value !== undefined) fields[name] = encryptField(key.keyObject, value, used);
    }
    countGatewayKeyUse(this.options.usage, key.spkiSha256, Object.keys(fields).length);
    return {
      padding: used,
      ...(key.keyId ? { key_id: key.keyId } : {}),
      salt: b64(salt ?? randomBytes(16)),
      fields,
    };
  }

  /** POST /v1/encryption/verify (rate-limited at the gateway: GATEWAY_RATE_LIMITED). */
  verifyCse(request: CseVerifyRequest): Promise<{ fields: Partial<Record<CseFieldName, CseVerdict>> }> {
    return this.exclusive(async () => {
      try {
        const reply = await this.session.call({
          method: 'POST',
          path: '/v1/encryption/verify',
          json: request,
        });
        const body = answer(CseVerifyAnswer, reply.body, 'verify');
        this.audit({ action: 'cse.verify', result: 'ok', keyId: request.key_id });
        return { fields: body.fields as Partial<Record<CseFieldName, CseVerdict>> };
      } catch (error) {
        this.audit({
          action: 'cse.verify',
          result: 'error',
          keyId: request.key_id,
          code: this.codeOf(error),
        });
        throw error;
      }
    });
  }
}
