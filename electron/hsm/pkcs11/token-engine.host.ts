import { constants, createVerify, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { ERROR_SENTENCES, MkmError } from '../../../shared/errors.std';
import { silentLogger, type Logger } from '../../core/logger.nodejs';
import { CKR_MEANS, toMkmError } from './ckr.std';
import {
  countOrNull,
  decodeSlotFlags,
  decodeTokenFlags,
  pinStateOf,
  trimPadded,
  versionString,
} from './flags.std';
import {
  CKM_AES_KEY_WRAP_KWP,
  CMAC,
  cipherMechanism,
  HMAC_SHA256,
  isRsaMechanism,
  SHA256_RSA_PKCS,
  SHA256_RSA_PSS,
  wrapMechanism,
} from './mechanisms.host';
import {
  findById,
  findHandles,
  HMAC_SHA256_KEY_TYPES,
  listObjectsRaw,
  readAttribute,
  type FoundObject,
} from './objects.host';
import {
  BOOL_ATTR,
  handleToNumber,
  readUlong,
  pkcs11js,
  readBool,
  toTemplate,
  type Handle,
  type Mechanism,
  type PKCS11,
  type Template,
} from './pkcs11.host';
import { CeremonyOps } from './ceremony-ops.host';
import { probeCapabilities } from './probe.host';
import { rsaPublicFromComponents, type RsaPublic } from './spki.nodejs';
import {
  checkWrapTrust,
  keyPairTemplates,
  purposeRule,
  rsaBits,
  secretKeyTemplate,
  unwrapPurpose,
  type AbstractTemplate,
  type BoolAttr,
} from './templates.std';
import {
  type AppDataResult,
  type ReadAppDataParams,
  type WriteAppDataParams,
  type BatchResult,
  type CapabilitiesResult,
  type Capability,
  type ChangePinParams,
  type CipherMechanism,
  type CipherParams,
  type CreateCsrParams,
  type CsrResult,
  type DataResult,
  type DestroyObjectParams,
  type DestroyResult,
  type EmptyParams,
  type EncryptBatchParams,
  type ExportPublicKeyParams,
  type ExportPublicKeyResult,
  type GenerateKeyParams,
  type GenerateKeyResult,
  type GenerateRandomParams,
  type HmacSignParams,
  type HmacVerifyParams,
  type ImportKeyParams,
  type ImportKeyResult,
  type InitTokenParams,
  type InitTokenResult,
  type InitUserPinParams,
  type KcvResult,
  type KeyRefParams,
  type ListObjectsParams,
  type ListSlotsParams,
  type LoadModuleParams,
  type LoginParams,
  type LoginResult,
  type MacResult,
  type ModuleInfo,
  type ObjectClass,
  type ObjectInfo,
  type ObjectRefParams,
  type OkResult,
  type SecretKeyType,
  type SignatureResult,
  type SignParams,
  type SlotParams,
  type SlotSummary,
  type TokenSummary,
  type UnwrapKeyParams,
  type UnwrapKeyResult,
  type VerifyResult,
  type WellKnownModule,
  type WrapKeyParams,
  type WrapMechanism,
  type WrapResult,
} from '../../../shared/tokens.std';
import type {
  CeremonyKeyResult,
  CeremonyTransportKeyParams,
  CeremonyTransportKeyResult,
  ComponentCheckParams,
  ComponentCheckResult,
  DropTransportKeyParams,
  FormKeyFromComponentsParams,
  RevealComponentParams,
  RevealComponentResult,
  SplitKeyParams,
  SplitKeyResult,
} from '../../../shared/ceremony/token-ops.std';
import { wellKnownModules } from './well-known-modules.nodejs';

export interface TokenServiceOptions {
  logger?: Logger;
}

const P = pkcs11js;
// CK_STATE values (PKCS#11 §5.7); pkcs11js does not export them.
const CKS_RO_USER_FUNCTIONS = 1;
const CKS_RW_USER_FUNCTIONS = 3;
const CKS_RW_SO_FUNCTIONS = 4;
const ZERO_BLOCK = Buffer.alloc(16);
const RSA_F4 = Buffer.from([0x01, 0x00, 0x01]);
/**
 * EMPTY_INPUT: pkcs11js passes a NULL pointer for an empty Buffer; SoftHSM2 answers a one-shot
 * C_Encrypt/C_Sign with it by CKR_ARGUMENTS_BAD and, against the spec, leaves the operation
 * active, which blocks the session. An empty message (valid for CBC-PAD and HMAC) therefore
 * goes through the multi-part *Final call, which needs no data pointer.
 */
/** Room for any RSA block up to 8192 bits. */
const RSA_OUT = 1024;

interface Loaded {
  pkcs11: PKCS11;
  info: ModuleInfo;
  /** sizeof(CK_ULONG) as this module's handles show it. */
  ulongWidth: number;
}

interface OpenSession {
  handle: Handle;
  /** Sessions stuck with an active operation, kept open for the session objects they own. */
  parked: Handle[];
  rw: boolean;
  /**
   * Opened for use on a token that needs no login (CKF_LOGIN_REQUIRED clear, e.g. NSS softokn
   * without a password): its public session does everything, so it counts as the user's.
   */
  noLogin?: boolean;
}

type SessionUser = 'user' | 'so' | null;

/** Below this many items a batch uses the token key as it is (a copy costs about one C_CreateObject). */
const COPY_MIN_ITEMS = 32;

const b64 = (s: string): Buffer => Buffer.from(s, 'base64');
const isBytes = (v: unknown): v is string | Uint8Array => typeof v === 'string' || v instanceof Uint8Array;
/** base64 text or raw bytes (cloned over the host channel) as a Buffer, without copying bytes. */
const bytes = (v: string | Uint8Array): Buffer =>
  typeof v === 'string' ? b64(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** Failures of the token itself (not of what it can do): reported as they are. */
const TOKEN_STATE_CODES: ReadonlySet<string> = new Set([
  'DEVICE_ERROR',
  'TOKEN_FULL',
  'TOKEN_REMOVED',
  'SESSION_CLOSED',
  'NOT_LOGGED_IN',
]);

/**
 * The PKCS#11 token service. It runs in the HSM host process (a vendor library that crashes
 * takes only the host down) and keeps one R/W session per slot, so a login lasts across calls.
 * Every public async method takes one plain object and returns plain JSON; object handles never
 * leave this class (they are per-session numbers), objects are named by CKA_ID + class. Params
 * arrive parsed: the host's dispatcher parses each call with its schema in HSM_METHODS
 * (protocol.std.ts) before a method runs, so methods trust their params' shape.
 *
 * PINs and clear key values are used for the one call that needs them and never logged: log
 * calls here pass only non-secret fields, and errors carry CKR codes, never library text.
 */
export class TokenEngine {
  private readonly logger: Logger;
  private loaded: Loaded | null = null;
  private readonly sessions = new Map<number, OpenSession>();
  private readonly slotHandles = new Map<number, Handle>();
  /** Per slot, the mechanism a probe found doing RFC 5649 (see kwpMechanism). */
  private readonly kwp = new Map<number, number>();
  /** Batch key copies the token failed to destroy: tried again before the next batch. */
  private readonly strayCopies: { session: Handle; handle: Handle }[] = [];
  /** Per slot, whether the probe found exports restricted to trusted KEKs (see exportAllowed). */
  private readonly exportRestriction = new Map<number, Capability>();

  /** Key components in ceremonies (issue 11 point 3): ceremony-ops.host.ts. */
  private readonly ceremony: CeremonyOps;

  constructor(options: TokenServiceOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.ceremony = new CeremonyOps({
      logger: this.logger,
      pkcs11: () => this.module(),
      session: (slotId) => this.session(slotId).handle,
      call: (slotId, body) => this.call(slotId, body),
      callAsync: (slotId, body) => this.callAsync(slotId, body),
    });
  }

  // ---------------------------------------------------------------- module

  async loadModule(params: LoadModuleParams): Promise<ModuleInfo> {
    const { path, libraryParameters } = params;
    if (this.loaded) await this.unloadModule();
    if (!existsSync(path)) throw new MkmError('MODULE_NOT_FOUND', undefined, { path });

    const pkcs11 = new P.PKCS11();
    try {
      pkcs11.load(path);
    } catch (error) {
      const reason = loadFailureReason(error);
      throw new MkmError('MODULE_INVALID', `${ERROR_SENTENCES.MODULE_INVALID} ${capitalize(reason)}.`, {
        path,
        reason,
      });
    }
    try {
      initialize(pkcs11, libraryParameters);
    } catch (error) {
      safely(() => pkcs11.close());
      const e = toMkmError(error, { fn: 'C_Initialize' });
      throw new MkmError('MODULE_INIT_FAILED', initFailureMessage(e, libraryParameters !== undefined), {
        path,
        parameters: libraryParameters !== undefined,
        ...e.details,
      });
    }
    try {
      const raw = pkcs11.C_GetInfo();
      const info: ModuleInfo = {
        path,
        cryptokiVersion: `${raw.cryptokiVersion.major}.${String(raw.cryptokiVersion.minor).padStart(2, '0')}`,
        manufacturer: trimPadded(raw.manufacturerID),
        libraryDescription: trimPadded(raw.libraryDescription),
        libraryVersion: versionString(raw.libraryVersion),
      };
      this.loaded = { pkcs11, info, ulongWidth: process.platform === 'win32' ? 4 : 8 };
      this.logger.info('PKCS#11 module loaded', {
        path,
        manufacturer: info.manufacturer,
        version: info.libraryVersion,
      });
      return info;
    } catch (error) {
      safely(() => pkcs11.C_Finalize());
      safely(() => pkcs11.close());
      throw new MkmError('MODULE_INIT_FAILED', undefined, { path, ...toMkmError(error).details });
    }
  }

  async unloadModule(_params?: EmptyParams): Promise<OkResult> {
    const loaded = this.loaded;
    this.loaded = null;
    if (loaded) {
      for (const s of this.sessions.values()) {
        for (const h of [s.handle, ...s.parked]) safely(() => loaded.pkcs11.C_CloseSession(h));
      }
      safely(() => loaded.pkcs11.C_Finalize());
      safely(() => loaded.pkcs11.close());
      this.logger.info('PKCS#11 module unloaded', { path: loaded.info.path });
    }
    this.sessions.clear();
    this.slotHandles.clear();
    this.kwp.clear();
    this.exportRestriction.clear();
    return { ok: true };
  }

  async getModuleInfo(_params?: EmptyParams): Promise<ModuleInfo | null> {
    return this.loaded?.info ?? null;
  }

  async wellKnownModules(_params?: EmptyParams): Promise<WellKnownModule[]> {
    return wellKnownModules();
  }

  // ---------------------------------------------------------------- slots

  async listSlots(params?: ListSlotsParams): Promise<SlotSummary[]> {
    const { tokenPresent } = params ?? {};
    const pkcs11 = this.module();
    const handles = this.call(null, () => pkcs11.C_GetSlotList(tokenPresent ?? false));
    this.rememberSlots(handles);
    const out: SlotSummary[] = [];
    for (const handle of handles) {
      const slotId = handleToNumber(handle);
      let info;
      try {
        info = pkcs11.C_GetSlotInfo(handle);
      } catch {
        continue; // unplugged between the list and the info: it is simply gone
      }
      const flags = decodeSlotFlags(info.flags);
      let token: TokenSummary | null = null;
      if (flags.tokenPresent) {
        try {
          token = this.tokenSummary(handle);
        } catch {
          token = null; // removed or unreadable; the next poll tells
        }
      }
      if (!token) this.dropSession(slotId);
      out.push({
        slotId,
        description: trimPadded(info.slotDescription),
        manufacturer: trimPadded(info.manufacturerID),
        firmware: versionString(info.firmwareVersion),
        hardware: versionString(info.hardwareVersion),
        flags,
        removable: flags.removableDevice,
        token,
        session: this.sessionSummary(slotId),
      });
    }
    return out;
  }

  // ---------------------------------------------------------------- login and PINs

  async login(params: LoginParams): Promise<LoginResult> {
    const { slotId, pin, userType = 'user' } = params;
    const pkcs11 = this.module();
    let session = this.session(slotId);
    let current: SessionUser;
    try {
      current = this.sessionUser(slotId);
    } catch (error) {
      // The token was pulled and put back since the last call: its old session is gone, and
      // logging in is exactly what the admin does next, so start over on a fresh session.
      const e = toMkmError(error);
      if (e.code !== 'SESSION_CLOSED' && e.code !== 'TOKEN_REMOVED') throw e;
      this.dropSession(slotId);
      session = this.session(slotId);
      current = null;
    }
    if (current === userType) return { slotId, loggedIn: true, userType };
    if (current !== null) this.call(slotId, () => pkcs11.C_Logout(session.handle));
    const flags = this.tokenSummary(this.slotHandle(slotId)).flags;
    // A PIN typed anyway (the desktop dialog asks for one) changes nothing: the token grants its
    // use without one, and NSS would answer it with CKR_PIN_INCORRECT.
    if (userType === 'user' && !flags.loginRequired) {
      session.noLogin = true;
      this.logger.info('Token needs no login: using it without a PIN', {
        slotId,
        pinGiven: pin !== undefined,
      });
      return { slotId, loggedIn: true, userType };
    }
    if (pin === undefined && !flags.protectedAuthenticationPath) {
      throw new MkmError('VALIDATION', 'Enter the PIN: this token has no PIN pad.', { field: 'pin' });
    }
    try {
      // No PIN: the token's protected authentication path (PIN pad, touch) takes it.
      pkcs11.C_Login(session.handle, userType === 'so' ? P.CKU_SO : P.CKU_USER, pin);
    } catch (error) {
      const e = toMkmError(error, { fn: 'C_Login' });
      if (e.code === 'ALREADY_LOGGED_IN') return { slotId, loggedIn: true, userType };
      throw this.withPinState(slotId, e, userType);
    }
    this.logger.info('Logged in to token', { slotId, userType });
    return { slotId, loggedIn: true, userType };
  }

  async logout(params: SlotParams): Promise<OkResult> {
    const { slotId } = params;
    const pkcs11 = this.module();
    const session = this.sessions.get(slotId);
    if (session?.noLogin) {
      // Nothing to log out of: closing the session ends the use without a PIN.
      this.dropSession(slotId);
    } else if (session) {
      try {
        pkcs11.C_Logout(session.handle);
      } catch (error) {
        const e = toMkmError(error, { fn: 'C_Logout' });
        if (e.code === 'SESSION_CLOSED' || e.code === 'TOKEN_REMOVED') this.dropSession(slotId);
        else if (e.code !== 'NOT_LOGGED_IN') throw e;
      }
    }
    this.logger.info('Logged out of token', { slotId });
    return { ok: true };
  }

  async changePin(params: ChangePinParams): Promise<OkResult> {
    const { slotId, oldPin, newPin } = params;
    const pkcs11 = this.module();
    const session = this.session(slotId);
    // C_SetPIN changes the logged-in user's PIN, or the user PIN in a public session.
    const who = this.sessionUser(slotId) ?? 'user';
    try {
      pkcs11.C_SetPIN(session.handle, oldPin, newPin);
    } catch (error) {
      throw this.withPinState(slotId, toMkmError(error, { fn: 'C_SetPIN' }), who);
    }
    this.logger.info('PIN changed', { slotId, userType: who });
    return { ok: true };
  }

  async initToken(params: InitTokenParams): Promise<InitTokenResult> {
    const { slotId, soPin, label } = params;
    const pkcs11 = this.module();
    const slot = this.slotHandle(slotId);
    // CK_UTF8CHAR[32], blank padded: pkcs11js passes a C string, and the token reads 32 bytes.
    if (Buffer.byteLength(label, 'utf8') > 32) {
      throw new MkmError('VALIDATION', 'The token label can be at most 32 bytes.', { field: 'label' });
    }
    const padded = label + ' '.repeat(32 - Buffer.byteLength(label, 'utf8'));
    // C_InitToken fails with CKR_SESSION_EXISTS while any session is open on the slot.
    this.dropSession(slotId);
    safely(() => pkcs11.C_CloseAllSessions(slot));
    try {
      pkcs11.C_InitToken(slot, soPin, padded);
    } catch (error) {
      throw this.withPinState(slotId, toMkmError(error, { fn: 'C_InitToken' }), 'so');
    }
    const token = this.tokenSummary(slot);
    this.logger.info('Token initialized', { slotId, label: token.label, serial: token.serial });
    return { slotId, label: token.label, serial: token.serial };
  }

  async initUserPin(params: InitUserPinParams): Promise<OkResult> {
    const { slotId, soPin, userPin } = params;
    const pkcs11 = this.module();
    const session = this.session(slotId);
    if (this.sessionUser(slotId) === 'user' && !session.noLogin)
      this.call(slotId, () => pkcs11.C_Logout(session.handle));
    if (this.sessionUser(slotId) !== 'so') {
      try {
        pkcs11.C_Login(session.handle, P.CKU_SO, soPin);
      } catch (error) {
        const e = toMkmError(error, { fn: 'C_Login' });
        if (e.code !== 'ALREADY_LOGGED_IN') throw this.withPinState(slotId, e, 'so');
      }
    }
    try {
      this.call(slotId, () => pkcs11.C_InitPIN(session.handle, userPin));
    } finally {
      safely(() => pkcs11.C_Logout(session.handle));
    }
    this.logger.info('User PIN initialized by the security officer', { slotId });
    return { ok: true };
  }

  // ---------------------------------------------------------------- keys

  async generateKey(params: GenerateKeyParams): Promise<GenerateKeyResult> {
    const { slotId, type, label, purpose, exportable, acceptWiderUsage } = params;
    purposeRule(type, purpose);
    const pkcs11 = this.module();
    const session = this.session(slotId);
    const id = this.randomId(slotId);
    const naming: Template = [
      { type: P.CKA_LABEL, value: label },
      { type: P.CKA_ID, value: id },
    ];
    const bits = rsaBits(type);
    if (bits === null) {
      const secretType = type as SecretKeyType;
      if (exportable) await this.exportAllowed(slotId);
      const template: Template = [
        { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
        { type: P.CKA_KEY_TYPE, value: secretType === 'aes-256' ? P.CKK_AES : P.CKK_GENERIC_SECRET },
        { type: P.CKA_VALUE_LEN, value: 32 },
        ...naming,
        ...toTemplate(secretKeyTemplate(secretType, purpose, { exportable })),
      ];
      const mechanism = {
        mechanism: secretType === 'aes-256' ? P.CKM_AES_KEY_GEN : P.CKM_GENERIC_SECRET_KEY_GEN,
      };
      const handle = await this.restrictedSecret(slotId, exportable === true, () =>
        this.callAsync(slotId, () => pkcs11.C_GenerateKeyAsync(session.handle, mechanism, template)),
      );
      // The key exists now; a token without CMAC/HMAC signing must not turn that into an error
      // that leaves an unnamed key behind. The result then simply has no KCV.
      let kcv: KcvResult | undefined;
      try {
        kcv = this.kcvOf(slotId, handle, secretType);
      } catch (error) {
        this.logger.warn('Generated key has no KCV', {
          slotId,
          keyId: id.toString('hex'),
          code: toMkmError(error).code,
        });
      }
      const objects = this.describeById(slotId, id.toString('hex'), ['secret']);
      this.logger.info('Key generated', {
        slotId,
        type,
        purpose,
        label,
        keyId: id.toString('hex'),
        kcv: kcv?.kcv ?? null,
      });
      return { id: id.toString('hex'), type, purpose, label, objects, ...(kcv ? { kcv } : {}) };
    }
    if (exportable)
      throw new MkmError('VALIDATION', 'An RSA private key never leaves the token.', { field: 'exportable' });
    const t = keyPairTemplates(type, purpose);
    const publicTemplate: Template = [
      { type: P.CKA_CLASS, value: P.CKO_PUBLIC_KEY },
      { type: P.CKA_KEY_TYPE, value: P.CKK_RSA },
      { type: P.CKA_MODULUS_BITS, value: bits },
      { type: P.CKA_PUBLIC_EXPONENT, value: RSA_F4 },
      ...naming,
      ...toTemplate(t.publicKey),
    ];
    const privateTemplate: Template = [
      { type: P.CKA_CLASS, value: P.CKO_PRIVATE_KEY },
      { type: P.CKA_KEY_TYPE, value: P.CKK_RSA },
      ...naming,
      ...toTemplate(t.privateKey),
    ];
    const mechanism = { mechanism: P.CKM_RSA_PKCS_KEY_PAIR_GEN };
    let pair: { publicKey: Handle; privateKey: Handle };
    let widerUsage: string[] = [];
    try {
      pair = await this.callAsync(slotId, () =>
        pkcs11.C_GenerateKeyPairAsync(session.handle, mechanism, publicTemplate, privateTemplate),
      );
    } catch (error) {
      const e = toMkmError(error);
      if (!CKR_MEANS.templateSuspect(e.details?.ckr)) throw e;
      // The token may refuse a usage set to false (tpm2-pkcs11: CKR_GENERAL_ERROR). Ask once more
      // without the refusals, then see which usages it gave beyond what mkm asked for.
      let wide: { publicKey: Handle; privateKey: Handle };
      try {
        wide = await this.callAsync(slotId, () =>
          pkcs11.C_GenerateKeyPairAsync(
            session.handle,
            mechanism,
            withoutRefusals(publicTemplate),
            withoutRefusals(privateTemplate),
          ),
        );
      } catch {
        throw e;
      }
      widerUsage = [
        ...this.usagesBeyond(slotId, wide.privateKey, t.privateKey, 'private'),
        ...this.usagesBeyond(slotId, wide.publicKey, t.publicKey, 'public'),
      ];
      if (widerUsage.length > 0 && !acceptWiderUsage) {
        safely(() => pkcs11.C_DestroyObject(session.handle, wide.privateKey));
        safely(() => pkcs11.C_DestroyObject(session.handle, wide.publicKey));
        throw keyTemplateRefused(widerUsage, e);
      }
      pair = wide;
    }
    const pub = this.rsaPublic(slotId, pair.publicKey);
    const objects = this.describeById(slotId, id.toString('hex'), ['private', 'public']);
    this.logger.info('Key pair generated', {
      slotId,
      type,
      purpose,
      label,
      keyId: id.toString('hex'),
      spkiSha256: pub.spkiSha256,
      ...(widerUsage.length ? { widerUsage } : {}),
    });
    return {
      id: id.toString('hex'),
      type,
      purpose,
      label,
      objects,
      spkiSha256: pub.spkiSha256,
      ...(widerUsage.length ? { widerUsage } : {}),
    };
  }

  async listObjects(params: ListObjectsParams): Promise<ObjectInfo[]> {
    const { slotId, class: cls } = params;
    const pkcs11 = this.module();
    const session = this.session(slotId);
    return this.call(slotId, () => listObjectsRaw(pkcs11, session.handle, cls).map((o) => o.info));
  }

  async getObject(params: ObjectRefParams): Promise<ObjectInfo> {
    const { slotId, id, class: cls } = params;
    return this.findOne(slotId, id, [cls]).info;
  }

  async exportPublicKey(params: ExportPublicKeyParams): Promise<ExportPublicKeyResult> {
    const { slotId, id, format } = params;
    const key = this.findOne(slotId, id, ['public', 'private']);
    const pub = this.rsaPublic(slotId, key.handle);
    return format === 'pem'
      ? { format, pem: pub.pem, spkiSha256: pub.spkiSha256, bits: pub.bits }
      : { format, jwk: { ...pub.jwk, kid: id }, spkiSha256: pub.spkiSha256, bits: pub.bits };
  }

  async createCsr(params: CreateCsrParams): Promise<CsrResult> {
    const { slotId, id, subject } = params;
    const pkcs11 = this.module();
    const session = this.session(slotId);
    const priv = this.findOne(slotId, id, ['private']);
    if (priv.info.keyType !== 'rsa')
      throw new MkmError('KEY_TYPE_INCONSISTENT', undefined, { keyType: priv.info.keyType });
    const pub = this.rsaPublic(slotId, this.tryFind(slotId, id, 'public')?.handle ?? priv.handle);
    const { csrAssemble, csrToBeSigned } = await import('./csr.nodejs');
    const { cri, toBeSigned } = csrToBeSigned(pub, subject);
    const signature = this.call(slotId, () => {
      pkcs11.C_SignInit(session.handle, SHA256_RSA_PKCS, priv.handle);
      return Buffer.from(pkcs11.C_Sign(session.handle, toBeSigned, Buffer.alloc(RSA_OUT)));
    });
    // A token that signs with a different key than it reports must not yield a CSR.
    if (!createVerify('sha256').update(toBeSigned).verify(pub.keyObject, signature)) {
      throw new MkmError(
        'SIGNATURE_INVALID',
        'The token signed the request with a key that does not match its public key.',
      );
    }
    this.logger.info('CSR created', { slotId, keyId: id, spkiSha256: pub.spkiSha256 });
    return { pem: csrAssemble(cri, signature), spkiSha256: pub.spkiSha256 };
  }

  async kcv(params: KeyRefParams): Promise<KcvResult> {
    const { slotId, id } = params;
    const key = this.findOne(slotId, id, ['secret']);
    return this.kcvOf(slotId, key.handle, secretTypeOf(key.info));
  }

  // ---------------------------------------------------------------- ciphers

  async encrypt(params: CipherParams): Promise<DataResult> {
    const p = params;
    return {
      data: this.cipher('encrypt', p.slotId, p.id, p.mechanism, p.iv, b64(p.data)).toString('base64'),
    };
  }

  async decrypt(params: CipherParams): Promise<DataResult> {
    const p = params;
    return {
      data: this.cipher('decrypt', p.slotId, p.id, p.mechanism, p.iv, b64(p.data)).toString('base64'),
    };
  }

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
    const pkcs11 = this.module();
    const session = this.session(head.slotId);
    const key = this.findOne(head.slotId, head.id, [keyClassFor(head.mechanism, 'encrypt')]);
    const rsa = isRsaMechanism(head.mechanism);
    const mech: Mechanism = cipherMechanism(head.mechanism, rsa ? undefined : ZERO_BLOCK);
    const binary = (params as { output?: unknown }).output === 'binary';
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
    let buf = Buffer.alloc(rsa ? this.rsaRoom(head.slotId, key.handle) : RSA_OUT);
    const h = session.handle;
    // Some libraries re-read a token key on every C_EncryptInit (SoftHSM2 checks the key's object
    // file each time: over half the cost of a 1 KiB encryption). A session copy made for the
    // batch is read once: it keeps the key's sensitive and non-extractable attributes (they can
    // only tighten on a copy), lives only inside this application's sessions, and is destroyed
    // when the batch ends. A key the token will not copy (CKA_COPYABLE false) is used as it is.
    this.destroyStrayCopies();
    const copy = !rsa && items.length >= COPY_MIN_ITEMS ? this.sessionCopy(h, key.handle) : null;
    const batchKey = copy ?? key.handle;
    try {
      for (let i = 0; i < items.length; i++) {
        const item = items[i] as { iv?: unknown; data?: unknown } | null;
        if (!item || !isBytes(item.data) || (item.iv !== undefined && !isBytes(item.iv))) {
          throw new MkmError('VALIDATION', undefined, {
            issues: [`items.${i}: expected { iv?: bytes, data: bytes } (base64 or binary)`],
          });
        }
        const data = bytes(item.data);
        if (!rsa) {
          const iv = item.iv !== undefined ? bytes(item.iv) : undefined;
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
      throw mechanismError(this.fail(error, head.slotId), head.mechanism);
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
    return { items: out, keyCopy: copy !== null };
  }

  async hmacSign(params: HmacSignParams): Promise<MacResult> {
    const { slotId, id, data, mechanism } = params;
    const pkcs11 = this.module();
    const session = this.session(slotId);
    const key = this.findOne(slotId, id, ['secret']);
    const input = b64(data);
    const mac = this.call(slotId, () => {
      pkcs11.C_SignInit(session.handle, mechanism === 'AES_CMAC' ? CMAC : HMAC_SHA256, key.handle);
      // Empty input: see EMPTY_INPUT.
      if (input.length === 0) return pkcs11.C_SignFinal(session.handle, Buffer.alloc(64));
      return pkcs11.C_Sign(session.handle, input, Buffer.alloc(64));
    });
    return { mac: mac.toString('base64') };
  }

  async hmacVerify(params: HmacVerifyParams): Promise<VerifyResult> {
    const { slotId, id, data, mac } = params;
    const pkcs11 = this.module();
    const session = this.session(slotId);
    const key = this.findOne(slotId, id, ['secret']);
    const input = b64(data);
    const given = b64(mac);
    if (given.length === 0) return { valid: false };
    this.call(slotId, () => pkcs11.C_VerifyInit(session.handle, HMAC_SHA256, key.handle));
    try {
      // Empty input: see EMPTY_INPUT.
      if (input.length === 0) return { valid: pkcs11.C_VerifyFinal(session.handle, given) };
      pkcs11.C_Verify(session.handle, input, given);
      return { valid: true };
    } catch (error) {
      const e = this.fail(error, slotId);
      if (e.code === 'SIGNATURE_INVALID') return { valid: false };
      throw e;
    }
  }

  /**
   * An RSA signature by a private key with CKA_SIGN. The token hashes the data itself; the result
   * is checked against the key's public half before it is returned, as for a CSR, so a token that
   * signs with another key (or a broken PSS) never yields a signature that does not verify.
   */
  async sign(params: SignParams): Promise<SignatureResult> {
    const { slotId, id, mechanism, data } = params;
    const pkcs11 = this.module();
    const session = this.session(slotId);
    const priv = this.findOne(slotId, id, ['private']);
    if (priv.info.keyType !== 'rsa') {
      throw new MkmError('KEY_TYPE_INCONSISTENT', 'Only an RSA private key signs here.', {
        keyType: priv.info.keyType,
      });
    }
    if (!priv.info.usages.includes('sign')) {
      throw new MkmError('KEY_NOT_PERMITTED', 'This key is not a signing key (it has no sign usage).', {
        id,
      });
    }
    const pub = this.rsaPublic(slotId, this.tryFind(slotId, id, 'public')?.handle ?? priv.handle);
    const input = b64(data);
    const pss = mechanism === 'SHA256_RSA_PKCS_PSS';
    let signature: Buffer;
    try {
      signature = this.call(slotId, () => {
        pkcs11.C_SignInit(session.handle, pss ? SHA256_RSA_PSS : SHA256_RSA_PKCS, priv.handle);
        // Empty input: see EMPTY_INPUT.
        if (input.length === 0) return Buffer.from(pkcs11.C_SignFinal(session.handle, Buffer.alloc(RSA_OUT)));
        return Buffer.from(pkcs11.C_Sign(session.handle, input, Buffer.alloc(RSA_OUT)));
      });
    } catch (error) {
      const e = toMkmError(error);
      const ckr = e.details?.ckr;
      if (CKR_MEANS.mechanismUnsupported(ckr) || CKR_MEANS.argumentsBad(ckr)) {
        throw new MkmError(
          'MECHANISM_UNSUPPORTED',
          `This token does not sign with ${pss ? 'RSASSA-PSS (SHA-256)' : 'RSA PKCS#1 v1.5 (SHA-256)'}.`,
          { ...e.details, mechanism },
        );
      }
      throw e;
    }
    const verifies = createVerify('sha256')
      .update(input)
      .verify(
        pss
          ? { key: pub.keyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
          : pub.keyObject,
        signature,
      );
    if (!verifies) {
      throw new MkmError(
        'SIGNATURE_INVALID',
        'The token made a signature that its public key does not verify.',
        {
          id,
          mechanism,
        },
      );
    }
    this.logger.info('Data signed', { slotId, keyId: id, mechanism, bytes: input.length });
    return { signature: signature.toString('base64') };
  }

  async wrapKey(params: WrapKeyParams): Promise<WrapResult> {
    const { slotId, wrappingKeyId, keyId, mechanism } = params;
    const pkcs11 = this.module();
    const session = this.session(slotId);
    const wrapping = this.findOne(slotId, wrappingKeyId, [isRsaMechanism(mechanism) ? 'public' : 'secret']);
    const target = this.findOne(slotId, keyId, ['secret']);
    const flag = (handle: Handle, type: number) => {
      try {
        return readBool(readAttribute(pkcs11, session.handle, handle, type));
      } catch {
        return null; // a token that does not know the attribute
      }
    };
    checkWrapTrust({
      wrapWithTrusted: flag(target.handle, P.CKA_WRAP_WITH_TRUSTED),
      trusted: flag(wrapping.handle, P.CKA_TRUSTED),
      keyId,
      wrappingKeyId,
    });
    const wrapped = this.callWith(slotId, mechanism, () =>
      pkcs11.C_WrapKey(
        session.handle,
        wrapMechanism(mechanism, this.kwpMechanism(slotId)),
        wrapping.handle,
        target.handle,
        Buffer.alloc(isRsaMechanism(mechanism) ? this.rsaRoom(slotId, wrapping.handle) : RSA_OUT),
      ),
    );
    this.logger.info('Key wrapped', { slotId, wrappingKeyId, keyId, mechanism });
    return { wrapped: wrapped.toString('base64') };
  }

  async unwrapKey(params: UnwrapKeyParams): Promise<UnwrapKeyResult> {
    const p = params;
    const pkcs11 = this.module();
    const session = this.session(p.slotId);
    const unwrapping = this.findOne(p.slotId, p.unwrappingKeyId, [
      isRsaMechanism(p.mechanism) ? 'private' : 'secret',
    ]);
    const id = p.id !== undefined ? Buffer.from(p.id, 'hex') : this.randomId(p.slotId);
    const template: Template = [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_KEY_TYPE, value: p.keyType === 'aes-256' ? P.CKK_AES : P.CKK_GENERIC_SECRET },
      { type: P.CKA_LABEL, value: p.label },
      { type: P.CKA_ID, value: id },
      ...toTemplate(secretKeyTemplate(p.keyType, unwrapPurpose(p.keyType), { token: p.token })),
    ];
    let handle: Handle;
    try {
      handle = this.callWith(p.slotId, p.mechanism, () =>
        pkcs11.C_UnwrapKey(
          session.handle,
          wrapMechanism(p.mechanism, this.kwpMechanism(p.slotId)),
          unwrapping.handle,
          b64(p.wrapped),
          template,
        ),
      );
    } catch (error) {
      // A damaged or foreign wrapped key reads differently per token (SoftHSM2: FUNCTION_FAILED for
      // bad OAEP); to the admin it is one thing. The CKR stays in details.
      const e = toMkmError(error);
      if (['FUNCTION_FAILED', 'ENCRYPTED_DATA_INVALID', 'DATA_LEN_RANGE', 'DATA_INVALID'].includes(e.code)) {
        throw new MkmError(
          'KEY_UNWRAPPABLE',
          'The wrapped key could not be unwrapped; it may be damaged or meant for another key.',
          e.details,
        );
      }
      throw e;
    }
    // The contract's keys are 32 bytes. CKA_VALUE_LEN cannot go in the unwrap template (SoftHSM2
    // and others refuse it there), so the length is checked afterwards where the token reports
    // it; SoftHSM2 2.6 reports 0 for unwrapped keys, and then the caller's KCV check is the guard.
    let length: number | null;
    try {
      length = this.call(p.slotId, () =>
        readUlong(readAttribute(pkcs11, session.handle, handle, P.CKA_VALUE_LEN)),
      );
    } catch (error) {
      // The key is in the token but the caller will never learn its id: it must not stay there.
      safely(() => pkcs11.C_DestroyObject(session.handle, handle));
      throw error;
    }
    if (length !== null && length !== 0 && length !== 32) {
      safely(() => pkcs11.C_DestroyObject(session.handle, handle));
      throw new MkmError('KEY_UNWRAPPABLE', 'The unwrapped key is not 32 bytes long.', { length });
    }
    const kcv = this.kcvOrDestroy(p.slotId, handle, p.keyType);
    this.logger.info('Key unwrapped', {
      slotId: p.slotId,
      keyId: id.toString('hex'),
      mechanism: p.mechanism,
      token: p.token,
      kcv: kcv.kcv,
    });
    return { id: id.toString('hex'), keyType: p.keyType, token: p.token, ...kcv };
  }

  async importKey(params: ImportKeyParams): Promise<ImportKeyResult> {
    const p = params;
    const pkcs11 = this.module();
    const session = this.session(p.slotId);
    const abstract = secretKeyTemplate(p.type, p.purpose, { exportable: p.exportable });
    if (p.exportable) await this.exportAllowed(p.slotId);
    const id = this.randomId(p.slotId);
    const value = Buffer.from(p.keyHex, 'hex');
    let handle: Handle;
    try {
      handle = await this.restrictedSecret(p.slotId, p.exportable === true, async () =>
        this.call(p.slotId, () =>
          pkcs11.C_CreateObject(session.handle, [
            { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
            { type: P.CKA_KEY_TYPE, value: p.type === 'aes-256' ? P.CKK_AES : P.CKK_GENERIC_SECRET },
            { type: P.CKA_VALUE, value },
            { type: P.CKA_LABEL, value: p.label },
            { type: P.CKA_ID, value: id },
            ...toTemplate(abstract),
          ]),
        ),
      );
    } finally {
      value.fill(0);
    }
    const kcv = this.kcvOrDestroy(p.slotId, handle, p.type);
    this.logger.info('Key imported', {
      slotId: p.slotId,
      type: p.type,
      purpose: p.purpose,
      keyId: id.toString('hex'),
      kcv: kcv.kcv,
    });
    return { id: id.toString('hex'), ...kcv };
  }

  async destroyObject(params: DestroyObjectParams): Promise<DestroyResult> {
    const { slotId, id, class: cls, confirm } = params;
    if (confirm !== true)
      throw new MkmError('CONFIRMATION_REQUIRED', 'Deleting a key cannot be undone; confirm it.', {
        id,
        class: cls,
      });
    const pkcs11 = this.module();
    const session = this.session(slotId);
    const obj = this.findOne(slotId, id, [cls]);
    this.call(slotId, () => pkcs11.C_DestroyObject(session.handle, obj.handle));
    this.logger.info('Object destroyed', { slotId, keyId: id, class: cls, label: obj.info.label });
    return { destroyed: 1 };
  }

  async generateRandom(params: GenerateRandomParams): Promise<DataResult> {
    const { slotId, length } = params;
    const pkcs11 = this.module();
    const session = this.session(slotId);
    return {
      data: this.call(slotId, () => pkcs11.C_GenerateRandom(session.handle, Buffer.alloc(length))).toString(
        'base64',
      ),
    };
  }

  /** The values of the app's private data objects with this label (see ReadAppDataParamsSchema). */
  async readAppData(params: ReadAppDataParams): Promise<AppDataResult> {
    const { slotId, label } = params;
    const pkcs11 = this.module();
    const session = this.session(slotId);
    const handles = this.call(slotId, () => findHandles(pkcs11, session.handle, appDataTemplate(label)));
    return {
      values: handles.map(
        (h) => readAttribute(pkcs11, session.handle, h, P.CKA_VALUE)?.toString('base64') ?? '',
      ),
    };
  }

  /**
   * Replaces the value of the app's private data object with this label. Tokens do not let a
   * data object's CKA_VALUE change (SoftHSM2: CKR_ATTRIBUTE_READ_ONLY), so the new object is
   * made first and the old ones destroyed after: a crash between leaves both, never neither,
   * and the value itself must say which is newer.
   */
  async writeAppData(params: WriteAppDataParams): Promise<OkResult> {
    const { slotId, label, value } = params;
    const pkcs11 = this.module();
    const session = this.session(slotId);
    const old = this.call(slotId, () => findHandles(pkcs11, session.handle, appDataTemplate(label)));
    this.call(slotId, () =>
      pkcs11.C_CreateObject(session.handle, [
        ...appDataTemplate(label),
        { type: P.CKA_TOKEN, value: true },
        { type: P.CKA_PRIVATE, value: true },
        { type: P.CKA_VALUE, value: Buffer.from(value, 'base64') },
      ]),
    );
    for (const h of old) this.call(slotId, () => pkcs11.C_DestroyObject(session.handle, h));
    return { ok: true };
  }

  async probeCapabilities(params: SlotParams): Promise<CapabilitiesResult> {
    const { slotId } = params;
    const pkcs11 = this.module();
    const session = this.session(slotId);
    const slot = this.slotHandle(slotId);
    const token = this.tokenSummary(slot);
    const flags = P.CKF_SERIAL_SESSION | (session.rw ? P.CKF_RW_SESSION : 0);
    const result = await probeCapabilities({
      pkcs11,
      openSession: () => pkcs11.C_OpenSession(slot, flags),
      slot,
      token,
    });
    if (result.aesKeyWrapPadMechanism !== undefined) this.kwp.set(slotId, result.aesKeyWrapPadMechanism);
    this.exportRestriction.set(slotId, result.capabilities.wrapWithTrusted);
    this.logger.info('Token capabilities probed', { slotId, cacheKey: result.cacheKey });
    return result;
  }

  // ---------------------------------------------------------------- ceremonies (ceremony-ops.host.ts)

  async ceremonyTransportKey(params: CeremonyTransportKeyParams): Promise<CeremonyTransportKeyResult> {
    return this.ceremony.ceremonyTransportKey(params);
  }

  async ceremonyDropTransportKey(params: DropTransportKeyParams): Promise<OkResult> {
    return this.ceremony.ceremonyDropTransportKey(params);
  }

  async componentCheck(params: ComponentCheckParams): Promise<ComponentCheckResult> {
    return this.ceremony.componentCheck(params);
  }

  async formKeyFromComponents(params: FormKeyFromComponentsParams): Promise<CeremonyKeyResult> {
    return this.ceremony.formKeyFromComponents(params);
  }

  async splitKey(params: SplitKeyParams): Promise<SplitKeyResult> {
    return this.ceremony.splitKey(params);
  }

  async revealComponent(params: RevealComponentParams): Promise<RevealComponentResult> {
    return this.ceremony.revealComponent(params);
  }

  /**
   * In-process access for benchmarks and tests only (the `_` prefix keeps it off the wire):
   * the same module and session the service uses, since a process can initialize a module once.
   */
  _raw(slotId: number): { pkcs11: PKCS11; session: Handle; find(id: string, cls: ObjectClass): Handle } {
    const pkcs11 = this.module();
    const session = this.session(slotId);
    return { pkcs11, session: session.handle, find: (id, cls) => this.findOne(slotId, id, [cls]).handle };
  }

  // ---------------------------------------------------------------- internals

  /**
   * AES key wrap with padding (RFC 5649): what the last probe found, else CKM_AES_KEY_WRAP_KWP
   * when the token lists it (NSS's CKM_AES_KEY_WRAP_PAD pads otherwise), else
   * CKM_AES_KEY_WRAP_PAD (SoftHSM2 and openCryptoki, where it is RFC 5649).
   */
  private kwpMechanism(slotId: number): number {
    const probed = this.kwp.get(slotId);
    if (probed !== undefined) return probed;
    try {
      if (this.module().C_GetMechanismList(this.slotHandle(slotId)).includes(CKM_AES_KEY_WRAP_KWP)) {
        return CKM_AES_KEY_WRAP_KWP;
      }
    } catch {
      // No list: the 2.40 mechanism.
    }
    return P.CKM_AES_KEY_WRAP_PAD;
  }

  /**
   * An exportable key is made only where the restriction to trusted KEKs holds on the token (the
   * probe's `wrapWithTrusted`); a slot not probed yet by this host is probed first.
   */
  private async exportAllowed(slotId: number): Promise<void> {
    if (!this.exportRestriction.has(slotId)) await this.probeCapabilities({ slotId });
    const found = this.exportRestriction.get(slotId);
    if (found?.supported !== true) throw exportRestrictionMissing(undefined, found);
  }

  /**
   * Makes a secret key; an exportable one only with CKA_WRAP_WITH_TRUSTED kept on it
   * (templates.std.ts). A token that does not know the attribute refuses the template
   * (openCryptoki: CKR_ATTRIBUTE_TYPE_INVALID; every other attribute type is in the
   * non-exportable template too); one that takes it without keeping it gets its key destroyed.
   * Either way the key is not made: exportable without the restriction is never an outcome.
   */
  private async restrictedSecret(
    slotId: number,
    exportable: boolean,
    create: () => Promise<Handle>,
  ): Promise<Handle> {
    let handle: Handle;
    try {
      handle = await create();
    } catch (error) {
      const e = toMkmError(error);
      if (exportable && CKR_MEANS.attributeTypeInvalid(e.details?.ckr)) throw exportRestrictionMissing(e);
      throw e;
    }
    if (!exportable) return handle;
    const pkcs11 = this.module();
    const session = this.session(slotId);
    let kept: boolean | null = null;
    try {
      kept = readBool(readAttribute(pkcs11, session.handle, handle, P.CKA_WRAP_WITH_TRUSTED));
    } catch {
      // Unreadable counts as not kept.
    }
    if (kept !== true) {
      safely(() => pkcs11.C_DestroyObject(session.handle, handle));
      throw exportRestrictionMissing();
    }
    return handle;
  }

  /**
   * A session object copy of a key (see encryptBatch), or null when the token refuses one. It
   * gets an id of its own: a copy the token failed to destroy must never make the key's own id
   * ambiguous (every later use of the key would be refused as CONFLICT).
   */
  private sessionCopy(session: Handle, key: Handle): Handle | null {
    try {
      return this.module().C_CopyObject(session, key, [
        { type: P.CKA_TOKEN, value: false },
        { type: P.CKA_ID, value: Buffer.concat([Buffer.from('mkm-batch-copy:'), randomBytes(8)]) },
        { type: P.CKA_LABEL, value: 'mkm batch key copy' },
      ]);
    } catch (error) {
      this.logger.debug('a batch uses the token key itself: no session copy', {
        ckr: toMkmError(error).details?.ckr ?? null,
      });
      return null;
    }
  }

  private destroyStrayCopies(): void {
    const pkcs11 = this.loaded?.pkcs11;
    for (const stray of this.strayCopies.splice(0)) {
      try {
        pkcs11?.C_DestroyObject(stray.session, stray.handle);
      } catch (error) {
        // Gone with its session (token pulled, logged out) is gone; anything else: later.
        const code = toMkmError(error).code;
        if (!['SESSION_CLOSED', 'KEY_NOT_FOUND', 'TOKEN_REMOVED'].includes(code))
          this.strayCopies.push(stray);
      }
    }
  }

  private module(): PKCS11 {
    if (!this.loaded) throw new MkmError('NO_MODULE');
    return this.loaded.pkcs11;
  }

  private rememberSlots(handles: Handle[]): void {
    if (this.loaded && handles[0]) this.loaded.ulongWidth = handles[0].length;
    for (const h of handles) this.slotHandles.set(handleToNumber(h), h);
  }

  private slotHandle(slotId: number): Handle {
    const known = this.slotHandles.get(slotId);
    if (known) return known;
    const pkcs11 = this.module();
    this.rememberSlots(this.call(null, () => pkcs11.C_GetSlotList(false)));
    const found = this.slotHandles.get(slotId);
    if (!found) throw new MkmError('SLOT_NOT_FOUND', undefined, { slotId });
    return found;
  }

  private session(slotId: number): OpenSession {
    const open = this.sessions.get(slotId);
    if (open) return open;
    const pkcs11 = this.module();
    const slot = this.slotHandle(slotId);
    let session: OpenSession;
    try {
      session = {
        handle: pkcs11.C_OpenSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION),
        rw: true,
        parked: [],
      };
    } catch (error) {
      const e = toMkmError(error, { fn: 'C_OpenSession' });
      // A write-protected token still lists, signs and decrypts: fall back to read-only.
      if (e.code !== 'TOKEN_WRITE_PROTECTED') throw e;
      session = {
        handle: this.call(slotId, () => pkcs11.C_OpenSession(slot, P.CKF_SERIAL_SESSION)),
        rw: false,
        parked: [],
      };
    }
    this.sessions.set(slotId, session);
    return session;
  }

  private dropSession(slotId: number): void {
    const s = this.sessions.get(slotId);
    if (!s) return;
    this.sessions.delete(slotId);
    const pkcs11 = this.loaded?.pkcs11;
    if (pkcs11) for (const h of [s.handle, ...s.parked]) safely(() => pkcs11.C_CloseSession(h));
  }

  private sessionUser(slotId: number): SessionUser {
    const s = this.sessions.get(slotId);
    if (!s || !this.loaded) return null;
    const pkcs11 = this.loaded.pkcs11;
    const state = this.call(slotId, () => pkcs11.C_GetSessionInfo(s.handle).state);
    if (state === CKS_RW_SO_FUNCTIONS) return 'so';
    if (state === CKS_RW_USER_FUNCTIONS || state === CKS_RO_USER_FUNCTIONS) return 'user';
    return s.noLogin ? 'user' : null;
  }

  private sessionSummary(slotId: number): SlotSummary['session'] {
    if (!this.sessions.has(slotId)) return { open: false, loggedIn: false, userType: null };
    try {
      const user = this.sessionUser(slotId);
      return { open: true, loggedIn: user !== null, userType: user };
    } catch {
      return { open: false, loggedIn: false, userType: null };
    }
  }

  private tokenSummary(slot: Handle): TokenSummary {
    const pkcs11 = this.module();
    const t = pkcs11.C_GetTokenInfo(slot);
    return {
      label: trimPadded(t.label),
      manufacturer: trimPadded(t.manufacturerID),
      model: trimPadded(t.model),
      serial: trimPadded(t.serialNumber),
      firmware: versionString(t.firmwareVersion),
      hardware: versionString(t.hardwareVersion),
      flags: decodeTokenFlags(t.flags),
      minPinLen: t.minPinLen,
      maxPinLen: t.maxPinLen,
      sessionCount: countOrNull(t.sessionCount),
      maxSessionCount: countOrNull(t.maxSessionCount),
      freePrivateMemory: countOrNull(t.freePrivateMemory),
      freePublicMemory: countOrNull(t.freePublicMemory),
    };
  }

  /** The token's PIN flags read right after a failed PIN, so the UI can warn in order. */
  private withPinState(slotId: number, e: MkmError, who: 'user' | 'so'): MkmError {
    if (e.code === 'SESSION_CLOSED' || e.code === 'TOKEN_REMOVED') this.dropSession(slotId);
    if (e.code !== 'PIN_INCORRECT' && e.code !== 'PIN_LOCKED') return e;
    try {
      const state = pinStateOf(this.tokenSummary(this.slotHandle(slotId)).flags, who);
      this.logger.warn('Wrong PIN', { slotId, userType: who, ...state });
      const details = { ...e.details, userType: who, ...state };
      // Tokens differ on the try that locks: a card may answer CKR_PIN_LOCKED, openCryptoki
      // answers CKR_PIN_INCORRECT and sets the locked flag. Either way the PIN is locked now,
      // so callers get one code for it; the raw CKR_* stays in the details for support.
      if (e.code === 'PIN_INCORRECT' && state.locked) {
        return new MkmError(
          'PIN_LOCKED',
          `${e.message} That was the last try. ${ERROR_SENTENCES.PIN_LOCKED}`,
          details,
        );
      }
      return new MkmError(e.code, e.message, details);
    } catch {
      return e;
    }
  }

  private fail(error: unknown, slotId: number | null): MkmError {
    const e = toMkmError(error);
    if (
      slotId !== null &&
      (e.code === 'SESSION_CLOSED' || e.code === 'TOKEN_REMOVED' || e.code === 'SLOT_NOT_FOUND')
    ) {
      this.dropSession(slotId);
    }
    return e;
  }

  /**
   * Runs PKCS#11 calls, converting errors. A session a library left with an active operation
   * (CKR_OPERATION_ACTIVE on the next call) is replaced once and the call retried; the old session
   * is parked, not closed, because closing it would destroy the session keys it created.
   */
  private call<T>(slotId: number | null, body: () => T): T {
    try {
      return body();
    } catch (error) {
      const e = this.fail(error, slotId);
      if (e.code !== 'OPERATION_ACTIVE' || slotId === null || !this.replaceStuckSession(slotId)) throw e;
    }
    try {
      return body();
    } catch (error) {
      throw this.fail(error, slotId);
    }
  }

  private replaceStuckSession(slotId: number): boolean {
    const s = this.sessions.get(slotId);
    if (!s || !this.loaded) return false;
    try {
      const flags = P.CKF_SERIAL_SESSION | (s.rw ? P.CKF_RW_SESSION : 0);
      const fresh = this.loaded.pkcs11.C_OpenSession(this.slotHandle(slotId), flags);
      s.parked.push(s.handle);
      s.handle = fresh;
      this.logger.warn('A token operation was left active; continuing on a fresh session', { slotId });
      return true;
    } catch {
      return false;
    }
  }

  /** As `call`, naming the mechanism when the token refuses it or its parameters. */
  private callWith<T>(slotId: number, mechanism: CipherMechanism | WrapMechanism, body: () => T): T {
    try {
      return body();
    } catch (error) {
      throw mechanismError(this.fail(error, slotId), mechanism);
    }
  }

  private async callAsync<T>(slotId: number | null, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      throw this.fail(error, slotId);
    }
  }

  /** CKA_ID: 16 bytes from the token's RNG, so IDs are as good as the token's keys. */
  private randomId(slotId: number): Buffer {
    const pkcs11 = this.module();
    const session = this.session(slotId);
    return Buffer.from(this.call(slotId, () => pkcs11.C_GenerateRandom(session.handle, Buffer.alloc(16))));
  }

  private tryFind(slotId: number, id: string, cls: ObjectClass): FoundObject | undefined {
    const pkcs11 = this.module();
    const session = this.session(slotId);
    const found = this.call(slotId, () => findById(pkcs11, session.handle, id, cls));
    if (found.length > 1)
      throw new MkmError('CONFLICT', 'More than one object on the token has this ID.', {
        id,
        class: cls,
        count: found.length,
      });
    return found[0];
  }

  /** The first of `classes` that has an object with this ID. */
  private findOne(slotId: number, id: string, classes: ObjectClass[]): FoundObject {
    for (const cls of classes) {
      const found = this.tryFind(slotId, id, cls);
      if (found) return found;
    }
    throw new MkmError('KEY_NOT_FOUND', undefined, { id, class: classes.join('|') });
  }

  private describeById(slotId: number, id: string, classes: ObjectClass[]): ObjectInfo[] {
    return classes.flatMap((cls) => {
      const found = this.tryFind(slotId, id, cls);
      return found ? [found.info] : [];
    });
  }

  /** Usages the object has that its template set to false ("private:sign"). */
  private usagesBeyond(slotId: number, handle: Handle, asked: AbstractTemplate, half: string): string[] {
    const pkcs11 = this.module();
    const session = this.session(slotId);
    const out: string[] = [];
    for (const [name, wanted] of Object.entries(asked) as [BoolAttr, boolean][]) {
      if (wanted || !USAGES.has(name)) continue;
      const value = this.call(slotId, () => readAttribute(pkcs11, session.handle, handle, BOOL_ATTR[name]));
      if (value?.length && value[0] !== 0) out.push(`${half}:${name}`);
    }
    return out;
  }

  /**
   * Output room for an RSA result: exactly the modulus length. tpm2-pkcs11 reports the whole
   * buffer it was given as the ciphertext's length, so a larger buffer yields a broken answer.
   */
  private rsaRoom(slotId: number, handle: Handle): number {
    const pkcs11 = this.module();
    const session = this.session(slotId);
    try {
      const modulus = readAttribute(pkcs11, session.handle, handle, P.CKA_MODULUS);
      if (modulus?.length) return modulus.length;
    } catch {
      // Unreadable modulus: room for any size.
    }
    return RSA_OUT;
  }

  private rsaPublic(slotId: number, handle: Handle): RsaPublic {
    const pkcs11 = this.module();
    const session = this.session(slotId);
    const [modulus, exponent] = this.call(slotId, () => [
      readAttribute(pkcs11, session.handle, handle, P.CKA_MODULUS),
      readAttribute(pkcs11, session.handle, handle, P.CKA_PUBLIC_EXPONENT),
    ]);
    if (!modulus?.length || !exponent?.length) {
      throw new MkmError('KEY_TYPE_INCONSISTENT', 'This is not an RSA key with a readable public part.');
    }
    return rsaPublicFromComponents(modulus, exponent);
  }

  /**
   * Unwrapped and imported keys are only trusted after their KCV is compared, so a key whose KCV
   * the token cannot compute is removed again rather than left unverified.
   */
  private kcvOrDestroy(slotId: number, handle: Handle, type: SecretKeyType): KcvResult {
    try {
      return this.kcvOf(slotId, handle, type);
    } catch (error) {
      const pkcs11 = this.module();
      const session = this.session(slotId);
      safely(() => pkcs11.C_DestroyObject(session.handle, handle));
      const e = toMkmError(error);
      // A token that failed, went away or dropped the session is not one that lacks the
      // mechanism: the admin must hear what really happened.
      if (TOKEN_STATE_CODES.has(e.code)) throw e;
      throw new MkmError(
        'CAPABILITY_MISSING',
        'The token cannot compute the key check value, so the key was not kept.',
        {
          ...e.details,
          cause: e.code,
        },
      );
    }
  }

  private kcvOf(slotId: number, handle: Handle, type: SecretKeyType): KcvResult {
    const pkcs11 = this.module();
    const session = this.session(slotId);
    const mac = this.call(slotId, () => {
      pkcs11.C_SignInit(session.handle, type === 'aes-256' ? CMAC : HMAC_SHA256, handle);
      return pkcs11.C_Sign(session.handle, ZERO_BLOCK, Buffer.alloc(64));
    });
    return { kcv: mac.subarray(0, 3).toString('hex'), method: type === 'aes-256' ? 'cmac' : 'hmac' };
  }

  private cipher(
    op: 'encrypt' | 'decrypt',
    slotId: number,
    id: string,
    mechanism: CipherMechanism,
    ivB64: string | undefined,
    data: Buffer,
  ): Buffer {
    const pkcs11 = this.module();
    const session = this.session(slotId);
    const key = this.findOne(slotId, id, [keyClassFor(mechanism, op)]);
    const mech = cipherMechanism(mechanism, ivB64 === undefined ? undefined : b64(ivB64));
    const out = Buffer.alloc(
      op === 'encrypt' && isRsaMechanism(mechanism)
        ? this.rsaRoom(slotId, key.handle)
        : Math.max(RSA_OUT, data.length + 16),
    );
    if (data.length === 0 && (op === 'decrypt' || isRsaMechanism(mechanism))) {
      throw new MkmError(
        op === 'decrypt' ? 'ENCRYPTED_DATA_INVALID' : 'DATA_LEN_RANGE',
        op === 'decrypt' ? 'There is no encrypted data.' : 'There is nothing to encrypt.',
      );
    }
    return this.callWith(slotId, mechanism, () => {
      if (op === 'encrypt') {
        pkcs11.C_EncryptInit(session.handle, mech, key.handle);
        // Empty input: see EMPTY_INPUT.
        if (data.length === 0) return Buffer.from(pkcs11.C_EncryptFinal(session.handle, out));
        return Buffer.from(pkcs11.C_Encrypt(session.handle, data, out));
      }
      pkcs11.C_DecryptInit(session.handle, mech, key.handle);
      return Buffer.from(pkcs11.C_Decrypt(session.handle, data, out));
    });
  }
}

const USAGES = new Set<BoolAttr>(['encrypt', 'decrypt', 'wrap', 'unwrap', 'sign', 'verify', 'derive']);
const USAGE_ATTRS = new Set<number>([...USAGES].map((u) => BOOL_ATTR[u]));

/** A template without its usages set to false: what the token then does is its own default. */
function withoutRefusals(template: Template): Template {
  return template.filter((a) => !(USAGE_ATTRS.has(a.type) && a.value === false));
}

const HALF_WORDS: Record<string, string> = { private: 'private key', public: 'public key', secret: 'key' };

/** An exportable key on a token that cannot restrict its export to trusted KEKs. */
export function exportRestrictionMissing(cause?: MkmError, probed?: Capability): MkmError {
  const why = probed?.reason ? ` (${probed.reason})` : '';
  return new MkmError(
    'CAPABILITY_MISSING',
    `This token cannot restrict an exported key to KEKs the security officer marked trusted (export restricted to trusted keys, CKA_WRAP_WITH_TRUSTED)${why}, so mkm makes no exportable keys on it. The key was not made; make it without "exportable", or use a token that keeps the restriction.`,
    {
      capability: 'wrapWithTrusted',
      ...(typeof cause?.details?.ckr === 'string' ? { ckr: cause.details.ckr } : {}),
      ...(probed?.detail ? { detail: probed.detail } : {}),
    },
  );
}

export function keyTemplateRefused(widerUsage: string[], cause: MkmError): MkmError {
  const named = widerUsage
    .map((w) => {
      const [half, usage] = w.split(':');
      return `${usage} on the ${HALF_WORDS[half!] ?? half}`;
    })
    .join(', ');
  return new MkmError(
    'KEY_TEMPLATE_REFUSED',
    `The token refuses mkm's narrow key settings: it insists on ${named}. The key was not kept. To accept the token's wider usage for this key, generate it again with --accept-wider-usage (recorded in the audit log).`,
    { refused: widerUsage, ...(typeof cause.details?.ckr === 'string' ? { ckr: cause.details.ckr } : {}) },
  );
}

const MECHANISM_WORDS: Record<CipherMechanism | WrapMechanism, string> = {
  AES_CBC_PAD: 'AES-CBC with PKCS#7 padding',
  AES_CBC: 'AES-CBC without padding',
  RSA_OAEP_SHA1: 'RSA-OAEP with SHA-1',
  RSA_OAEP_SHA256: 'RSA-OAEP with SHA-256',
  RSA_PKCS: 'RSA PKCS#1 v1.5',
  AES_KEY_WRAP: 'AES key wrap (RFC 3394)',
  AES_KEY_WRAP_PAD: 'AES key wrap with padding',
};

/**
 * A token that lacks a mechanism or a parameter set says so in different ways: SoftHSM2 2.6
 * answers OAEP with SHA-256 by CKR_ARGUMENTS_BAD. With an OAEP mechanism that can only mean the
 * parameters, so the admin is told which operation the token lacks instead of "internal error".
 */
function mechanismError(e: MkmError, mechanism: CipherMechanism | WrapMechanism): MkmError {
  const ckr = e.details?.ckr;
  const unsupported =
    CKR_MEANS.mechanismUnsupported(ckr) || (CKR_MEANS.argumentsBad(ckr) && mechanism.startsWith('RSA_OAEP'));
  if (!unsupported) return e;
  return new MkmError('MECHANISM_UNSUPPORTED', `This token does not support ${MECHANISM_WORDS[mechanism]}.`, {
    ...e.details,
    mechanism,
  });
}

function keyClassFor(mechanism: CipherMechanism, op: 'encrypt' | 'decrypt'): ObjectClass {
  if (!isRsaMechanism(mechanism)) return 'secret';
  return op === 'encrypt' ? 'public' : 'private';
}

function secretTypeOf(info: ObjectInfo): SecretKeyType {
  if (info.keyType === 'aes') return 'aes-256';
  if (info.keyType !== null && HMAC_SHA256_KEY_TYPES.includes(info.keyType)) return 'hmac-256';
  throw new MkmError('KEY_TYPE_INCONSISTENT', 'Only AES and HMAC-SHA256 keys have a check value here.', {
    keyType: info.keyType,
  });
}

function initialize(pkcs11: PKCS11, libraryParameters: string | undefined): void {
  if (libraryParameters !== undefined) {
    pkcs11.C_Initialize({ libraryParameters });
    return;
  }
  try {
    // OS locking: the host may call from libuv worker threads (the *Async functions).
    pkcs11.C_Initialize({ flags: P.CKF_OS_LOCKING_OK });
  } catch (error) {
    const name = toMkmError(error).details?.ckr;
    if (CKR_MEANS.alreadyInitialized(name)) return;
    if (!CKR_MEANS.lockingRefused(name)) throw error;
    pkcs11.C_Initialize();
  }
}

/**
 * A library that does not start says which answer it gave (the CKR name is what its vendor's
 * documentation and support speak of) and what usually helps.
 */
export function initFailureMessage(e: MkmError, withParameters: boolean): string {
  const ckr = typeof e.details?.ckr === 'string' ? e.details.ckr : e.code;
  const hint = CKR_MEANS.argumentsBad(ckr)
    ? withParameters
      ? ' The library refused its initialisation parameters: check them against its documentation.'
      : ' This library may need initialisation parameters: give them with --module-params (or MKM_MODULE_PARAMS), or in Tokens when choosing the library.'
    : CKR_MEANS.libraryUnreachable(ckr)
      ? ' The library could not reach its token or its own configuration (a service not running, a variable not set): see its documentation.'
      : '';
  // CKR_ARGUMENTS_BAD's usual sentence blames the app; at C_Initialize the hint says more.
  const said = CKR_MEANS.argumentsBad(ckr) ? '' : ` ${e.message}`;
  return `${ERROR_SENTENCES.MODULE_INIT_FAILED.replace(/\.$/, '')} (C_Initialize answered ${ckr}).${said}${hint}`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Why dlopen refused a file, in words that never quote more than the path the admin chose. */
function loadFailureReason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  if (/C_GetFunctionList/.test(text))
    return 'the file is a library but not a PKCS#11 library (no C_GetFunctionList)';
  if (
    /invalid ELF header|not a dynamic executable|file too short|position-independent executable|wrong ELF class|not a valid Win32|mach-o/i.test(
      text,
    )
  ) {
    return 'the file is not a loadable library for this system';
  }
  if (/cannot open shared object file|image not found|Library not loaded/i.test(text)) {
    return 'a library it depends on is missing';
  }
  if (/Is a directory/i.test(text)) return 'the path is a folder';
  if (/Permission denied/i.test(text)) return 'permission denied';
  return 'the library could not be loaded';
}

function safely(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // Cleanup of a session or module that is already gone.
  }
}

function appDataTemplate(label: string): Template {
  return [
    { type: P.CKA_CLASS, value: P.CKO_DATA },
    { type: P.CKA_APPLICATION, value: 'mkm' },
    { type: P.CKA_LABEL, value: label },
  ];
}
