import {
  constants,
  createCipheriv,
  createHash,
  createPublicKey,
  publicEncrypt,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { MkmError } from '../../../shared/errors.std';
import {
  checkComponent,
  checkComponents,
  checkFormedKey,
  COMPONENT_KEY_BYTES,
  formKey,
  isTdes,
  wipe,
  type ComponentKeyType,
} from '../../../shared/formats/components.std';
import { setOddParity } from '../../../shared/formats/des-keys.std';
import type { LabelledKcv } from '../../../shared/formats/kcv-methods.std';
import type { CeremonyKeyPurpose } from '../../../shared/ceremony/script.std';
import type {
  CeremonyKeyResult,
  CeremonyTransportKeyParams,
  CeremonyTransportKeyResult,
  ComponentCheckParams,
  ComponentCheckResult,
  DropTransportKeyParams,
  FormKeyFromComponentsParams,
  FormKeyResult,
  RevealComponentParams,
  RevealComponentResult,
  SplitKeyParams,
  SplitKeyResult,
} from '../../../shared/ceremony/token-ops.std';
import type { ObjectClass, OkResult } from '../../../shared/tokens.std';
import type { Logger } from '../../core/logger.nodejs';
import { kcv } from '../../crypto/kcv.nodejs';
import { CKR_MEANS, toMkmError } from './ckr.std';
import { CMAC, oaep, rfc3394Iv, xorBaseAndData } from './mechanisms.host';
import { findById, readAttribute } from './objects.host';
import { BOOL_ATTR, pkcs11js, type Handle, type Mechanism, type PKCS11, type Template } from './pkcs11.host';
import { rsaPublicFromComponents, type RsaPublic } from './spki.nodejs';

/**
 * Key components on the token (issue 11 point 3; CEREMONY.md "Secrets travel end to end").
 *
 * A component reaches the host only as an RSA-OAEP (SHA-256) ciphertext to the ceremony's
 * session transport key, whose private half is on the token (sensitive, never extractable,
 * decrypt only) and dies with the session. The host decrypts it on the token, checks and uses the
 * clear bytes and zero-fills them in the same call: no clear component or key outlives a call,
 * and none leaves the host but one component revealed to one custodian's own public key.
 *
 * A key enters the token by C_UnwrapKey: neither SoftHSM2 nor openCryptoki's swtok offers
 * CKM_XOR_BASE_AND_DATA (the tests read their mechanism lists), so components are XORed here.
 * Where the token XORs them itself (NSS softokn; found by a trial on known values, see
 * `xorsOnToken`), an AES key is formed on the token instead and never exists in host memory:
 * see `combineOnToken`. A TDES key is still formed here, see there why.
 * The wrapping key is a session AES-256 key the token generates (sensitive, not extractable,
 * encrypt and unwrap only); tokens encrypt with CKM_AES_KEY_WRAP only for C_WrapKey (SoftHSM2:
 * CKR_MECHANISM_INVALID in C_EncryptInit), so RFC 3394 is run here over that key's AES-ECB on the
 * token, and the token undoes it in C_UnwrapKey(CKM_AES_KEY_WRAP) into the final key template;
 * a token without AES key wrap (openCryptoki's swtok) encrypts and unwraps with AES-CBC-PAD.
 */

const P = pkcs11js;
const OAEP_HASH = 'sha256';
const H_LEN = 32;
const TRANSPORT_BITS = 3072;
const RSA_F4 = Buffer.from([0x01, 0x00, 0x01]);
/** Room for any RSA block up to 8192 bits. */
const RSA_OUT = 1024;
const MIN_REVEAL_BITS = 2048;
/** Drawing a degenerate TDES key or a zero component from a good RNG is ~2^-50 rare; never loop forever. */
const DRAWS = 4;

/** What the ops need of the engine: its module, its session per slot, its error conversion. */
export interface CeremonyOpsAccess {
  logger: Logger;
  pkcs11(): PKCS11;
  session(slotId: number): Handle;
  /** Runs PKCS#11 calls with the engine's error conversion (and stuck-session recovery). */
  call<T>(slotId: number, body: () => T): T;
  callAsync<T>(slotId: number, body: () => Promise<T>): Promise<T>;
}

/** What share-ops.host.ts uses of these ops (M-of-N shares, issue 11 point 5). */
export interface CeremonyShareAccess {
  access: CeremonyOpsAccess;
  transportPublicKey(slotId: number, transportKeyId: string): KeyObject;
  /** One ciphertext to the transport key opened on the token: the caller wipes the bytes. */
  open(slotId: number, transportKeyId: string, ciphertext: string): Uint8Array;
  enter(
    slotId: number,
    type: ComponentKeyType,
    key: Uint8Array,
    naming: { label: string; id: string; purpose: CeremonyKeyPurpose },
  ): CeremonyKeyResult;
  refuseTaken(slotId: number, id: string): void;
  randomSecret(slotId: number, length: number): Uint8Array;
  destroyQuietly(slotId: number, handle: Handle): void;
  hasMechanism(slotId: number, mechanism: number, flags?: number): boolean;
}

interface TransportKey {
  privateKey: Handle;
  publicKey: RsaPublic;
  oaep: 'token' | 'host';
}

/** Usages of a formed or split key by purpose; all other usages false, never extractable. */
const PURPOSE_USAGES: Readonly<Record<CeremonyKeyPurpose, readonly number[]>> = {
  data: [P.CKA_ENCRYPT, P.CKA_DECRYPT],
  mac: [P.CKA_SIGN, P.CKA_VERIFY],
  kek: [P.CKA_WRAP, P.CKA_UNWRAP],
  // TR-31: the KBPK derives its encryption and MAC keys with CMAC on the token (C_Sign).
  kbpk: [P.CKA_WRAP, P.CKA_UNWRAP, P.CKA_SIGN],
};
/** Attribute names as templates.std.ts words them (sensitive, extractable, wrap, ...). */
const ATTRIBUTE_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(BOOL_ATTR).map(([name, type]) => [type, name]),
);
const USAGES = [
  P.CKA_ENCRYPT,
  P.CKA_DECRYPT,
  P.CKA_WRAP,
  P.CKA_UNWRAP,
  P.CKA_SIGN,
  P.CKA_VERIFY,
  P.CKA_DERIVE,
];

