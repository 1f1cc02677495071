import { createDecipheriv } from 'node:crypto';
import { MkmError } from '../../../shared/errors.std';
import {
  COMPONENT_KEY_BYTES,
  isTdes,
  wipe,
  type ComponentKeyType,
} from '../../../shared/formats/components.std';
import type { LabelledKcv } from '../../../shared/formats/kcv-methods.std';
import { unwrapKeyBlock, wrapKeyBlock } from '../../../shared/formats/tr31/block.std';
import type { CipherFamily, Derivation, Kbpk, KeyBlockCrypto } from '../../../shared/formats/tr31/crypto.std';
import { deriveWithCmac } from '../../../shared/formats/tr31/crypto.std';
import { parseHeader, type KeyBlockHeader } from '../../../shared/formats/tr31/header.std';
import { attributesForHeader, type ImportAttributes } from '../../../shared/formats/tr31/policy.std';
import {
  headerSummary,
  type Tr31ExportParams,
  type Tr31ExportResult,
  type Tr31ImportParams,
  type Tr31ImportResult,
  type Tr31KeyAttributes,
} from '../../../shared/ceremony/tr31-ops.std';
import type { KeyUsage, ObjectInfo } from '../../../shared/tokens.std';
import { kcv } from '../../crypto/kcv.nodejs';
import { secretTemplate, type CeremonyOps, type CeremonyOpsAccess } from './ceremony-ops.host';
import type { FoundObject } from './objects.host';
import { rfc3394Iv } from './mechanisms.host';
import { readAttribute } from './objects.host';
import { BOOL_ATTR, pkcs11js, readBool, type Handle, type Mechanism, type Template } from './pkcs11.host';

/**
 * TR-31 / X9.143 key blocks on the token (issue 11 point 4), over the pure codec
 * (shared/formats/tr31) with a `KeyBlockCrypto` whose keys are token objects.
 *
 * On the token: the KBPK (it never leaves it), every CMAC (C_Sign CKM_AES_CMAC / CKM_DES3_CMAC),
 * every CBC (CKM_AES_CBC / CKM_DES3_CBC), the derived block keys (KBEK, KBAK) and the KC check
 * key, all as session objects (sensitive, never extractable, only the usage their role needs)
 * that `dispose` destroys.
 *
 * What the token cannot do, and so happens in this host process, in memory wiped at once:
 * - No CKM_SP800_108_COUNTER_KDF on SoftHSM2 2.6 or openCryptoki's swtok: the KDF's PRF runs on
 *   the token (C_Sign CMAC under the KBPK) but its outputs, the KBEK and KBAK bytes, pass through
 *   this process on their way into session objects (C_CreateObject), then are zero-filled. The
 *   KBPK therefore needs CKA_SIGN (as the ceremony's `kbpk` purpose gives it).
 * - The clear key data of a block (length | key | padding) is MAC'd in clear, so no PKCS#11 wrap
 *   mechanism makes or reads it: on export the key leaves the token once, wrapped (RFC 3394)
 *   under a session key made for that call, is unwrapped here, put in the block and wiped; on
 *   import the key read from the block enters the token by C_UnwrapKey under a session key
 *   (CeremonyOps.enterKey, as formKey does) and is wiped.
 * A token lacking CMAC or CBC for the KBPK's cipher is refused (TR31_TOKEN_LACKS_MECHANISM,
 * naming it): the KBPK is never used in software.
 *
 * KBPK directions: the token knows no "may make key blocks"; mkm marks a KBPK's directions with
 * CKA_WRAP (makes blocks: export) and CKA_UNWRAP (reads blocks: import), next to CKA_SIGN for the
 * PRF, as the ceremony's `kbpk` purpose does; a K1/K4 key imported from a block gets them from
 * its mode of use (`tokenUsages`), and no CKA_DERIVE (nothing derives on the token by it).
 */

const P = pkcs11js;

export interface Tr31OpsAccess extends CeremonyOpsAccess {
  /** The object with this CKA_ID and class (KEY_NOT_FOUND otherwise). */
  find(slotId: number, id: string): FoundObject;
  ceremony: CeremonyOps;
}

