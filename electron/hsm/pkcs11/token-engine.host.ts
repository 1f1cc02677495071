import { createVerify } from 'node:crypto';
import { existsSync } from 'node:fs';
import { MkmError } from '../../../shared/errors.std';
import {
  type AppDataResult,
  type BatchResult,
  type CapabilitiesResult,
  type ChangePinParams,
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
  type ReadAppDataParams,
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
  type WrapResult,
  type WriteAppDataParams,
} from '../../../shared/tokens.std';
import { silentLogger, type Logger } from '../../core/logger.nodejs';
import { CKR_MEANS, toMkmError } from './ckr.std';
import { decodeSlotFlags, trimPadded, versionString } from './flags.std';
import { SHA256_RSA_PKCS } from './mechanisms.host';
import { lazyAttributeReader, type AttributeReaderChoice } from './attribute-reader.host';
import { findHandles, listObjectsRaw, readAttribute } from './objects.host';
import { handleToNumber, pkcs11js, type Handle, type PKCS11, type Template } from './pkcs11.host';
import { probeCapabilities } from './probe.host';
import { BatchEncryptor } from './token-engine/batch.host';
import { Ciphers } from './token-engine/ciphers.host';
import { initFailureMessage, moduleInvalid } from './token-engine/errors.std';
import { KeyGeneration } from './token-engine/key-generation.host';
import { kcvOf, RSA_OUT, rsaPublic, secretTypeOf } from './token-engine/key-reads.host';
import { KeyWrap } from './token-engine/key-wrap.host';
import { TokenLogin } from './token-engine/login.host';
import { safely, SessionPool } from './token-engine/session-pool.host';
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
import { CeremonyOps } from './ceremony-ops.host';
// M-of-N shares
import type {
  ShareCheckParams,
  ShareCheckResult,
  ShareRecoverKekParams,
  ShareRevealParams,
  ShareRevealResult,
  ShareSplitKekParams,
  ShareSplitKekResult,
} from '../../../shared/ceremony/share-ops.std';
import { ShareOps } from './share-ops.host';
// TR-31
import type {
  Tr31ExportParams,
  Tr31ExportResult,
  Tr31ImportParams,
  Tr31ImportResult,
} from '../../../shared/ceremony/tr31-ops.std';
import { Tr31Ops } from './tr31-ops.host';
import { wellKnownModules } from './well-known-modules.nodejs';

export interface TokenEngineOptions {
  logger?: Logger;
  /**
   * How the object listing reads attributes: 'auto' takes the one-call reader where the ABI is
   * known and koffi loads (attribute-reader.host.ts), 'pkcs11js' never does. Tests compare the two.
   */
  attributeReader?: AttributeReaderChoice;
}

const P = pkcs11js;

/**
 * The PKCS#11 token service. It runs in the HSM host process (a vendor library that crashes
 * takes only the host down). Every public async method takes one plain object and returns plain
 * JSON; object handles never leave the engine and its parts (they are per-session numbers),
 * objects are named by CKA_ID + class. Params arrive parsed: the host's dispatcher parses each
 * call with its schema in HSM_METHODS (protocol.std.ts) before a method runs, so methods trust
 * their params' shape.
 *
 * PINs and clear key values are used for the one call that needs them and never logged: log
 * calls here pass only non-secret fields, and errors carry CKR codes, never library text.
 *
 * The work is done by its parts in token-engine/ (sessions, logins, key generation, ciphers,
 * batches, key wrap), each over the one SessionPool; this class is the method table's entry
 * point (protocol.std.ts) and keeps the module, slots, objects and app data itself.
 */
export class TokenEngine {
  private readonly pool: SessionPool;
  private readonly logins: TokenLogin;
  private readonly keys: KeyGeneration;
  private readonly ciphers: Ciphers;
  private readonly batch: BatchEncryptor;
  private readonly wrap: KeyWrap;
  /** Key components in ceremonies (issue 11 point 3): ceremony-ops.host.ts. */
  private readonly ceremony: CeremonyOps;
  /** M-of-N shares of a KEK (issue 11 point 5): share-ops.host.ts. */
  private readonly shares: ShareOps;
  /** TR-31 key blocks (issue 11 point 4): tr31-ops.host.ts. */
  private readonly tr31: Tr31Ops;

  private readonly attributeReader: AttributeReaderChoice;