export class CeremonyOps {
  /** Which transport keys this host made, and where their OAEP is undone (slot:id). */
  private readonly transport = new Map<string, 'token' | 'host'>();
  /**
   * Per loaded module and slot: whether the token XORs a component into a key exactly (tried
   * once, `xorsOnToken`). Keyed by the module object, so another library loaded later is tried anew.
   */
  private readonly xorOnToken = new WeakMap<PKCS11, Map<number, boolean>>();

  constructor(private readonly t: CeremonyOpsAccess) {}

  async ceremonyTransportKey(params: CeremonyTransportKeyParams): Promise<CeremonyTransportKeyResult> {
    const { slotId } = params;
    const pkcs11 = this.t.pkcs11();
    const id = this.random(slotId, 16);
    const naming: Template = [
      { type: P.CKA_LABEL, value: 'mkm-ceremony-transport' },
      { type: P.CKA_ID, value: id },
      { type: P.CKA_TOKEN, value: false },
    ];
    const privateTemplate: Template = [
      ...naming,
      { type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY },
      { type: P.CKA_KEY_TYPE, value: P.CKK_RSA },
      { type: P.CKA_PRIVATE, value: true },
      { type: P.CKA_SENSITIVE, value: true },
      { type: P.CKA_EXTRACTABLE, value: false },
      { type: P.CKA_DECRYPT, value: true },
      { type: P.CKA_UNWRAP, value: false },
      { type: P.CKA_SIGN, value: false },
      { type: P.CKA_DERIVE, value: false },
    ];
    // ---- NSS softokn (token XOR work): its RSA public key refuses CKA_ENCRYPT/CKA_VERIFY false
    // (CKR_KEY_TYPE_INCONSISTENT); the public half may then keep them, the private half is unchanged.
    const generate = (publicUsages: Template) =>
      // Async: an RSA-3072 generation takes a while, and the host's heartbeat keeps running meanwhile.
      this.t.callAsync(slotId, () =>
        pkcs11.C_GenerateKeyPairAsync(
          this.t.session(slotId),
          { mechanism: P.CKM_RSA_PKCS_KEY_PAIR_GEN },
          [
            ...naming,
            { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY },
            { type: P.CKA_KEY_TYPE, value: P.CKK_RSA },
            { type: P.CKA_MODULUS_BITS, value: TRANSPORT_BITS },
            { type: P.CKA_PUBLIC_EXPONENT, value: RSA_F4 },
            { type: P.CKA_PRIVATE, value: false },
            ...publicUsages,
          ],
          privateTemplate,
        ),
      );
    // Encryption to it happens off the token (renderer, CLI, this host's node:crypto).
    const noPublicUse: Template = [
      { type: P.CKA_ENCRYPT, value: false },
      { type: P.CKA_WRAP, value: false },
      { type: P.CKA_VERIFY, value: false },
    ];
    const pair = await generate(noPublicUse).catch((error: unknown) => {
      if (toMkmError(error).details?.ckr !== 'CKR_KEY_TYPE_INCONSISTENT') throw error;
      return generate([{ type: P.CKA_WRAP, value: false }]);
    });
    // ---- end: NSS softokn ----
    const transportKeyId = id.toString('hex');
    try {
      const publicKey = this.publicOf(slotId, pair.publicKey);
      const mode = this.oaepMode(slotId, { privateKey: pair.privateKey, publicKey, oaep: 'token' });
      this.transport.set(`${slotId}:${transportKeyId}`, mode);
      this.t.logger.info('Ceremony transport key made', {
        slotId,
        keyId: transportKeyId,
        spkiSha256: publicKey.spkiSha256,
        oaep: mode,
      });
      return {
        transportKeyId,
        spkiPem: publicKey.pem,
        spkiSha256: publicKey.spkiSha256,
        bits: publicKey.bits,
        oaep: mode,
      };
    } catch (error) {
      this.destroyQuietly(slotId, pair.privateKey);
      this.destroyQuietly(slotId, pair.publicKey);
      throw error;
    }
  }

  async ceremonyDropTransportKey(params: DropTransportKeyParams): Promise<OkResult> {
    const { slotId, transportKeyId } = params;
    this.transport.delete(`${slotId}:${transportKeyId}`);
    for (const cls of ['private', 'public'] as const) {
      for (const o of this.find(slotId, transportKeyId, cls)) this.destroyQuietly(slotId, o);
    }
    return { ok: true };
  }

  async componentCheck(params: ComponentCheckParams): Promise<ComponentCheckResult> {
    const { slotId, keyType, componentIndex } = params;
    const key = this.transportKey(slotId, params.transportKeyId);
    const component = this.decrypt(slotId, key, params.ciphertext, componentIndex);
    try {
      checkComponent(keyType, component, componentIndex);
      const methods = params.kcvMethods ?? ['legacy', 'cmac'];
      return { kcvs: methods.map((m) => kcv(keyType, component, m)) };
    } finally {
      wipe(component);
    }
  }

  async formKeyFromComponents(params: FormKeyFromComponentsParams): Promise<FormKeyResult> {
    const { slotId, keyType, label, id, purpose } = params;
    const transport = this.transportKey(slotId, params.transportKeyId);
    this.refuseTaken(slotId, id);
    const components: Uint8Array[] = [];
    let key: Uint8Array | null = null;
    try {
      params.ciphertexts.forEach((c, i) => components.push(this.decrypt(slotId, transport, c, i + 1)));
      // ---- combine on the token where it can (issue 11 point 3) ----
      const combinedOn = !isTdes(keyType) && this.xorsOnToken(slotId) ? 'token' : 'host';
      let result: CeremonyKeyResult;
      if (combinedOn === 'token') {
        checkComponents(keyType, components);
        result = this.combineOnToken(slotId, keyType, components, { label, id, purpose });
      } else {
        key = formKey(keyType, components);
        wipe(...components);
        result = this.enter(slotId, keyType, key, { label, id, purpose });
      }
      // ---- end: combine on the token ----
      this.t.logger.info('Key formed from components', {
        slotId,
        keyId: id,
        keyType,
        purpose,
        components: components.length,
        combinedOn,
        kcv: result.kcvs.map((k) => `${k.method}:${k.kcv}`),
      });
      return { ...result, combinedOn };
    } finally {
      wipe(...components);
      if (key) wipe(key);
    }
  }

