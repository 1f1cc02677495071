import { timingSafeEqual } from 'node:crypto';
import { MkmError } from '../../shared/errors.std';
import { MAC_BYTES } from './sealer.main';
import type { AuditKeyHandle, AuditSealer } from './sealer.main';

/**
 * The production sealer: HMAC-SHA256 (CKM_SHA256_HMAC) by the audit key on the PKCS#11 token.
 * The token layer plugs in as one function so this module does not depend on how it is
 * reached (TokenService.hmacSign in the HSM host, over the host channel). The function takes
 * a batch so a seal or a whole verify costs one round trip to the host, not one per MAC.
 *
 *   const sealer = createTokenSealer({
 *     keyRef: { id: auditKeyId, kcv },                  // kcv from TokenService.kcv
 *     call: async (_op, keyId, data) =>
 *       Promise.all(data.map((d) => host.hmacSign({ slotId, id: keyId, data: d }).then((r) => r.mac))),
 *   });
 */
export type TokenMacCall = (op: 'sign', keyId: string, dataBase64: string[]) => Promise<string[]>;

export interface TokenSealerOptions {
  keyRef: AuditKeyHandle;
  call: TokenMacCall;
  /** Largest batch sent in one call (the host contract accepts up to 100,000 items). */
  maxBatch?: number;
}

const STRICT_B64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function createTokenSealer(options: TokenSealerOptions): AuditSealer {
  const keyRef: AuditKeyHandle = {
    id: options.keyRef.id.toLowerCase(),
    kcv: options.keyRef.kcv.toLowerCase(),
  };
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
        if (!bytes || bytes.length !== MAC_BYTES) {
          throw new MkmError('FUNCTION_FAILED', 'The token returned a MAC of the wrong size.');
        }
        out.push(bytes);
      }
    }
    return out;
  };

  // The key cannot be read out, but HMAC is deterministic: recomputing on the token and
  // comparing in constant time is exactly C_Verify.
  const verifyBatch = async (messages: Buffer[], macs: Buffer[]): Promise<boolean[]> => {
    const expected = await macBatch(messages);
    return expected.map((e, i) => {
      const mac = macs[i];
      return mac !== undefined && mac.length === MAC_BYTES && timingSafeEqual(e, mac);
    });
  };

  return { keyRef, macBatch, verifyBatch };
}