interface MechanismNames {
  cmac: [number, string];
  cbc: [number, string];
}
const MECHANISMS: Record<CipherFamily, MechanismNames> = {
  aes: { cmac: [P.CKM_AES_CMAC, 'CKM_AES_CMAC'], cbc: [P.CKM_AES_CBC, 'CKM_AES_CBC'] },
  tdes: { cmac: [P.CKM_DES3_CMAC, 'CKM_DES3_CMAC'], cbc: [P.CKM_DES3_CBC, 'CKM_DES3_CBC'] },
};

/** A token key as the codec holds it: its handle and cipher; `made` if the codec created it. */
export interface TokenKey {
  handle: Handle;
  family: CipherFamily;
  made: boolean;
}

/** The token usages a key read from a block gets: the policy's, with a KBPK's directions as wrap/unwrap. */
export function tokenUsages(granted: ImportAttributes): Omit<Tr31KeyAttributes, 'sensitive'> {
  const kbpk = granted.keyBlocks.create || granted.keyBlocks.read;
  return {
    extractable: granted.extractable,
    wrapWithTrusted: granted.wrapWithTrusted,
    encrypt: granted.encrypt,
    decrypt: granted.decrypt,
    wrap: kbpk ? granted.keyBlocks.create : granted.wrap,
    unwrap: kbpk ? granted.keyBlocks.read : granted.unwrap,
    sign: kbpk ? true : granted.sign,
    verify: granted.verify,
    derive: kbpk ? false : granted.derive,
  };
}

/** The usages a block decides, by their BOOL_ATTR names. */
const USAGES = [
  'encrypt',
  'decrypt',
  'wrap',
  'unwrap',
  'sign',
  'verify',
  'derive',
] as const satisfies readonly KeyUsage[];

function lacks(mechanism: string, purpose: string): MkmError {
  return new MkmError('TR31_TOKEN_LACKS_MECHANISM', undefined, { mechanism, purpose });
}

export class Tr31Ops {
  constructor(private readonly t: Tr31OpsAccess) {}

  async tr31Export(params: Tr31ExportParams): Promise<Tr31ExportResult> {
    const { slotId } = params;
    const target = this.t.find(slotId, params.keyId);
    if (target.info.extractable !== true) {
      // A key read from an `N` block entered with CKA_EXTRACTABLE false: this is that refusal too.
      throw new MkmError('TR31_NOT_EXPORTABLE', undefined, {
        keyId: params.keyId,
        reason: 'not_extractable',
      });
    }
    if (this.flag(slotId, target.handle, P.CKA_WRAP_WITH_TRUSTED) === true) {
      throw new MkmError('TR31_NOT_EXPORTABLE', undefined, {
        keyId: params.keyId,
        reason: 'wrap_with_trusted',
      });
    }
    // An AES key whose size the token does not report is sized by its bytes once extracted.
    const declaredType = target.info.keyType === 'aes' && target.info.bits === null ? 'aes-256' : null;
    const tdes = isTdes(this.keyTypeOf(target.info, declaredType));
    const kbpk = this.kbpkOf(slotId, params.kbpkId, 'create', params.kbpkType);
    const version = params.version ?? (kbpk.family === 'aes' ? 'D' : 'B');
    const header = {
      version,
      usage: params.usage,
      algorithm: tdes ? ('T' as const) : ('A' as const),
      modeOfUse: params.modeOfUse,
      keyVersion: params.keyVersion ?? '00',
      exportability: params.exportability,
    };
    // The block may grant no more than the key may already do on this token.
    const granted = tokenUsages(attributesForHeader({ ...header, length: 0, optionalBlocks: [], text: '' }));
    const wider = USAGES.filter((u) => granted[u] && !target.info.usages.includes(u));
    if (wider.length > 0) {
      throw new MkmError('TR31_EXPORT_USAGE_EXCEEDS', undefined, { keyId: params.keyId, usages: wider });
    }
    const crypto = this.crypto(slotId);
    const key = this.extract(slotId, target.handle, target.info);
    try {
      const targetType = clearKeyType(tdes ? 'T' : 'A', key.length);
      const block = await wrapKeyBlock(crypto, kbpk, {
        header,
        key,
        ...(params.kcv ? { kcv: params.kcv } : {}),
      });
      const keyKcvs = [kcv(targetType, key, 'legacy'), kcv(targetType, key, 'cmac')];
      const kbpkKcvs = await this.kbpkKcvs(slotId, kbpk);
      const parsed = parseHeader(block);
      this.t.logger.info('Key exported in a TR-31 key block', {
        slotId,
        keyId: params.keyId,
        kbpkId: params.kbpkId,
        version,
        usage: header.usage,
        modeOfUse: header.modeOfUse,
        exportability: header.exportability,
        kcv: keyKcvs.map((k) => `${k.method}:${k.kcv}`),
      });
      return { block, header: headerSummary(parsed), keyType: targetType, keyKcvs, kbpkKcvs };
    } finally {
      wipe(key);
    }
  }