  async splitKey(params: SplitKeyParams): Promise<SplitKeyResult> {
    const { slotId, keyType, label, id, purpose } = params;
    const transport = this.transportKey(slotId, params.transportKeyId);
    this.refuseTaken(slotId, id);
    const key = this.drawKey(slotId, keyType);
    let components: Uint8Array[] = [];
    try {
      components = this.drawComponents(slotId, keyType, key, params.components);
      const result = this.enter(slotId, keyType, key, { label, id, purpose });
      const out = components.map((c) => ({
        ciphertext: publicEncrypt(
          {
            key: transport.publicKey.keyObject,
            padding: constants.RSA_PKCS1_OAEP_PADDING,
            oaepHash: OAEP_HASH,
          },
          c,
        ).toString('base64'),
        kcvs: kcvsOf(keyType, c),
      }));
      this.t.logger.info('Key generated and split into components', {
        slotId,
        keyId: id,
        keyType,
        purpose,
        components: components.length,
        kcv: result.kcvs.map((k) => `${k.method}:${k.kcv}`),
      });
      return { ...result, components: out };
    } finally {
      wipe(key, ...components);
    }
  }

  async revealComponent(params: RevealComponentParams): Promise<RevealComponentResult> {
    const { slotId, keyType, componentIndex } = params;
    const reveal = revealKeyOf(params.revealKey);
    const transport = this.transportKey(slotId, params.transportKeyId);
    const component = this.decrypt(slotId, transport, params.ciphertext, componentIndex);
    try {
      checkComponent(keyType, component, componentIndex);
      const ciphertext = publicEncrypt(
        { key: reveal.key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: OAEP_HASH },
        component,
      ).toString('base64');
      this.t.logger.info('Component revealed to a custodian key', {
        slotId,
        componentIndex: componentIndex ?? null,
        revealKeySha256: reveal.sha256,
      });
      return { ciphertext, revealKeySha256: reveal.sha256, kcvs: kcvsOf(keyType, component) };
    } finally {
      wipe(component);
    }
  }

  // ---------------------------------------------------------------- internals

  /** Bytes from the token's RNG (ids, probes; also TR-31's padding and session keys: tr31-ops.host.ts). */
  random(slotId: number, length: number): Buffer {
    const pkcs11 = this.t.pkcs11();
    return Buffer.from(
      this.t.call(slotId, () => pkcs11.C_GenerateRandom(this.t.session(slotId), Buffer.alloc(length))),
    );
  }

  /** Key material from the token's RNG, in one array the caller wipes (the buffers on the way are wiped). */
  private randomSecret(slotId: number, length: number): Uint8Array {
    const pkcs11 = this.t.pkcs11();
    const out = Buffer.alloc(length);
    const got = this.t.call(slotId, () => pkcs11.C_GenerateRandom(this.t.session(slotId), out));
    const secret = Uint8Array.from(got);
    got.fill(0);
    out.fill(0);
    return secret;
  }

  private find(slotId: number, id: string, cls: ObjectClass): Handle[] {
    const pkcs11 = this.t.pkcs11();
    return this.t.call(slotId, () => findById(pkcs11, this.t.session(slotId), id, cls).map((o) => o.handle));
  }

  destroyQuietly(slotId: number, handle: Handle): void {
    try {
      this.t.pkcs11().C_DestroyObject(this.t.session(slotId), handle);
    } catch {
      // Session objects go with their session anyway.
    }
  }

  private publicOf(slotId: number, handle: Handle): RsaPublic {
    const pkcs11 = this.t.pkcs11();
    const [modulus, exponent] = this.t.call(slotId, () => [
      readAttribute(pkcs11, this.t.session(slotId), handle, P.CKA_MODULUS),
      readAttribute(pkcs11, this.t.session(slotId), handle, P.CKA_PUBLIC_EXPONENT),
    ]);
    if (!modulus?.length || !exponent?.length) {
      throw new MkmError('KEY_TYPE_INCONSISTENT', 'The transport key has no readable public part.');
    }
    return rsaPublicFromComponents(modulus, exponent);
  }

  /** The transport key this host made, still on the token; else the components must come again. */
  private transportKey(slotId: number, transportKeyId: string): TransportKey {
    const mode = this.transport.get(`${slotId}:${transportKeyId}`);
    const gone = () => new MkmError('CEREMONY_TRANSPORT_KEY_GONE', undefined, { slotId, transportKeyId });
    if (mode === undefined) throw gone();
    let privateKeys: Handle[];
    let publicKeys: Handle[];
    try {
      privateKeys = this.find(slotId, transportKeyId, 'private');
      publicKeys = this.find(slotId, transportKeyId, 'public');
    } catch (error) {
      const e = toMkmError(error);
      if (e.code === 'SESSION_CLOSED' || e.code === 'NOT_LOGGED_IN') throw gone();
      throw e;
    }
    if (privateKeys.length !== 1 || publicKeys.length !== 1) {
      this.transport.delete(`${slotId}:${transportKeyId}`);
      throw gone();
    }
    return { privateKey: privateKeys[0]!, publicKey: this.publicOf(slotId, publicKeys[0]!), oaep: mode };
  }

