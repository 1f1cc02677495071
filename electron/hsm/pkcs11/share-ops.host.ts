import {
  constants,
  createDecipheriv,
  createHash,
  publicEncrypt,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import {
  shareChunks,
  shareFromWire,
  shareToWire,
  SHARE_CHUNKS,
  KEK_BACKUP_FORMAT,
  type KekBackupRecord,
  type ShareCheckParams,
  type ShareCheckResult,
  type ShareRecoverKekParams,
  type ShareRevealParams,
  type ShareRevealResult,
  type ShareSplitKekParams,
  type ShareSplitKekResult,
} from '../../../shared/ceremony/share-ops.std';
import type { CeremonyKeyResult } from '../../../shared/ceremony/token-ops.std';
import { MkmError } from '../../../shared/errors.std';
import { COMPONENT_KEY_BYTES, wipe, type ComponentKeyType } from '../../../shared/formats/components.std';
import type { KeyShare, ShareBackup } from '../../../shared/formats/shares/backup.std';
import { backupFromRecord, backupToRecord } from '../../../shared/formats/shares/backup-record.std';
import { bigIntToBytes, ELEMENT_BYTES } from '../../../shared/formats/shares/group.std';
import { recoverKey } from '../../../shared/formats/shares/recover.std';
import { commit, splitKey } from '../../../shared/formats/shares/split.std';
import { findShareProblem, shareScalars } from '../../../shared/formats/shares/verify.std';
import { kcv } from '../../crypto/kcv.nodejs';
import { revealKeyOf, type CeremonyShareAccess } from './ceremony-ops.host';
import { toMkmError } from './ckr.std';
import { rfc3394Iv } from './mechanisms.host';
import { findById, readAttribute } from './objects.host';
import { pkcs11js, readBool, readUlong, type Handle, type Mechanism } from './pkcs11.host';

/**
 * M-of-N backup of a key-encryption key (issue 11 point 5; CEREMONY.md "Secrets travel end to
 * end"), on the token host.
 *
 * Split: the KEK leaves the token once, wrapped under a session AES key whose value the host
 * drew from the token's RNG, and is unwrapped here; it is split with Pedersen-verified Shamir
 * (shared/formats/shares), every share checked against the commitments and the key recovered
 * from the shares once before anything is kept; then the key is wiped. What leaves the call is
 * the public record (commitments, check values). The shares stay in this process only as
 * ciphertexts to the ceremony's transport key (its private half on the token), each opened once,
 * to be encrypted to the one custodian it is revealed to, and then forgotten.
 *
 * Recovery: M shares arrive encrypted to the transport key, each is checked against the
 * commitments on its own (a bad one is refused by its number and the custodian who entered it),
 * the key is interpolated, compared with C_0 and with the recorded check values, and enters the
 * token by C_UnwrapKey with a KEK's attributes (ceremony-ops' `enter`). Every clear byte is wiped
 * in the call that made it. The drill opens and checks one share at a time and combines none.
 */

const P = pkcs11js;
const OAEP_HASH = 'sha256';

/** A KEK's PKCS#11 key type and length as a ceremony key type (the shares carry only a length). */
function kekType(ckk: number | null, length: number): ComponentKeyType | null {
  if (ckk === P.CKK_AES)
    return length === 16 ? 'aes-128' : length === 24 ? 'aes-192' : length === 32 ? 'aes-256' : null;
  if (ckk === P.CKK_DES2 && length === 16) return 'tdes-2key';
  if (ckk === P.CKK_DES3 && length === 24) return 'tdes-3key';
  return null;
}

const sha256Hex = (...parts: Uint8Array[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

/** SHA-256 of a share's commitment g^y·h^z: for a good share, the public ∏ C_j^(i^j); never of y or z. */
function shareFingerprint(share: KeyShare): string {
  const scalars = shareScalars(share);
  if (!scalars) throw new MkmError('SHARE_FORMAT_INVALID', undefined, { index: share.index });
  return sha256Hex(bigIntToBytes(commit(scalars[0], scalars[1]), ELEMENT_BYTES));
}

function oaepTo(key: KeyObject, chunk: Uint8Array): string {
  return publicEncrypt(
    { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: OAEP_HASH },
    chunk,
  ).toString('base64');
}

export class ShareOps {
  /** `slot:transportKeyId:backupId` -> share index -> the share's chunks, to the transport key. */
  private readonly sealed = new Map<string, Map<number, string[]>>();

  constructor(private readonly c: CeremonyShareAccess) {}

  async shareSplitKek(params: ShareSplitKekParams): Promise<ShareSplitKekResult> {
    const { slotId, transportKeyId, threshold, count } = params;
    const keyId = params.keyId.toLowerCase();
    if (threshold > count) {
      throw new MkmError('SHARE_PARAMETERS_INVALID', undefined, { threshold, count });
    }
    const transport = this.c.transportPublicKey(slotId, transportKeyId);
    const kek = this.readKek(slotId, keyId);
    const key = this.extract(slotId, kek.handle);
    const randoms: Uint8Array[] = [];
    let shares: KeyShare[] = [];
    try {
      const type = kekType(kek.ckk, key.length);
      if (type === null) {
        throw new MkmError('SHARE_KEK_UNSUPPORTED', undefined, {
          keyId,
          reason: 'key-type',
          bytes: key.length,
        });
      }
      const split = splitKey(key, { threshold, count }, (n) => {
        const r = this.c.randomSecret(slotId, n);
        randoms.push(r);
        return r;
      });
      shares = split.shares;
      this.selfCheck(split.backup, shares, key);
      const kcvs = [kcv(type, key, 'legacy'), kcv(type, key, 'cmac')];
      const sealed = new Map<number, string[]>();
      for (const share of shares) {
        const wire = shareToWire(share);
        try {
          sealed.set(
            share.index,
            shareChunks(wire).map((chunk) => oaepTo(transport, chunk)),
          );
        } finally {
          wipe(wire);
        }
      }
      this.sealed.set(`${slotId}:${transportKeyId}:${split.backup.backupId}`, sealed);
      const record: KekBackupRecord = {
        format: KEK_BACKUP_FORMAT,
        version: 1,
        backup: backupToRecord(split.backup) as KekBackupRecord['backup'],
        key: {
          keyType: type,
          kcvs: kcvs.map((k) => ({ method: k.method as 'legacy' | 'cmac', kcv: k.kcv })),
          id: keyId,
          label: kek.label,
        },
        ceremonyId: params.ceremonyId,
        commitmentsSha256: sha256Hex(...split.backup.commitments),
      };
      this.c.access.logger.info('Key-encryption key split into shares', {
        slotId,
        keyId,
        keyType: type,
        threshold,
        count,
        backupId: split.backup.backupId,
        kcv: kcvs.map((k) => `${k.method}:${k.kcv}`),
      });
      return { record };
    } finally {
      wipe(key, ...randoms, ...shares.map((s) => s.value));
    }
  }

  async shareReveal(params: ShareRevealParams): Promise<ShareRevealResult> {
    const { slotId, transportKeyId, backupId, index } = params;
    const reveal = revealKeyOf(params.revealKey);
    const held = this.sealed.get(`${slotId}:${transportKeyId}:${backupId}`);
    const chunks = held?.get(index);
    if (!held || !chunks) throw new MkmError('SHARE_BACKUP_GONE', undefined, { backupId, index });
    const share = this.open(slotId, transportKeyId, chunks, index);
    const wire = shareToWire(share);
    try {
      if (share.backupId !== backupId || share.index !== index) {
        throw new MkmError('SHARE_FORMAT_INVALID', 'The held share is not the one asked for.', { index });
      }
      const fingerprint = shareFingerprint(share);
      const ciphertexts = shareChunks(wire).map((chunk) => oaepTo(reveal.key, chunk));
      // Revealed once: the custodian has it now, nobody else can be shown it again.
      held.delete(index);
      if (held.size === 0) this.sealed.delete(`${slotId}:${transportKeyId}:${backupId}`);
      this.c.access.logger.info('Key share revealed to a custodian key', {
        slotId,
        backupId,
        index,
        revealKeySha256: reveal.sha256,
      });
      return { ciphertexts, revealKeySha256: reveal.sha256, index, fingerprint };
    } finally {
      wipe(wire, share.value);
    }
  }

  async shareCheck(params: ShareCheckParams): Promise<ShareCheckResult> {
    const { slotId, transportKeyId, position } = params;
    const backup = backupFromRecord(params.record.backup);
    const share = this.open(slotId, transportKeyId, params.ciphertexts, position);
    try {
      const found = findShareProblem(backup, share);
      if (found?.check === 'format') throw named(found.error, position);
      return {
        index: share.index,
        fingerprint: found ? null : shareFingerprint(share),
        problem: found ? { code: found.error.code, check: found.check } : null,
      };
    } finally {
      wipe(share.value);
    }
  }

  async shareRecoverKek(params: ShareRecoverKekParams): Promise<CeremonyKeyResult & { backupId: string }> {
    const { slotId, transportKeyId, record, label, id } = params;
    const backup = backupFromRecord(record.backup);
    const type = record.key.keyType;
    if (COMPONENT_KEY_BYTES[type] !== backup.keyLength) {
      throw new MkmError(
        'SHARE_COMMITMENTS_INVALID',
        'The backup record’s key type does not fit its key length.',
        {
          field: 'key.keyType',
        },
      );
    }
    this.c.refuseTaken(slotId, id);
    const shares: KeyShare[] = [];
    let key: Uint8Array | null = null;
    try {
      params.shares.forEach((chunks, i) => shares.push(this.open(slotId, transportKeyId, chunks, i + 1)));
      const seen = new Map<number, number>();
      shares.forEach((share, i) => {
        const found = findShareProblem(backup, share);
        if (found) throw named(found.error, i + 1);
        const earlier = seen.get(share.index);
        if (earlier !== undefined) {
          throw new MkmError(
            'SHARE_DUPLICATE_INDEX',
            `Share ${share.index} was entered twice (entries ${earlier} and ${i + 1}); each custodian enters their own share once.`,
            { index: share.index, position: i + 1, check: 'duplicate' },
          );
        }
        seen.set(share.index, i + 1);
      });
      key = recoverKey(backup, shares);
      for (const expected of record.key.kcvs) {
        const actual = kcv(type, key, expected.method, expected.kcv.length / 2).kcv;
        if (actual !== expected.kcv) {
          throw new MkmError('SHARE_RECOVERY_KCV_MISMATCH', undefined, {
            backupId: backup.backupId,
            method: expected.method,
            expected: expected.kcv,
          });
        }
      }
      const result = this.c.enter(slotId, type, key, { label, id, purpose: 'kek' });
      this.c.access.logger.info('Key-encryption key recovered from shares', {
        slotId,
        keyId: id,
        keyType: type,
        backupId: backup.backupId,
        shares: shares.map((s) => s.index),
        kcv: result.kcvs.map((k) => `${k.method}:${k.kcv}`),
      });
      return { ...result, backupId: backup.backupId };
    } finally {
      wipe(...shares.map((s) => s.value));
      if (key) wipe(key);
    }
  }

  // ---------------------------------------------------------------- internals

  /** The KEK to back up, refused before any byte of it moves unless it may leave the token at all. */
  private readKek(slotId: number, keyId: string): { handle: Handle; ckk: number | null; label: string } {
    const { access } = this.c;
    const pkcs11 = access.pkcs11();
    const found = access.call(slotId, () => findById(pkcs11, access.session(slotId), keyId, 'secret'));
    if (found.length !== 1) {
      throw new MkmError(found.length === 0 ? 'KEY_NOT_FOUND' : 'CONFLICT', undefined, { id: keyId });
    }
    const handle = found[0]!.handle;
    const attr = (type: number): Buffer | undefined => {
      try {
        return access.call(slotId, () => readAttribute(pkcs11, access.session(slotId), handle, type));
      } catch {
        return undefined; // a token that does not know the attribute
      }
    };
    const ckk = readUlong(attr(P.CKA_KEY_TYPE));
    const label = attr(P.CKA_LABEL)?.toString('utf8').slice(0, 64) ?? '';
    if (readBool(attr(P.CKA_WRAP)) !== true && readBool(attr(P.CKA_UNWRAP)) !== true) {
      throw new MkmError('SHARE_KEK_UNSUPPORTED', undefined, { keyId, reason: 'not-a-kek' });
    }
    if (ckk !== P.CKK_AES && ckk !== P.CKK_DES2 && ckk !== P.CKK_DES3) {
      throw new MkmError('SHARE_KEK_UNSUPPORTED', undefined, { keyId, reason: 'key-type' });
    }
    if (readBool(attr(P.CKA_EXTRACTABLE)) !== true) {
      throw new MkmError('SHARE_KEK_NOT_EXPORTABLE', undefined, { keyId, reason: 'not-extractable' });
    }
    // The host's session key is never CKA_TRUSTED (only the security officer marks one): a key that
    // may leave only under a trusted key is refused here, also on a token that would not enforce it.
    if (readBool(attr(P.CKA_WRAP_WITH_TRUSTED)) === true) {
      throw new MkmError('SHARE_KEK_NOT_EXPORTABLE', undefined, { keyId, reason: 'wrap-with-trusted' });
    }
    return { handle, ckk, label };
  }

  /**
   * The KEK's value in host memory (the caller wipes it): wrapped on the token under a session
   * AES-256 key made from bytes of the token's RNG (so the host can undo the wrap), RFC 3394 where
   * the token wraps with it, else AES-CBC-PAD; the session key is destroyed at once.
   */
  private extract(slotId: number, kek: Handle): Uint8Array {
    const { access } = this.c;
    const pkcs11 = access.pkcs11();
    const value = this.c.randomSecret(slotId, 32);
    const valueBuffer = Buffer.from(value);
    let wrapping: Handle | null = null;
    let wrapped: Buffer | null = null;
    const out = Buffer.alloc(256);
    try {
      wrapping = access.call(slotId, () =>
        pkcs11.C_CreateObject(access.session(slotId), [
          { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
          { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
          { type: P.CKA_TOKEN, value: false },
          { type: P.CKA_PRIVATE, value: true },
          { type: P.CKA_SENSITIVE, value: true },
          { type: P.CKA_EXTRACTABLE, value: false },
          { type: P.CKA_LABEL, value: 'mkm-share-extract' },
          { type: P.CKA_WRAP, value: true },
          { type: P.CKA_UNWRAP, value: false },
          { type: P.CKA_ENCRYPT, value: false },
          { type: P.CKA_DECRYPT, value: false },
          { type: P.CKA_VALUE, value: valueBuffer },
        ]),
      );
      const kw = this.c.hasMechanism(slotId, P.CKM_AES_KEY_WRAP, P.CKF_WRAP);
      const iv = kw ? rfc3394Iv() : Buffer.from(this.c.randomSecret(slotId, 16));
      const mechanism: Mechanism = kw
        ? { mechanism: P.CKM_AES_KEY_WRAP }
        : { mechanism: P.CKM_AES_CBC_PAD, parameter: iv };
      const w = wrapping;
      try {
        wrapped = Buffer.from(
          access.call(slotId, () => pkcs11.C_WrapKey(access.session(slotId), mechanism, w, kek, out)),
        );
      } catch (error) {
        const e = toMkmError(error);
        // The token's own word that the key may not leave (CKR_KEY_UNEXTRACTABLE, NOT_WRAPPABLE).
        if (e.code === 'KEY_NOT_EXTRACTABLE') {
          throw new MkmError('SHARE_KEK_NOT_EXPORTABLE', undefined, {
            reason: 'token-refused',
            cause: e.code,
          });
        }
        throw e;
      }
      const decipher = createDecipheriv(kw ? 'id-aes256-wrap' : 'aes-256-cbc', valueBuffer, iv);
      const head = decipher.update(wrapped);
      const tail = decipher.final();
      const key = new Uint8Array(head.length + tail.length);
      key.set(head);
      key.set(tail, head.length);
      wipe(head, tail);
      return key;
    } finally {
      wipe(value, valueBuffer, out);
      if (wrapped) wipe(wrapped);
      if (wrapping) this.c.destroyQuietly(slotId, wrapping);
    }
  }

  /** Before anything is kept: every share checks on its own, and the last M give the key back. */
  private selfCheck(backup: ShareBackup, shares: KeyShare[], key: Uint8Array): void {
    for (const share of shares) {
      if (findShareProblem(backup, share) !== null) throw new MkmError('SHARE_RECOVERY_MISMATCH');
    }
    const again = recoverKey(backup, shares.slice(-backup.threshold));
    try {
      if (again.length !== key.length || !timingSafeEqual(again, key)) {
        throw new MkmError('SHARE_RECOVERY_MISMATCH');
      }
    } finally {
      wipe(again);
    }
  }

  /** One share opened on the token from its chunks; its value is the caller's to wipe. */
  private open(
    slotId: number,
    transportKeyId: string,
    chunks: readonly string[],
    position: number,
  ): KeyShare {
    if (chunks.length !== SHARE_CHUNKS) {
      throw new MkmError('SHARE_CIPHERTEXT_INVALID', undefined, { position, reason: 'chunks' });
    }
    const parts: Uint8Array[] = [];
    let wire: Uint8Array | null = null;
    try {
      for (const chunk of chunks) {
        try {
          parts.push(this.c.open(slotId, transportKeyId, chunk));
        } catch (error) {
          const e = toMkmError(error);
          if (e.code === 'COMPONENT_CIPHERTEXT_INVALID') {
            throw new MkmError('SHARE_CIPHERTEXT_INVALID', undefined, { position });
          }
          throw e;
        }
      }
      wire = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        wire.set(p, at);
        at += p.length;
      }
      const share = shareFromWire(wire);
      if (!share)
        throw new MkmError('SHARE_FORMAT_INVALID', 'The entered share is not a whole share.', { position });
      return share;
    } finally {
      wipe(...parts);
      if (wire) wipe(wire);
    }
  }
}

/** A share's refusal, naming also which entry (custodian) it was. */
function named(error: MkmError, position: number): MkmError {
  return new MkmError(error.code, error.message, { ...(error.details ?? {}), position });
}