  async tr31Import(params: Tr31ImportParams): Promise<Tr31ImportResult> {
    const { slotId, label } = params;
    const kbpk = this.kbpkOf(slotId, params.kbpkId, 'read', params.kbpkType);
    const id = params.id ?? this.random(slotId, 16).toString('hex');
    const taken = (() => {
      try {
        this.t.find(slotId, id);
        return true;
      } catch (error) {
        if (error instanceof MkmError && error.code === 'KEY_NOT_FOUND') return false;
        throw error;
      }
    })();
    if (taken) throw new MkmError('CONFLICT', 'A key with this ID is already on the token.', { id });
    const unwrapped = await unwrapKeyBlock(this.crypto(slotId), kbpk, params.block);
    try {
      const { header } = unwrapped;
      const granted = tokenUsages(attributesForHeader(header));
      const keyType = clearKeyType(header.algorithm, unwrapped.key.length);
      const entered = this.t.ceremony.enterKey(slotId, keyType, unwrapped.key, { label, id }, (ckk) =>
        importTemplate(ckk, granted),
      );
      const attributes = this.attributesOf(slotId, entered.handle);
      const kbpkKcvs = await this.kbpkKcvs(slotId, kbpk);
      this.t.logger.info('Key imported from a TR-31 key block', {
        slotId,
        keyId: id,
        kbpkId: params.kbpkId,
        version: header.version,
        usage: header.usage,
        modeOfUse: header.modeOfUse,
        exportability: header.exportability,
        checked: unwrapped.checkedKcvs,
        kcv: entered.kcvs.map((k) => `${k.method}:${k.kcv}`),
      });
      return {
        id,
        label,
        keyType,
        header: headerSummary(header),
        kcvs: entered.kcvs,
        tokenKcv: entered.tokenKcv,
        checkedKcvs: unwrapped.checkedKcvs,
        kbpkKcvs,
        attributes,
      };
    } finally {
      wipe(unwrapped.key);
    }
  }

  // ---------------------------------------------------------------- the token-backed crypto

  /** The codec's primitives on this slot's token; K is a token object handle. */
  crypto(slotId: number): KeyBlockCrypto<TokenKey> {
    return {
      cmac: async (key, data) => this.cmac(slotId, key, data),
      deriveKey: async (kbpk, derivation) => this.derive(slotId, kbpk, derivation),
      cbcEncrypt: async (key, iv, data) => this.cbc(slotId, 'encrypt', key, iv, data),
      cbcDecrypt: async (key, iv, data) => this.cbc(slotId, 'decrypt', key, iv, data),
      importKey: async (family, bytes) => ({
        handle: this.sessionKey(slotId, family, bytes, [P.CKA_ENCRYPT, P.CKA_SIGN]),
        family,
        made: true,
      }),
      dispose: async (key) => {
        // Only what the codec made: never the caller's KBPK.
        if (key.made) this.destroyQuietly(slotId, key.handle);
      },
      random: (length) => Uint8Array.from(this.random(slotId, length)),
    };
  }