  /**
   * Whether this token undoes OAEP-SHA-256 itself: a random probe encrypted to the new key is
   * decrypted both ways. SoftHSM2 2.6 answers OAEP with SHA-256 by CKR_ARGUMENTS_BAD; it then
   * decrypts with raw RSA (CKM_RSA_X_509) on the token and the OAEP decoding happens here.
   */
  private oaepMode(slotId: number, key: TransportKey): 'token' | 'host' {
    const probe = this.random(slotId, 32);
    const ciphertext = publicEncrypt(
      { key: key.publicKey.keyObject, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: OAEP_HASH },
      probe,
    ).toString('base64');
    try {
      const onToken = this.decrypt(slotId, key, ciphertext);
      if (timingSafeEqual(onToken, probe)) return 'token';
      throw new MkmError('MECHANISM_UNSUPPORTED', 'The token decrypts RSA-OAEP (SHA-256) wrongly.');
    } catch (error) {
      const e = toMkmError(error);
      const ckr = e.details?.ckr;
      const refused =
        e.code === 'MECHANISM_UNSUPPORTED' ||
        CKR_MEANS.mechanismUnsupported(ckr) ||
        CKR_MEANS.argumentsBad(ckr) ||
        e.code === 'COMPONENT_CIPHERTEXT_INVALID';
      if (!refused) throw e;
    }
    const host = { ...key, oaep: 'host' as const };
    let opened: Uint8Array;
    try {
      opened = this.decrypt(slotId, host, ciphertext);
    } catch (error) {
      throw new MkmError(
        'MECHANISM_UNSUPPORTED',
        'This token decrypts neither RSA-OAEP (SHA-256) nor raw RSA with a session key: it cannot receive key components.',
        toMkmError(error).details,
      );
    }
    if (!timingSafeEqual(opened, probe)) {
      throw new MkmError('MECHANISM_UNSUPPORTED', 'The token decrypts raw RSA wrongly.');
    }
    return 'host';
  }

  /** The clear bytes of one ciphertext to the transport key: the caller wipes them. */
  private decrypt(
    slotId: number,
    key: TransportKey,
    ciphertextB64: string,
    componentIndex?: number,
  ): Uint8Array {
    const pkcs11 = this.t.pkcs11();
    const k = Math.ceil(key.publicKey.bits / 8);
    const ciphertext = Buffer.from(ciphertextB64, 'base64');
    const invalid = (details: Record<string, string | number> = {}) =>
      new MkmError('COMPONENT_CIPHERTEXT_INVALID', undefined, {
        ...(componentIndex === undefined ? {} : { componentIndex }),
        ...details,
      });
    if (ciphertext.length !== k) throw invalid({ expectedBytes: k, actualBytes: ciphertext.length });
    const out = Buffer.alloc(RSA_OUT);
    try {
      let plain: Buffer;
      try {
        plain = this.t.call(slotId, () => {
          pkcs11.C_DecryptInit(
            this.t.session(slotId),
            key.oaep === 'token' ? oaep('sha256') : { mechanism: P.CKM_RSA_X_509 },
            key.privateKey,
          );
          return pkcs11.C_Decrypt(this.t.session(slotId), ciphertext, out);
        });
      } catch (error) {
        const e = toMkmError(error);
        if (
          ['ENCRYPTED_DATA_INVALID', 'DATA_LEN_RANGE', 'DATA_INVALID', 'FUNCTION_FAILED'].includes(e.code)
        ) {
          throw invalid({ cause: String(e.details?.ckr ?? e.code) });
        }
        throw e;
      }
      if (key.oaep === 'token') return Uint8Array.from(plain);
      const message = oaepDecode(plain, k);
      if (!message) throw invalid();
      return message;
    } finally {
      out.fill(0);
    }
  }

  private refuseTaken(slotId: number, id: string): void {
    if (this.find(slotId, id, 'secret').length > 0) {
      throw new MkmError('CONFLICT', 'A key with this ID is already on the token.', { id });
    }
  }

  /** A new key from the token's RNG: odd parity for TDES, never degenerate. */
  private drawKey(slotId: number, type: ComponentKeyType): Uint8Array {
    for (let draw = 1; ; draw++) {
      const key = this.randomSecret(slotId, COMPONENT_KEY_BYTES[type]);
      if (isTdes(type)) setOddParity(key);
      try {
        checkFormedKey(type, key);
        return key;
      } catch (error) {
        wipe(key);
        if (draw >= DRAWS) throw error;
      }
    }
  }

  /**
   * N components that form `key`: N-1 from the token's RNG (odd parity for TDES), the last the
   * XOR of the key and the others (its parity set too: parity bits are no part of a DES key, and
   * forming sets them again). Checked by forming the key back from them, as a custodian will.
   */
  private drawComponents(slotId: number, type: ComponentKeyType, key: Uint8Array, n: number): Uint8Array[] {
    for (let draw = 1; ; draw++) {
      const parts: Uint8Array[] = [];
      const last = Uint8Array.from(key);
      for (let i = 0; i < n - 1; i++) {
        const c = this.randomSecret(slotId, key.length);
        if (isTdes(type)) setOddParity(c);
        for (let j = 0; j < last.length; j++) last[j] = last[j]! ^ c[j]!;
        parts.push(c);
      }
      if (isTdes(type)) setOddParity(last);
      parts.push(last);
      let formed: Uint8Array | null = null;
      try {
        formed = formKey(type, parts);
        if (!timingSafeEqual(formed, key)) throw new Error('components do not form the key');
        return parts;
      } catch (error) {
        wipe(...parts);
        if (draw >= DRAWS) throw error;
      } finally {
        if (formed) wipe(formed);
      }
    }
  }

  /**
   * Enters a clear key into the token as a token object: RFC 3394 under a session AES key the
   * token generates (its AES-ECB on the token), then C_UnwrapKey into the final template. Returns
   * the key's KCVs; a token check value that disagrees removes the key again.
   */
  private enter(
    slotId: number,
    type: ComponentKeyType,
    key: Uint8Array,
    naming: { label: string; id: string; purpose: CeremonyKeyPurpose },
  ): CeremonyKeyResult {
    const usages = PURPOSE_USAGES[naming.purpose];
    const entered = this.enterKey(slotId, type, key, naming, (keyType) =>
      secretTemplate(keyType, true, usages),
    );
    return {
      id: naming.id,
      keyType: type,
      purpose: naming.purpose,
      label: naming.label,
      kcvs: entered.kcvs,
      tokenKcv: entered.tokenKcv,
      tokenCheckValue: entered.tokenCheckValue,
    };
  }