  constructor(options: TokenEngineOptions = {}) {
    this.attributeReader = options.attributeReader ?? 'auto';
    this.pool = new SessionPool(options.logger ?? silentLogger);
    this.logins = new TokenLogin(this.pool);
    this.keys = new KeyGeneration(this.pool, (params) => this.probeCapabilities(params));
    this.ciphers = new Ciphers(this.pool);
    this.batch = new BatchEncryptor(this.pool);
    this.wrap = new KeyWrap(this.pool);
    this.ceremony = new CeremonyOps({
      logger: this.pool.logger,
      pkcs11: () => this.pool.module(),
      session: (slotId) => this.pool.session(slotId).handle,
      call: (slotId, body) => this.pool.call(slotId, body),
      callAsync: (slotId, body) => this.pool.callAsync(slotId, body),
    });
    this.shares = new ShareOps(this.ceremony.forShares());
    this.tr31 = new Tr31Ops({
      logger: this.pool.logger,
      pkcs11: () => this.pool.module(),
      session: (slotId) => this.pool.session(slotId).handle,
      call: (slotId, body) => this.pool.call(slotId, body),
      callAsync: (slotId, body) => this.pool.callAsync(slotId, body),
      find: (slotId, id) => this.pool.findOne(slotId, id, ['secret']),
      ceremony: this.ceremony,
    });
  }

  // ---------------------------------------------------------------- module

  async loadModule(params: LoadModuleParams): Promise<ModuleInfo> {
    const { path, libraryParameters } = params;
    if (this.pool.loaded) await this.unloadModule();
    if (!existsSync(path)) throw new MkmError('MODULE_NOT_FOUND', undefined, { path });

    const pkcs11 = new P.PKCS11();
    try {
      pkcs11.load(path);
    } catch (error) {
      throw moduleInvalid(path, error);
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
      const logger = this.pool.logger;
      this.pool.loaded = {
        pkcs11,
        info,
        ulongWidth: process.platform === 'win32' ? 4 : 8,
        attributes: lazyAttributeReader(path, this.attributeReader, (made) =>
          logger.info('object listing reads attributes', {
            path,
            attributeReads: made.reader ? 'one call' : `pkcs11js (${made.why})`,
          }),
        ),
      };
      logger.info('PKCS#11 module loaded', {
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
    const loaded = this.pool.loaded;
    this.pool.loaded = null;
    if (loaded) {
      this.pool.closeAll(loaded.pkcs11);
      safely(() => loaded.attributes.close());
      safely(() => loaded.pkcs11.C_Finalize());
      safely(() => loaded.pkcs11.close());
      this.pool.logger.info('PKCS#11 module unloaded', { path: loaded.info.path });
    }
    this.pool.forget();
    return { ok: true };
  }

  async getModuleInfo(_params?: EmptyParams): Promise<ModuleInfo | null> {
    return this.pool.loaded?.info ?? null;
  }

  async wellKnownModules(_params?: EmptyParams): Promise<WellKnownModule[]> {
    return wellKnownModules();
  }

  // ---------------------------------------------------------------- slots

  async listSlots(params?: ListSlotsParams): Promise<SlotSummary[]> {
    const { tokenPresent } = params ?? {};
    const pkcs11 = this.pool.module();
    const handles = this.pool.call(null, () => pkcs11.C_GetSlotList(tokenPresent ?? false));
    this.pool.rememberSlots(handles);
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
          token = this.pool.tokenSummary(handle);
        } catch {
          token = null; // removed or unreadable; the next poll tells
        }
      }
      if (!token) this.pool.dropSession(slotId);
      out.push({
        slotId,
        description: trimPadded(info.slotDescription),
        manufacturer: trimPadded(info.manufacturerID),
        firmware: versionString(info.firmwareVersion),
        hardware: versionString(info.hardwareVersion),
        flags,
        removable: flags.removableDevice,
        token,
        session: this.pool.sessionSummary(slotId),
      });
    }
    return out;
  }

  // ---------------------------------------------------------------- login and PINs (login.host.ts)

  async login(params: LoginParams): Promise<LoginResult> {
    return this.logins.login(params);
  }

  async logout(params: SlotParams): Promise<OkResult> {
    return this.logins.logout(params);
  }

  async changePin(params: ChangePinParams): Promise<OkResult> {
    return this.logins.changePin(params);
  }

  async initToken(params: InitTokenParams): Promise<InitTokenResult> {
    return this.logins.initToken(params);
  }

  async initUserPin(params: InitUserPinParams): Promise<OkResult> {
    return this.logins.initUserPin(params);
  }

  // ---------------------------------------------------------------- keys

  async generateKey(params: GenerateKeyParams): Promise<GenerateKeyResult> {
    return this.keys.generateKey(params);
  }

