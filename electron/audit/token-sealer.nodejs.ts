import { timingSafeEqual } from 'node:crypto';
import { MkmError } from '../../shared/errors.std';
import { sealKindOf, sealLengthOk } from './sealer.nodejs';
import type { AuditKeyHandle, AuditSealer } from './sealer.nodejs';

/**
 * The production sealer: HMAC-SHA256 (CKM_SHA256_HMAC), AES-CMAC or an RSASSA-PSS signature
 * (by the key's seal kind) by the audit key on the PKCS#11 token.
 * The token layer plugs in as one function so this module does not depend on how it is
 * reached (TokenEngine.hmacSign in the HSM host, over the host channel). The function takes
 * a batch so a seal or a whole verify costs one round trip to the host, not one per MAC.
 *
 *   const sealer = createTokenSealer({
 *     keyRef: { id: auditKeyId, kcv },                  // kcv from TokenEngine.kcv
 *     call: async (_op, keyId, data) =>
 *       Promise.all(data.map((d) => host.hmacSign({ slotId, id: keyId, data: d }).then((r) => r.mac))),
 *   });
 */
export type TokenMacCall = (op: 'sign', keyId: string, dataBase64: string[]) => Promise<string[]>;

export interface TokenSealerOptions {
  keyRef: AuditKeyHandle;
  call: TokenMacCall;
  /**
   * Checks signatures (rsa-pss), which are not deterministic and so cannot be recomputed: with
   * the audit key's public half as the token holds it. Required for a signature key.
   */
  verify?: (message: Buffer, signature: Buffer) => Promise<boolean>;
  /** Largest batch sent in one call (the host contract accepts up to 100,000 items). */
  maxBatch?: number;
}

const STRICT_B64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function createTokenSealer(options: TokenSealerOptions): AuditSealer {
  const keyRef: AuditKeyHandle = {
    ...options.keyRef,
    id: options.keyRef.id.toLowerCase(),
    kcv: options.keyRef.kcv.toLowerCase(),
  };
  const kind = sealKindOf(keyRef);
  const verify = options.verify;
  if (kind === 'rsa-pss' && !verify) {
    throw new MkmError('INTERNAL', 'A signature audit key needs its public key to check seals.');
  }
  const maxBatch = Math.max(1, options.maxBatch ?? 1000);

  const macBatch = async (messages: Buffer[]): Promise<Buffer[]> => {
    const out: Buffer[] = [];
    for (let from = 0; from < messages.length; from += maxBatch) {
      const chunk = messages.slice(from, from + maxBatch);
      const macs = await options.call(
        'sign',
        keyRef.id,
        chunk.map((m) => m.toString('base64')),
      );
      // A short or garbled answer must not turn into a seal that can never verify.
      if (!Array.isArray(macs) || macs.length !== chunk.length) {
        throw new MkmError('FUNCTION_FAILED', 'The token returned the wrong number of MACs.');
      }
      for (const mac of macs) {
        const bytes = typeof mac === 'string' && STRICT_B64.test(mac) ? Buffer.from(mac, 'base64') : null;
        if (!bytes || !sealLengthOk(kind, bytes.length)) {
          throw new MkmError('FUNCTION_FAILED', 'The token returned a MAC of the wrong size.');
        }
        out.push(bytes);
      }
    }
    return out;
  };

  // A MAC key cannot be read out, but a MAC is deterministic: recomputing on the token and
  // comparing in constant time is exactly C_Verify. A signature is checked with the public key.
  const verifyBatch = async (messages: Buffer[], macs: Buffer[]): Promise<boolean[]> => {
    if (verify) {
      const out: boolean[] = [];
      for (const [i, m] of messages.entries()) {
        const sig = macs[i];
        out.push(sig !== undefined && sealLengthOk(kind, sig.length) && (await verify(m, sig)));
      }
      return out;
    }
    const expected = await macBatch(messages);
    return expected.map((e, i) => {
      const mac = macs[i];
      return mac !== undefined && mac.length === e.length && timingSafeEqual(e, mac);
    });
  };

  return { keyRef, macBatch, verifyBatch };
}