  /**
   * `enter` with the attributes the caller decides (`attributes(CKK_...)`: class, type, token,
   * sensitivity, usages; label and id are added): TR-31 import (tr31-ops.host.ts) gives a key
   * exactly what its block's header grants. The same entry, twin check and read-back.
   */
  enterKey(
    slotId: number,
    type: ComponentKeyType,
    key: Uint8Array,
    naming: { label: string; id: string },
    attributes: (keyType: number) => Template,
  ): { handle: Handle; kcvs: LabelledKcv[]; tokenKcv: string; tokenCheckValue: string | null } {
    const pkcs11 = this.t.pkcs11();
    const kcvs = kcvsOf(type, key);
    // A 2-key TDES key goes in as DES2 where the token knows it, else as DES3 K1 K2 K1 (the same key).
    const des2 = type === 'tdes-2key' && this.hasMechanism(slotId, P.CKM_DES2_KEY_GEN);
    const value = type === 'tdes-2key' && !des2 ? tdes3(key) : Uint8Array.from(key);
    const keyType =
      type === 'tdes-2key' ? (des2 ? P.CKK_DES2 : P.CKK_DES3) : type === 'tdes-3key' ? P.CKK_DES3 : P.CKK_AES;
    const template: Template = [
      { type: P.CKA_LABEL, value: naming.label },
      { type: P.CKA_ID, value: Buffer.from(naming.id, 'hex') },
      ...attributes(keyType),
    ];
    const wrappingKey = this.entryKey(slotId);
    const legacy = kcvs.find((k) => k.method === 'legacy')!;
    let handle: Handle;
    let tokenKcv: string;
    try {
      const entry = this.wrapForEntry(slotId, wrappingKey, value);
      wipe(value);
      tokenKcv = this.tokenLegacyKcv(slotId, type, wrappingKey, entry, keyType);
      if (tokenKcv !== legacy.kcv) {
        throw new MkmError('CEREMONY_KEY_CHECK_MISMATCH', undefined, {
          id: naming.id,
          expected: legacy.kcv,
          token: tokenKcv,
        });
      }
      handle = this.t.call(slotId, () =>
        pkcs11.C_UnwrapKey(this.t.session(slotId), entry.mechanism, wrappingKey, entry.wrapped, template),
      );
    } finally {
      wipe(value);
      this.destroyQuietly(slotId, wrappingKey);
    }
    this.keepOrRefuse(slotId, handle, template, naming.id);
    const tokenCheckValue = this.checkValueOrRefuse(slotId, handle, legacy.kcv, naming.id);
    return { handle, kcvs, tokenKcv, tokenCheckValue };
  }

  // ---- combine on the token (issue 11 point 3): CKM_XOR_BASE_AND_DATA ----

  /**
   * Forms an AES key on the token from its clear components, the key itself never in host
   * memory: component 1 enters as a session base key (the C_UnwrapKey path of `enter`, sensitive,
   * not extractable, derive only), each next one is XORed in by C_DeriveKey(CKM_XOR_BASE_AND_DATA)
   * into a new session base (the previous destroyed), and the last one makes a session twin that
   * can only encrypt and sign (the KCVs and the all-zeros check, computed by the token), then the
   * final token key with the purpose's template. Each component is wiped as soon as it is in.
   *
   * Only AES: a TDES key's odd parity could be set on the token (the parity of a XOR is the XOR of
   * the components' parities, so the host knows the mask without the key: all 01 for an even
   * count of odd-parity components), but its degenerate-key checks (K1 = K2, K2 = K3, a DES weak
   * or semi-weak key) need the clear key, so TDES keys are formed in the host (`combinedOn: 'host'`).
   */
  private combineOnToken(
    slotId: number,
    type: ComponentKeyType,
    components: Uint8Array[],
    naming: { label: string; id: string; purpose: CeremonyKeyPurpose },
  ): CeremonyKeyResult {
    const bytes = COMPONENT_KEY_BYTES[type];
    const derived = (token: boolean, usages: readonly number[]): Template => [
      ...secretTemplate(P.CKK_AES, token, usages),
      { type: P.CKA_VALUE_LEN, value: bytes },
    ];
    const template: Template = [
      { type: P.CKA_LABEL, value: naming.label },
      { type: P.CKA_ID, value: Buffer.from(naming.id, 'hex') },
      ...derived(true, PURPOSE_USAGES[naming.purpose]),
    ];
    let base = this.enterSession(slotId, components[0]!, [P.CKA_DERIVE]);
    wipe(components[0]!);
    let twin: Handle | null = null;
    let handle: Handle;
    let check: { kcvs: LabelledKcv[]; zeroKey: boolean };
    try {
      for (let i = 1; i < components.length - 1; i++) {
        const next = this.deriveXor(slotId, base, components[i]!, derived(false, [P.CKA_DERIVE]));
        wipe(components[i]!);
        this.destroyQuietly(slotId, base);
        base = next;
      }
      const last = components[components.length - 1]!;
      twin = this.deriveXor(slotId, base, last, derived(false, [P.CKA_ENCRYPT, P.CKA_SIGN]));
      check = this.tokenKcvs(slotId, type, twin);
      // The components cancel out: refused as formKey refuses it, before any token object exists.
      if (check.zeroKey) checkFormedKey(type, new Uint8Array(bytes));
      handle = this.deriveXor(slotId, base, last, template);
      wipe(last);
    } finally {
      wipe(...components);
      if (twin) this.destroyQuietly(slotId, twin);
      this.destroyQuietly(slotId, base);
    }
    this.keepOrRefuse(slotId, handle, template, naming.id);
    const legacy = check.kcvs.find((k) => k.method === 'legacy')!.kcv;
    const tokenCheckValue = this.checkValueOrRefuse(slotId, handle, legacy, naming.id);
    return {
      id: naming.id,
      keyType: type,
      purpose: naming.purpose,
      label: naming.label,
      kcvs: check.kcvs,
      tokenKcv: legacy,
      tokenCheckValue,
    };
  }