  private cmac(slotId: number, key: TokenKey, data: Uint8Array): Uint8Array {
    const [mechanism, name] = MECHANISMS[key.family].cmac;
    this.require(slotId, mechanism, P.CKF_SIGN, name, 'cmac');
    const pkcs11 = this.t.pkcs11();
    // The PRF's outputs are block key bytes: the token's output buffer is wiped once copied.
    const out = Buffer.alloc(16);
    try {
      return Uint8Array.from(
        this.t.call(slotId, () => {
          pkcs11.C_SignInit(this.t.session(slotId), { mechanism }, key.handle);
          return pkcs11.C_Sign(this.t.session(slotId), view(data), out);
        }),
      );
    } finally {
      out.fill(0);
    }
  }

  private cbc(
    slotId: number,
    op: 'encrypt' | 'decrypt',
    key: TokenKey,
    iv: Uint8Array,
    data: Uint8Array,
  ): Uint8Array {
    const [code, name] = MECHANISMS[key.family].cbc;
    this.require(slotId, code, op === 'encrypt' ? P.CKF_ENCRYPT : P.CKF_DECRYPT, name, op);
    const pkcs11 = this.t.pkcs11();
    const mechanism: Mechanism = { mechanism: code, parameter: Buffer.from(iv) };
    const out = Buffer.alloc(data.length);
    try {
      const result = this.t.call(slotId, () => {
        const session = this.t.session(slotId);
        if (op === 'encrypt') {
          pkcs11.C_EncryptInit(session, mechanism, key.handle);
          return pkcs11.C_Encrypt(session, view(data), out);
        }
        pkcs11.C_DecryptInit(session, mechanism, key.handle);
        return pkcs11.C_Decrypt(session, view(data), out);
      });
      return Uint8Array.from(result);
    } finally {
      out.fill(0);
    }
  }

  /**
   * SP 800-108 counter mode with the token's CMAC as PRF under the KBPK (`deriveWithCmac`); the
   * outputs become a session key at once and are wiped (no KDF mechanism on these tokens).
   */
  private async derive(slotId: number, kbpk: TokenKey, derivation: Derivation): Promise<TokenKey> {
    const bytes = await deriveWithCmac(async (input) => this.cmac(slotId, kbpk, input), derivation);
    try {
      const usages = derivation.role === 'encryption' ? [P.CKA_ENCRYPT, P.CKA_DECRYPT] : [P.CKA_SIGN];
      return {
        handle: this.sessionKey(slotId, derivation.family, bytes, usages),
        family: derivation.family,
        made: true,
      };
    } finally {
      wipe(bytes);
    }
  }

  /** A session secret key from bytes: sensitive, not extractable, only `usages`. The caller wipes `bytes`. */
  private sessionKey(slotId: number, family: CipherFamily, bytes: Uint8Array, usages: number[]): Handle {
    const pkcs11 = this.t.pkcs11();
    const des2 =
      family === 'tdes' && bytes.length === 16 && this.t.ceremony.hasMechanism(slotId, P.CKM_DES2_KEY_GEN);
    const value =
      family === 'tdes' && bytes.length === 16 && !des2
        ? Buffer.concat([view(bytes), view(bytes.subarray(0, 8))])
        : Buffer.from(bytes);
    const keyType = family === 'aes' ? P.CKK_AES : des2 ? P.CKK_DES2 : P.CKK_DES3;
    try {
      return this.t.call(slotId, () =>
        pkcs11.C_CreateObject(this.t.session(slotId), [
          ...secretTemplate(keyType, false, usages),
          { type: P.CKA_LABEL, value: 'mkm-tr31-session' },
          { type: P.CKA_VALUE, value },
        ]),
      );
    } finally {
      value.fill(0);
    }
  }

  // ---------------------------------------------------------------- keys on the token