  async importKey(params: ImportKeyParams): Promise<ImportKeyResult> {
    return this.keys.importKey(params);
  }

  async listObjects(params: ListObjectsParams): Promise<ObjectInfo[]> {
    const { slotId, class: cls } = params;
    const reader = (await this.pool.loaded?.attributes.get()) ?? null;
    const pkcs11 = this.pool.module();
    const session = this.pool.session(slotId);
    return this.pool.call(slotId, () =>
      listObjectsRaw(pkcs11, session.handle, cls, [], reader).map((o) => o.info),
    );
  }

  async getObject(params: ObjectRefParams): Promise<ObjectInfo> {
    const { slotId, id, class: cls } = params;
    return this.pool.findOne(slotId, id, [cls]).info;
  }

  async exportPublicKey(params: ExportPublicKeyParams): Promise<ExportPublicKeyResult> {
    const { slotId, id, format } = params;
    const key = this.pool.findOne(slotId, id, ['public', 'private']);
    const pub = rsaPublic(this.pool, slotId, key.handle);
    return format === 'pem'
      ? { format, pem: pub.pem, spkiSha256: pub.spkiSha256, bits: pub.bits }
      : { format, jwk: { ...pub.jwk, kid: id }, spkiSha256: pub.spkiSha256, bits: pub.bits };
  }