  /**
   * Whether this token XORs a component into a key, exactly: tried once per slot on throwaway
   * values (no secret): a random base entered as `combineOnToken` enters component 1, XORed with
   * random data by C_DeriveKey, must give the legacy and cmac KCVs of the XOR computed here. The
   * mechanism list is not asked: NSS softokn lists CKM_XOR_BASE_AND_DATA only on its crypto
   * services slot, yet derives with it on its key store slot. Any refusal means the host combines.
   */
  private xorsOnToken(slotId: number): boolean {
    const pkcs11 = this.t.pkcs11();
    const tried = this.xorOnToken.get(pkcs11) ?? new Map<number, boolean>();
    this.xorOnToken.set(pkcs11, tried);
    const known = tried.get(slotId);
    if (known !== undefined) return known;
    const base = this.random(slotId, 16);
    const data = this.random(slotId, 16);
    const xored = Uint8Array.from(base, (b, i) => b ^ data[i]!);
    const made: Handle[] = [];
    let works: boolean;
    try {
      made.push(this.enterSession(slotId, base, [P.CKA_DERIVE]));
      made.push(
        this.deriveXor(slotId, made[0]!, data, [
          ...secretTemplate(P.CKK_AES, false, [P.CKA_ENCRYPT, P.CKA_SIGN]),
          { type: P.CKA_VALUE_LEN, value: 16 },
        ]),
      );
      const got = this.tokenKcvs(slotId, 'aes-128', made[1]!).kcvs;
      works = JSON.stringify(got) === JSON.stringify(kcvsOf('aes-128', xored));
      if (!works)
        this.t.logger.warn('The token XORs key components wrongly: they are combined in the host', {
          slotId,
        });
    } catch (error) {
      works = false;
      this.t.logger.info('The token does not XOR key components: they are combined in the host', {
        slotId,
        reason: String(toMkmError(error).details?.ckr ?? toMkmError(error).code),
      });
    } finally {
      made.forEach((h) => this.destroyQuietly(slotId, h));
    }
    tried.set(slotId, works);
    return works;
  }

  /** A session AES-256 key the token generates, that encrypts and unwraps only: a key's way in. */
  private entryKey(slotId: number): Handle {
    const pkcs11 = this.t.pkcs11();
    return this.t.call(slotId, () =>
      pkcs11.C_GenerateKey(this.t.session(slotId), { mechanism: P.CKM_AES_KEY_GEN }, [
        { type: P.CKA_VALUE_LEN, value: 32 },
        { type: P.CKA_LABEL, value: 'mkm-ceremony-entry' },
        ...secretTemplate(P.CKK_AES, false, [P.CKA_ENCRYPT, P.CKA_UNWRAP]),
      ]),
    );
  }

  /** Clear AES bytes into a session key with these usages, by the way `enter` takes a key in. */
  private enterSession(slotId: number, value: Uint8Array, usages: readonly number[]): Handle {
    const pkcs11 = this.t.pkcs11();
    const wrappingKey = this.entryKey(slotId);
    try {
      const entry = this.wrapForEntry(slotId, wrappingKey, value);
      return this.t.call(slotId, () =>
        pkcs11.C_UnwrapKey(
          this.t.session(slotId),
          entry.mechanism,
          wrappingKey,
          entry.wrapped,
          secretTemplate(P.CKK_AES, false, usages),
        ),
      );
    } finally {
      this.destroyQuietly(slotId, wrappingKey);
    }
  }

  /** base XOR data, a new key on the token; `data` is read in place (the caller wipes it). */
  private deriveXor(slotId: number, base: Handle, data: Uint8Array, template: Template): Handle {
    const pkcs11 = this.t.pkcs11();
    return this.t.call(slotId, () =>
      pkcs11.C_DeriveKey(this.t.session(slotId), xorBaseAndData(view(data)), base, template),
    );
  }

  /**
   * The legacy and cmac KCVs of an AES key, computed by the token with a key that can encrypt and
   * sign; and whether the key is all zeros (its whole zero block equals the zero key's).
   */
  private tokenKcvs(
    slotId: number,
    type: ComponentKeyType,
    key: Handle,
  ): { kcvs: LabelledKcv[]; zeroKey: boolean } {
    const pkcs11 = this.t.pkcs11();
    const zero = Buffer.alloc(16);
    const [block, mac] = this.t.call(slotId, () => {
      const session = this.t.session(slotId);
      pkcs11.C_EncryptInit(session, { mechanism: P.CKM_AES_ECB }, key);
      const b = Buffer.from(pkcs11.C_Encrypt(session, zero, Buffer.alloc(16)));
      pkcs11.C_SignInit(session, CMAC, key);
      return [b, Buffer.from(pkcs11.C_Sign(session, zero, Buffer.alloc(16)))];
    });
    const zeroCipher = createCipheriv(
      `aes-${COMPONENT_KEY_BYTES[type] * 8}-ecb`,
      Buffer.alloc(COMPONENT_KEY_BYTES[type]),
      null,
    );
    const zeroBlock = zeroCipher.update(zero);
    try {
      return {
        kcvs: [
          { kcv: block.subarray(0, 3).toString('hex'), method: 'legacy' },
          { kcv: mac.subarray(0, 3).toString('hex'), method: 'cmac' },
        ],
        zeroKey: timingSafeEqual(block, zeroBlock),
      };
    } finally {
      // Whole blocks under the key: more of it than a 3-byte KCV shows, so not kept.
      wipe(block, mac);
    }
  }

  // ---- end: combine on the token ----

  /**
   * The token's own CKA_CHECK_VALUE of a key it took, or null where it keeps none; a value that
   * disagrees with the legacy KCV removes the key again.
   */
  private checkValueOrRefuse(slotId: number, handle: Handle, legacy: string, id: string): string | null {
    const pkcs11 = this.t.pkcs11();
    let tokenCheckValue: string | null = null;
    try {
      const raw = this.t.call(slotId, () =>
        readAttribute(pkcs11, this.t.session(slotId), handle, P.CKA_CHECK_VALUE),
      );
      tokenCheckValue = raw?.length ? raw.toString('hex') : null;
    } catch {
      tokenCheckValue = null; // a token without CKA_CHECK_VALUE: the host's KCVs stand alone
    }
    if (tokenCheckValue !== null && tokenCheckValue !== legacy) {
      this.destroyQuietly(slotId, handle);
      throw new MkmError('CEREMONY_KEY_CHECK_MISMATCH', undefined, {
        id,
        expected: legacy,
        token: tokenCheckValue,
      });
    }
    return tokenCheckValue;
  }