  /**
   * The KBPK as the codec needs it, refused unless it may do this direction: CKA_SIGN (the PRF)
   * and CKA_WRAP to make blocks, CKA_UNWRAP to read them.
   */
  private kbpkOf(
    slotId: number,
    kbpkId: string,
    direction: 'create' | 'read',
    declared: ComponentKeyType | undefined,
  ): Kbpk<TokenKey> {
    const found = this.t.find(slotId, kbpkId);
    const type = this.keyTypeOf(found.info, declared ?? null);
    const needs: ('sign' | 'wrap' | 'unwrap')[] = ['sign', direction === 'create' ? 'wrap' : 'unwrap'];
    const missing = needs.filter((u) => !found.info.usages.includes(u));
    if (missing.length > 0) {
      throw new MkmError('TR31_KBPK_NOT_PERMITTED', undefined, { kbpkId, direction, missing });
    }
    const family: CipherFamily = isTdes(type) ? 'tdes' : 'aes';
    return { key: { handle: found.handle, family, made: false }, family, length: COMPONENT_KEY_BYTES[type] };
  }

  /**
   * The key's type from what the token says of it, with `declared` where the token cannot tell
   * (an AES key without CKA_VALUE_LEN) or to read a DES3 key as the 2-key K1 K2 K1 it holds.
   */
  private keyTypeOf(info: ObjectInfo, declared: ComponentKeyType | null): ComponentKeyType {
    const refuse = (reason: string) =>
      new MkmError('TR31_KEY_TYPE_UNSUPPORTED', undefined, {
        keyId: info.id,
        keyType: info.keyType,
        bits: info.bits,
        declared,
        reason,
      });
    if (info.keyType === 'aes') {
      const fromToken =
        info.bits === 128 ? 'aes-128' : info.bits === 192 ? 'aes-192' : info.bits === 256 ? 'aes-256' : null;
      if (declared !== null && !declared.startsWith('aes')) throw refuse('declared_type_differs');
      if (fromToken !== null && declared !== null && fromToken !== declared)
        throw refuse('declared_type_differs');
      const type = fromToken ?? declared;
      if (type === null) throw new MkmError('TR31_KBPK_SIZE_UNKNOWN', undefined, { keyId: info.id });
      return type;
    }
    if (info.keyType === 'des2') {
      if (declared !== null && declared !== 'tdes-2key') throw refuse('declared_type_differs');
      return 'tdes-2key';
    }
    if (info.keyType === 'des3') {
      if (declared !== null && !declared.startsWith('tdes')) throw refuse('declared_type_differs');
      return declared ?? 'tdes-3key';
    }
    throw refuse('not_aes_or_tdes');
  }

  /**
   * The key's clear bytes, in an array the caller wipes: wrapped once (RFC 3394) under a session
   * AES-256 key made for this call from the token's RNG, unwrapped here, the session key's bytes
   * and object gone before returning.
   */
  private extract(slotId: number, handle: Handle, info: ObjectInfo): Uint8Array {
    this.require(slotId, P.CKM_AES_KEY_WRAP, P.CKF_WRAP, 'CKM_AES_KEY_WRAP', 'export');
    const pkcs11 = this.t.pkcs11();
    const secret = this.random(slotId, 32);
    let wrapping: Handle | null = null;
    let clear: Buffer | null = null;
    try {
      wrapping = this.t.call(slotId, () =>
        pkcs11.C_CreateObject(this.t.session(slotId), [
          ...secretTemplate(P.CKK_AES, false, [P.CKA_WRAP]),
          { type: P.CKA_LABEL, value: 'mkm-tr31-export' },
          { type: P.CKA_VALUE, value: secret },
        ]),
      );
      const w = wrapping;
      const wrapped = this.t.call(slotId, () =>
        pkcs11.C_WrapKey(
          this.t.session(slotId),
          { mechanism: P.CKM_AES_KEY_WRAP },
          w,
          handle,
          Buffer.alloc(128),
        ),
      );
      const d = createDecipheriv('id-aes256-wrap', secret, rfc3394Iv());
      const parts = [d.update(wrapped), d.final()];
      clear = Buffer.concat(parts);
      for (const part of parts) part.fill(0);
      // A 2-key TDES key held as DES3 K1 K2 K1 (tokens without DES2) leaves as K1 K2.
      const k1k2k1 =
        info.keyType === 'des3' && clear.length === 24 && clear.subarray(0, 8).equals(clear.subarray(16, 24));
      const length = k1k2k1 ? 16 : clear.length;
      return Uint8Array.from(clear.subarray(0, length));
    } finally {
      secret.fill(0);
      if (clear) clear.fill(0);
      if (wrapping) this.destroyQuietly(slotId, wrapping);
    }
  }

