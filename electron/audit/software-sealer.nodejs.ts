import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { hmacKcv } from '../crypto/kcv.nodejs';
import { MAC_BYTES } from './sealer.nodejs';
import type { AuditKeyHandle, AuditSealer } from './sealer.nodejs';

/**
 * NOT FOR PRODUCTION. An audit sealer whose HMAC key lives in this process's memory, for
 * unit tests and benchmarks. Anyone who can read the process (or the test) has the key and can
 * forge seals; the point of the real design is that the key never leaves the token (see
 * token-sealer.nodejs.ts). Nothing in the app may construct one.
 */
export class HmacSealer implements AuditSealer {
  readonly keyRef: AuditKeyHandle;
  readonly #key: Buffer;

  /** `key`: 32 bytes; random when omitted. `id`: the CKA_ID it pretends to have. */
  constructor(options: { key?: Buffer; id?: string } = {}) {
    const key = options.key ?? randomBytes(32);
    if (key.length !== 32) throw new RangeError('HmacSealer key must be 32 bytes');
    this.#key = Buffer.from(key);
    this.keyRef = { id: options.id ?? 'a0d170', kcv: hmacKcv(this.#key) };
    if (!/^(?:[0-9a-f]{2})+$/.test(this.keyRef.id)) throw new RangeError('HmacSealer id must be hex bytes');
  }

  async macBatch(messages: Buffer[]): Promise<Buffer[]> {
    return messages.map((m) => createHmac('sha256', this.#key).update(m).digest());
  }

  async verifyBatch(messages: Buffer[], macs: Buffer[]): Promise<boolean[]> {
    const expected = await this.macBatch(messages);
    return expected.map((e, i) => {
      const mac = macs[i];
      return mac !== undefined && mac.length === MAC_BYTES && timingSafeEqual(e, mac);
    });
  }
}