  /**
   * Reads the key's attributes back: every one the template set must hold. openCryptoki 3.8's
   * swtok ignores CKA_SENSITIVE and CKA_EXTRACTABLE in an unwrap template (the key comes out
   * readable); both may only ever be tightened (PKCS#11 4.9), so they are set once more, and a key
   * that still does not hold its template is destroyed: a formed key that could be read out is
   * never an outcome.
   */
  private keepOrRefuse(slotId: number, handle: Handle, template: Template, id: string): void {
    const pkcs11 = this.t.pkcs11();
    const wanted = template.filter((a) => typeof a.value === 'boolean');
    const differing = () =>
      this.t
        .call(slotId, () =>
          pkcs11.C_GetAttributeValue(
            this.t.session(slotId),
            handle,
            wanted.map((a) => ({ type: a.type })),
          ),
        )
        .filter((a, i) => (a.value as Buffer | undefined)?.[0] !== (wanted[i]!.value ? 1 : 0))
        .map((a) => a.type);
    try {
      let wrong = differing();
      const tightenable = wrong.filter((t) => t === P.CKA_SENSITIVE || t === P.CKA_EXTRACTABLE);
      if (tightenable.length > 0) {
        this.t.call(slotId, () =>
          pkcs11.C_SetAttributeValue(
            this.t.session(slotId),
            handle,
            wanted.filter((a) => tightenable.includes(a.type)),
          ),
        );
        wrong = differing();
      }
      if (wrong.length === 0) return;
      throw new MkmError('CEREMONY_KEY_NOT_PROTECTED', undefined, {
        id,
        attributes: wrong.map((t) => ATTRIBUTE_NAMES.get(t) ?? `0x${t.toString(16)}`),
      });
    } catch (error) {
      this.destroyQuietly(slotId, handle);
      if (error instanceof MkmError && error.code === 'CEREMONY_KEY_NOT_PROTECTED') throw error;
      throw new MkmError('CEREMONY_KEY_NOT_PROTECTED', undefined, { id, cause: toMkmError(error).code });
    }
  }

  /**
   * The clear key, encrypted on the token under the session wrapping key and unwrapped by it into
   * `template`. Where the token unwraps RFC 3394 (SoftHSM2), RFC 3394 runs here over its AES-ECB;
   * where it unwraps AES-CBC-PAD (openCryptoki's swtok, which has no AES key wrap), the token
   * encrypts with CBC-PAD itself. A token with neither cannot take a formed key.
   */
  private wrapForEntry(
    slotId: number,
    wrappingKey: Handle,
    value: Uint8Array,
  ): { mechanism: Mechanism; wrapped: Buffer } {
    const pkcs11 = this.t.pkcs11();
    if (this.hasMechanism(slotId, P.CKM_AES_KEY_WRAP, P.CKF_UNWRAP)) {
      const wrapped = rfc3394Wrap(value, (block) =>
        this.t.call(slotId, () => {
          pkcs11.C_EncryptInit(this.t.session(slotId), { mechanism: P.CKM_AES_ECB }, wrappingKey);
          return Buffer.from(pkcs11.C_Encrypt(this.t.session(slotId), block, Buffer.alloc(16)));
        }),
      );
      return { mechanism: { mechanism: P.CKM_AES_KEY_WRAP }, wrapped };
    }
    if (this.hasMechanism(slotId, P.CKM_AES_CBC_PAD, P.CKF_UNWRAP | P.CKF_ENCRYPT)) {
      const mechanism = { mechanism: P.CKM_AES_CBC_PAD, parameter: this.random(slotId, 16) };
      const wrapped = this.t.call(slotId, () => {
        pkcs11.C_EncryptInit(this.t.session(slotId), mechanism, wrappingKey);
        return Buffer.from(pkcs11.C_Encrypt(this.t.session(slotId), view(value), Buffer.alloc(64)));
      });
      return { mechanism, wrapped };
    }
    throw new MkmError(
      'MECHANISM_UNSUPPORTED',
      'This token unwraps neither AES key wrap (RFC 3394) nor AES-CBC-PAD: a key formed from components cannot enter it.',
      { mechanism: 'AES_KEY_WRAP|AES_CBC_PAD' },
    );
  }

  /**
   * The legacy KCV the token itself computes of what it unwrapped: a session twin of the key
   * that can only encrypt, unwrapped from the same blob, encrypts one zero block and is destroyed.
   * The final key may have no encrypt usage (a KEK), so the twin is what the token checks.
   */
  private tokenLegacyKcv(
    slotId: number,
    type: ComponentKeyType,
    wrappingKey: Handle,
    entry: { mechanism: Mechanism; wrapped: Buffer },
    keyType: number,
  ): string {
    const pkcs11 = this.t.pkcs11();
    const twin = this.t.call(slotId, () =>
      pkcs11.C_UnwrapKey(
        this.t.session(slotId),
        entry.mechanism,
        wrappingKey,
        entry.wrapped,
        secretTemplate(keyType, false, [P.CKA_ENCRYPT]),
      ),
    );
    try {
      const tdes = isTdes(type);
      return this.t
        .call(slotId, () => {
          pkcs11.C_EncryptInit(
            this.t.session(slotId),
            { mechanism: tdes ? P.CKM_DES3_ECB : P.CKM_AES_ECB },
            twin,
          );
          return Buffer.from(
            pkcs11.C_Encrypt(this.t.session(slotId), Buffer.alloc(tdes ? 8 : 16), Buffer.alloc(16)),
          );
        })
        .subarray(0, 3)
        .toString('hex');
    } finally {
      this.destroyQuietly(slotId, twin);
    }
  }

  // M-of-N shares (share-ops.host.ts): the transport key, the key entry and the token's RNG as they are.
  forShares(): CeremonyShareAccess {
    return {
      access: this.t,
      transportPublicKey: (slotId, transportKeyId) =>
        this.transportKey(slotId, transportKeyId).publicKey.keyObject,
      open: (slotId, transportKeyId, ciphertext) =>
        this.decrypt(slotId, this.transportKey(slotId, transportKeyId), ciphertext),
      enter: (slotId, type, key, naming) => this.enter(slotId, type, key, naming),
      refuseTaken: (slotId, id) => this.refuseTaken(slotId, id),
      randomSecret: (slotId, length) => this.randomSecret(slotId, length),
      destroyQuietly: (slotId, handle) => this.destroyQuietly(slotId, handle),
      hasMechanism: (slotId, mechanism, flags) => this.hasMechanism(slotId, mechanism, flags),
    };
  }