  async createCsr(params: CreateCsrParams): Promise<CsrResult> {
    const { slotId, id, subject } = params;
    const pkcs11 = this.pool.module();
    const session = this.pool.session(slotId);
    const priv = this.pool.findOne(slotId, id, ['private']);
    if (priv.info.keyType !== 'rsa')
      throw new MkmError('KEY_TYPE_INCONSISTENT', undefined, { keyType: priv.info.keyType });
    const pub = rsaPublic(this.pool, slotId, this.pool.tryFind(slotId, id, 'public')?.handle ?? priv.handle);
    const { csrAssemble, csrToBeSigned } = await import('./csr.nodejs');
    const { cri, toBeSigned } = csrToBeSigned(pub, subject);
    const signature = this.pool.call(slotId, () => {
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
    this.pool.logger.info('CSR created', { slotId, keyId: id, spkiSha256: pub.spkiSha256 });
    return { pem: csrAssemble(cri, signature), spkiSha256: pub.spkiSha256 };
  }

  async kcv(params: KeyRefParams): Promise<KcvResult> {
    const { slotId, id } = params;
    const key = this.pool.findOne(slotId, id, ['secret']);
    return kcvOf(this.pool, slotId, key.handle, secretTypeOf(key.info));
  }

  // ---------------------------------------------------------------- ciphers (ciphers.host.ts, batch.host.ts, key-wrap.host.ts)

  async encrypt(params: CipherParams): Promise<DataResult> {
    return this.ciphers.encrypt(params);
  }

  async decrypt(params: CipherParams): Promise<DataResult> {
    return this.ciphers.decrypt(params);
  }

  async hmacSign(params: HmacSignParams): Promise<MacResult> {
    return this.ciphers.hmacSign(params);
  }

  async hmacVerify(params: HmacVerifyParams): Promise<VerifyResult> {
    return this.ciphers.hmacVerify(params);
  }

  async sign(params: SignParams): Promise<SignatureResult> {
    return this.ciphers.sign(params);
  }

  async encryptBatch(params: EncryptBatchParams): Promise<BatchResult> {
    return this.batch.encryptBatch(params);
  }

  async wrapKey(params: WrapKeyParams): Promise<WrapResult> {
    return this.wrap.wrapKey(params);
  }

  async unwrapKey(params: UnwrapKeyParams): Promise<UnwrapKeyResult> {
    return this.wrap.unwrapKey(params);
  }

  // ---------------------------------------------------------------- objects and app data

  async destroyObject(params: DestroyObjectParams): Promise<DestroyResult> {
    const { slotId, id, class: cls, confirm } = params;
    if (confirm !== true)
      throw new MkmError('CONFIRMATION_REQUIRED', 'Deleting a key cannot be undone; confirm it.', {
        id,
        class: cls,
      });
    const pkcs11 = this.pool.module();
    const session = this.pool.session(slotId);
    const obj = this.pool.findOne(slotId, id, [cls]);
    this.pool.call(slotId, () => pkcs11.C_DestroyObject(session.handle, obj.handle));
    this.pool.logger.info('Object destroyed', { slotId, keyId: id, class: cls, label: obj.info.label });
    return { destroyed: 1 };
  }

  async generateRandom(params: GenerateRandomParams): Promise<DataResult> {
    const { slotId, length } = params;
    const pkcs11 = this.pool.module();
    const session = this.pool.session(slotId);
    return {
      data: this.pool
        .call(slotId, () => pkcs11.C_GenerateRandom(session.handle, Buffer.alloc(length)))
        .toString('base64'),
    };
  }

  /** The values of the app's private data objects with this label (see ReadAppDataParamsSchema). */
  async readAppData(params: ReadAppDataParams): Promise<AppDataResult> {
    const { slotId, label } = params;
    const pkcs11 = this.pool.module();
    const session = this.pool.session(slotId);
    const handles = this.pool.call(slotId, () => findHandles(pkcs11, session.handle, appDataTemplate(label)));
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
    const pkcs11 = this.pool.module();
    const session = this.pool.session(slotId);
    const old = this.pool.call(slotId, () => findHandles(pkcs11, session.handle, appDataTemplate(label)));
    this.pool.call(slotId, () =>
      pkcs11.C_CreateObject(session.handle, [
        ...appDataTemplate(label),
        { type: P.CKA_TOKEN, value: true },
        { type: P.CKA_PRIVATE, value: true },
        { type: P.CKA_VALUE, value: Buffer.from(value, 'base64') },
      ]),
    );
    for (const h of old) this.pool.call(slotId, () => pkcs11.C_DestroyObject(session.handle, h));
    return { ok: true };
  }

  async probeCapabilities(params: SlotParams): Promise<CapabilitiesResult> {
    const { slotId } = params;
    const pkcs11 = this.pool.module();
    const session = this.pool.session(slotId);
    const slot = this.pool.slotHandle(slotId);
    const token = this.pool.tokenSummary(slot);
    const flags = P.CKF_SERIAL_SESSION | (session.rw ? P.CKF_RW_SESSION : 0);
    const result = await probeCapabilities({
      pkcs11,
      openSession: () => pkcs11.C_OpenSession(slot, flags),
      slot,
      token,
    });
    if (result.aesKeyWrapPadMechanism !== undefined) this.pool.kwp.set(slotId, result.aesKeyWrapPadMechanism);
    this.pool.exportRestriction.set(slotId, result.capabilities.wrapWithTrusted);
    this.pool.logger.info('Token capabilities probed', { slotId, cacheKey: result.cacheKey });
    return result;
  }

  /**
   * In-process access for benchmarks and tests only (the `_` prefix keeps it off the wire):
   * the same module and session the service uses, since a process can initialize a module once.
   */
  _raw(slotId: number): { pkcs11: PKCS11; session: Handle; find(id: string, cls: ObjectClass): Handle } {
    const pkcs11 = this.pool.module();
    const session = this.pool.session(slotId);
    return {
      pkcs11,
      session: session.handle,
      find: (id, cls) => this.pool.findOne(slotId, id, [cls]).handle,
    };
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

  async formKeyFromComponents(params: FormKeyFromComponentsParams): Promise<FormKeyResult> {
    return this.ceremony.formKeyFromComponents(params);
  }

  async splitKey(params: SplitKeyParams): Promise<SplitKeyResult> {
    return this.ceremony.splitKey(params);
  }

  async revealComponent(params: RevealComponentParams): Promise<RevealComponentResult> {
    return this.ceremony.revealComponent(params);
  }

  // ---------------------------------------------------------------- M-of-N shares (share-ops.host.ts)

  async shareSplitKek(params: ShareSplitKekParams): Promise<ShareSplitKekResult> {
    return this.shares.shareSplitKek(params);
  }

  async shareReveal(params: ShareRevealParams): Promise<ShareRevealResult> {
    return this.shares.shareReveal(params);
  }

  async shareCheck(params: ShareCheckParams): Promise<ShareCheckResult> {
    return this.shares.shareCheck(params);
  }

  async shareRecoverKek(params: ShareRecoverKekParams): Promise<CeremonyKeyResult & { backupId: string }> {
    return this.shares.shareRecoverKek(params);
  }

  // ---------------------------------------------------------------- TR-31 (tr31-ops.host.ts)

  async tr31Export(params: Tr31ExportParams): Promise<Tr31ExportResult> {
    return this.tr31.tr31Export(params);
  }

  async tr31Import(params: Tr31ImportParams): Promise<Tr31ImportResult> {
    return this.tr31.tr31Import(params);
  }
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

function appDataTemplate(label: string): Template {
  return [
    { type: P.CKA_CLASS, value: P.CKO_DATA },
    { type: P.CKA_APPLICATION, value: 'mkm' },
    { type: P.CKA_LABEL, value: label },
  ];
}