  /** The KBPK's check values as the token computes them: cmac always, legacy where it may encrypt. */
  private async kbpkKcvs(slotId: number, kbpk: Kbpk<TokenKey>): Promise<LabelledKcv[]> {
    const block = new Uint8Array(kbpk.family === 'aes' ? 16 : 8);
    const cmac = this.cmac(slotId, kbpk.key, block);
    return [{ kcv: Buffer.from(cmac.subarray(0, 3)).toString('hex'), method: 'cmac' }];
  }

  private attributesOf(slotId: number, handle: Handle): Tr31KeyAttributes {
    const read = (type: number) => this.flag(slotId, handle, type) === true;
    return {
      sensitive: read(P.CKA_SENSITIVE),
      extractable: read(P.CKA_EXTRACTABLE),
      wrapWithTrusted: read(P.CKA_WRAP_WITH_TRUSTED),
      encrypt: read(P.CKA_ENCRYPT),
      decrypt: read(P.CKA_DECRYPT),
      wrap: read(P.CKA_WRAP),
      unwrap: read(P.CKA_UNWRAP),
      sign: read(P.CKA_SIGN),
      verify: read(P.CKA_VERIFY),
      derive: read(P.CKA_DERIVE),
    };
  }

  private flag(slotId: number, handle: Handle, type: number): boolean | null {
    try {
      return readBool(
        this.t.call(slotId, () => readAttribute(this.t.pkcs11(), this.t.session(slotId), handle, type)),
      );
    } catch {
      return null; // a token that does not know the attribute
    }
  }

  private require(slotId: number, mechanism: number, flags: number, name: string, purpose: string): void {
    if (!this.t.ceremony.hasMechanism(slotId, mechanism, flags)) throw lacks(name, purpose);
  }

  private random(slotId: number, length: number): Buffer {
    return this.t.ceremony.random(slotId, length);
  }

  private destroyQuietly(slotId: number, handle: Handle): void {
    this.t.ceremony.destroyQuietly(slotId, handle);
  }
}

/** The token key type of the key a block carries: AES or TDES of a size the token holds. */
function clearKeyType(algorithm: KeyBlockHeader['algorithm'], length: number): ComponentKeyType {
  const refuse = () => new MkmError('TR31_KEY_TYPE_UNSUPPORTED', undefined, { algorithm, length });
  if (algorithm === 'A') {
    if (length === 16) return 'aes-128';
    if (length === 24) return 'aes-192';
    if (length === 32) return 'aes-256';
  }
  if (algorithm === 'T') {
    if (length === 16) return 'tdes-2key';
    if (length === 24) return 'tdes-3key';
  }
  throw refuse();
}

/** A token secret key with exactly what the block grants: sensitive always, extractable only if not `N`. */
function importTemplate(keyType: number, granted: Omit<Tr31KeyAttributes, 'sensitive'>): Template {
  const usages = USAGES.filter((u) => granted[u]).map((u) => BOOL_ATTR[u]);
  return [
    ...secretTemplate(keyType, true, usages).map((a) =>
      a.type === P.CKA_EXTRACTABLE ? { ...a, value: granted.extractable } : a,
    ),
    { type: P.CKA_WRAP_WITH_TRUSTED, value: granted.wrapWithTrusted },
  ];
}

/** A Buffer over the same bytes (no copy left to wipe). */
const view = (a: Uint8Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