  hasMechanism(slotId: number, mechanism: number, flags = 0): boolean {
    try {
      const pkcs11 = this.t.pkcs11();
      const slot = pkcs11.C_GetSessionInfo(this.t.session(slotId)).slotID;
      if (!pkcs11.C_GetMechanismList(slot).includes(mechanism)) return false;
      return (pkcs11.C_GetMechanismInfo(slot, mechanism).flags & flags) === flags;
    } catch {
      return false;
    }
  }
}

/** A Buffer over the same bytes (no copy left to wipe). */
const view = (a: Uint8Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** A secret key that never leaves the token: sensitive, not extractable, only these usages. */
export function secretTemplate(keyType: number, token: boolean, usages: readonly number[]): Template {
  return [
    { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
    { type: P.CKA_KEY_TYPE, value: keyType },
    { type: P.CKA_TOKEN, value: token },
    { type: P.CKA_PRIVATE, value: true },
    { type: P.CKA_SENSITIVE, value: true },
    { type: P.CKA_EXTRACTABLE, value: false },
    ...USAGES.map((u) => ({ type: u, value: usages.includes(u) })),
  ];
}

function kcvsOf(type: ComponentKeyType, key: Uint8Array): LabelledKcv[] {
  return [kcv(type, key, 'legacy'), kcv(type, key, 'cmac')];
}

/** A 2-key TDES key K1 K2 as the 3-key K1 K2 K1, in a new array the caller wipes. */
function tdes3(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(24);
  out.set(key);
  out.set(key.subarray(0, 8), 16);
  return out;
}

/**
 * RFC 3394 key wrap (default IV) over a 128-bit block cipher given as one-block encryption:
 * here the token's AES-ECB under a key that never leaves it. Every intermediate is wiped.
 */
export function rfc3394Wrap(plain: Uint8Array, encryptBlock: (block: Buffer) => Buffer): Buffer {
  if (plain.length < 16 || plain.length % 8 !== 0)
    throw new RangeError('RFC 3394 wraps 16+ bytes in 8-byte blocks');
  const n = plain.length / 8;
  const r = Buffer.from(plain);
  const a = rfc3394Iv();
  const block = Buffer.alloc(16);
  try {
    for (let j = 0; j < 6; j++) {
      for (let i = 0; i < n; i++) {
        a.copy(block, 0);
        r.copy(block, 8, i * 8, i * 8 + 8);
        const b = encryptBlock(block);
        try {
          b.copy(a, 0, 0, 8);
          let t = n * j + i + 1;
          for (let x = 7; x >= 0 && t > 0; x--) {
            a[x] = a[x]! ^ (t & 0xff);
            t = Math.floor(t / 256);
          }
          b.copy(r, i * 8, 8, 16);
        } finally {
          b.fill(0);
        }
      }
    }
    return Buffer.concat([a, r]);
  } finally {
    wipe(r, block);
  }
}

function mgf1(seed: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  const counter = Buffer.alloc(4);
  for (let c = 0, at = 0; at < length; c++, at += H_LEN) {
    counter.writeUInt32BE(c);
    const digest = createHash(OAEP_HASH).update(seed).update(counter).digest();
    digest.copy(out, at, 0, Math.min(H_LEN, length - at));
    digest.fill(0);
  }
  return out;
}

const EMPTY_LABEL_HASH = createHash(OAEP_HASH).digest();

/**
 * EME-OAEP decoding (RFC 8017 7.1.2; SHA-256, MGF1-SHA-256, empty label) of a raw RSA result, for
 * tokens that decrypt OAEP only with SHA-1. One answer for every failure (null), so the host is no
 * padding oracle; every intermediate is wiped. The message is the caller's to wipe.
 */
export function oaepDecode(raw: Buffer, k: number): Uint8Array | null {
  if (raw.length > k || k < 2 * H_LEN + 2) return null;
  const em = Buffer.alloc(k);
  raw.copy(em, k - raw.length);
  const maskedSeed = em.subarray(1, 1 + H_LEN);
  const maskedDb = em.subarray(1 + H_LEN);
  const seed = mgf1(maskedDb, H_LEN);
  let db: Buffer | null = null;
  try {
    for (let i = 0; i < H_LEN; i++) seed[i] = seed[i]! ^ maskedSeed[i]!;
    db = mgf1(seed, k - H_LEN - 1);
    for (let i = 0; i < db.length; i++) db[i] = db[i]! ^ maskedDb[i]!;
    let bad = em[0]!;
    for (let i = 0; i < H_LEN; i++) bad |= db[i]! ^ EMPTY_LABEL_HASH[i]!;
    // The first non-zero byte after the label hash must be 0x01; scanned to the end either way.
    let separator = -1;
    let seenNonZero = 0;
    for (let i = H_LEN; i < db.length; i++) {
      const first = seenNonZero === 0 && db[i] !== 0;
      if (first) {
        if (db[i] !== 0x01) bad |= 1;
        separator = i;
      }
      seenNonZero |= db[i]!;
    }
    if (separator < 0) bad |= 1;
    if (bad !== 0) return null;
    return Uint8Array.from(db.subarray(separator + 1));
  } finally {
    wipe(em, seed);
    if (db) wipe(db);
  }
}

/** A custodian's ephemeral reveal key: an RSA public key of 2048 bits or more. */
export function revealKeyOf(pem: string): { key: KeyObject; sha256: string } {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new MkmError('CEREMONY_REVEAL_KEY_INVALID', undefined, { reason: 'unreadable' });
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < MIN_REVEAL_BITS) {
    throw new MkmError('CEREMONY_REVEAL_KEY_INVALID', undefined, {
      keyType: key.asymmetricKeyType ?? 'unknown',
      bits,
    });
  }
  const der = key.export({ type: 'spki', format: 'der' });
  return { key, sha256: createHash('sha256').update(der).digest('hex') };
}
