import { randomBytes } from 'node:crypto';
import { MkmError } from '../../../../shared/errors.std';
import { type BatchResult, type EncryptBatchParams } from '../../../../shared/tokens.std';
import { toMkmError } from '../ckr.std';
import { cipherMechanism, isRsaMechanism } from '../mechanisms.host';
import { pkcs11js, type Handle, type Mechanism } from '../pkcs11.host';
import { copyGone, mechanismError } from './errors.std';
import { b64, keyClassFor, RSA_OUT, rsaRoom, ZERO_BLOCK } from './key-reads.host';
import type { SessionPool } from './session-pool.host';

const P = pkcs11js;
/** C_GenerateRandom is asked for this much at a time when the host draws a batch's IVs. */
const RANDOM_CHUNK = 4096;
const IV_BYTES = 16;
/** Below this many items a batch uses the token key as it is (a copy costs about one C_CreateObject). */
const COPY_MIN_ITEMS = 32;

const isBytes = (v: unknown): v is string | Uint8Array => typeof v === 'string' || v instanceof Uint8Array;
/** base64 text or raw bytes (cloned over the host channel) as a Buffer, without copying bytes. */
const bytes = (v: string | Uint8Array): Buffer =>
  typeof v === 'string' ? b64(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** Many encryptions with one key lookup, on a session copy of the key where that pays. */
export class BatchEncryptor {
  /** Batch key copies the token failed to destroy: tried again before the next batch. */
  private readonly strayCopies: { session: Handle; handle: Handle }[] = [];

  constructor(private readonly pool: SessionPool) {}

  /**
   * Many encryptions with one key lookup. Validation is by hand here, not zod: per-item cost is
   * what the batch is for.
   */
  async encryptBatch(params: EncryptBatchParams): Promise<BatchResult> {
    const head = params;
    const items = (params as { items?: unknown }).items;
    if (!Array.isArray(items) || items.length > 100_000) {
      throw new MkmError('VALIDATION', undefined, { issues: ['items: expected an array of at most 100000'] });
    }
    const pkcs11 = this.pool.module();
    const session = this.pool.session(head.slotId);
    const key = this.pool.findOne(head.slotId, head.id, [keyClassFor(head.mechanism, 'encrypt')]);
    const rsa = isRsaMechanism(head.mechanism);
    const mech: Mechanism = cipherMechanism(head.mechanism, rsa ? undefined : ZERO_BLOCK);
    const binary = (params as { output?: unknown }).output === 'binary';
    const tokenIvs = (params as { tokenIvs?: unknown }).tokenIvs === true;
    if (tokenIvs && rsa) {
      throw new MkmError('VALIDATION', undefined, { issues: ['tokenIvs: only for AES-CBC'] });
    }
    const out: (string | Uint8Array)[] = new Array(items.length);
    let arena = Buffer.alloc(0);
    let used = 0;
    if (binary && !rsa) {
      let size = 0;
      for (const item of items as { data?: unknown }[]) {
        const d = item?.data;
        size +=
          (typeof d === 'string' ? Math.ceil((d.length * 3) / 4) : d instanceof Uint8Array ? d.length : 0) +
          16;
      }
      arena = Buffer.allocUnsafe(size);
    }
    let buf = Buffer.alloc(rsa ? rsaRoom(this.pool, head.slotId, key.handle) : RSA_OUT);
    const h = session.handle;
    // Some libraries re-read a token key on every C_EncryptInit (SoftHSM2 checks the key's object
    // file each time: over half the cost of a 1 KiB encryption). A session copy made for the
    // batch is read once: it keeps the key's sensitive and non-extractable attributes (they can
    // only tighten on a copy), lives only inside this application's sessions, and is destroyed
    // when the batch ends. A key the token will not copy (CKA_COPYABLE false) is used as it is.
    this.destroyStrayCopies();
    const copy = !rsa && items.length >= COPY_MIN_ITEMS ? this.sessionCopy(h, key.handle) : null;
    const batchKey = copy ?? key.handle;
    // The IVs the token draws for the whole batch, one C_GenerateRandom per 4 KiB (256 IVs).
    const ivs = tokenIvs ? Buffer.allocUnsafe(items.length * IV_BYTES) : null;
    try {
      for (let at = 0; ivs && at < ivs.length; at += RANDOM_CHUNK) {
        pkcs11.C_GenerateRandom(h, ivs.subarray(at, Math.min(at + RANDOM_CHUNK, ivs.length)));
      }
      for (let i = 0; i < items.length; i++) {
        const item = items[i] as { iv?: unknown; data?: unknown } | null;
        if (!item || !isBytes(item.data) || (item.iv !== undefined && !isBytes(item.iv))) {
          throw new MkmError('VALIDATION', undefined, {
            issues: [`items.${i}: expected { iv?: bytes, data: bytes } (base64 or binary)`],
          });
        }
        const data = bytes(item.data);
        if (!rsa) {
          if (ivs && item.iv !== undefined) {
            throw new MkmError('VALIDATION', undefined, {
              issues: [`items.${i}: no iv with tokenIvs (the token draws it)`],
            });
          }
          const iv = ivs
            ? ivs.subarray(i * IV_BYTES, (i + 1) * IV_BYTES)
            : item.iv !== undefined
              ? bytes(item.iv)
              : undefined;
          if (!iv || iv.length !== 16)
            throw new MkmError('VALIDATION', 'AES-CBC needs a 16-byte IV.', { item: i });
          mech.parameter = iv;
          if (data.length + 16 > buf.length) buf = Buffer.alloc(data.length + 16);
        }
        if (data.length === 0 && rsa)
          throw new MkmError('DATA_LEN_RANGE', 'There is nothing to encrypt.', { item: i });
        pkcs11.C_EncryptInit(h, mech, batchKey);
        // Binary answers are written straight into one arena per batch: its views cross the
        // host channel as one cloned buffer instead of one allocation and copy per item.
        const target = binary && !rsa && arena.length - used >= data.length + 16 ? arena.subarray(used) : buf;
        const ct = data.length === 0 ? pkcs11.C_EncryptFinal(h, target) : pkcs11.C_Encrypt(h, data, target);
        if (!binary) out[i] = ct.toString('base64');
        else if (target === buf) out[i] = Uint8Array.prototype.slice.call(ct);
        else {
          out[i] = ct;
          used += ct.length;
        }
      }
    } catch (error) {
      throw mechanismError(this.pool.fail(error, head.slotId), head.mechanism);
    } finally {
      if (copy) {
        try {
          pkcs11.C_DestroyObject(h, copy);
        } catch {
          // A copy of the key must not stay in the session: the next batch tries again.
          this.strayCopies.push({ session: h, handle: copy });
        }
      }
    }
    return {
      items: out,
      ...(ivs ? { ivs: binary ? ivs : ivs.toString('base64') } : {}),
      keyCopy: copy !== null,
    };
  }

  /**
   * A session object copy of a key (see encryptBatch), or null when the token refuses one. It
   * gets an id of its own: a copy the token failed to destroy must never make the key's own id
   * ambiguous (every later use of the key would be refused as CONFLICT).
   */
  private sessionCopy(session: Handle, key: Handle): Handle | null {
    try {
      return this.pool.module().C_CopyObject(session, key, [
        { type: P.CKA_TOKEN, value: false },
        { type: P.CKA_ID, value: Buffer.concat([Buffer.from('mkm-batch-copy:'), randomBytes(8)]) },
        { type: P.CKA_LABEL, value: 'mkm batch key copy' },
      ]);
    } catch (error) {
      this.pool.logger.debug('a batch uses the token key itself: no session copy', {
        ckr: toMkmError(error).details?.ckr ?? null,
      });
      return null;
    }
  }

  private destroyStrayCopies(): void {
    const pkcs11 = this.pool.loaded?.pkcs11;
    for (const stray of this.strayCopies.splice(0)) {
      try {
        pkcs11?.C_DestroyObject(stray.session, stray.handle);
      } catch (error) {
        // Gone with its session (token pulled, logged out) is gone; anything else: later.
        if (!copyGone(toMkmError(error))) this.strayCopies.push(stray);
      }
    }
  }
}
