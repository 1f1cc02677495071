import { MkmError } from '../../../../shared/errors.std';
import {
  type Capability,
  type CipherMechanism,
  type ModuleInfo,
  type ObjectClass,
  type ObjectInfo,
  type SlotSummary,
  type TokenSummary,
  type WrapMechanism,
} from '../../../../shared/tokens.std';
import { type Logger } from '../../../core/logger.nodejs';
import { toMkmError } from '../ckr.std';
import { countOrNull, decodeTokenFlags, trimPadded, versionString } from '../flags.std';
import { findById, type FoundObject } from '../objects.host';
import { handleToNumber, pkcs11js, type Handle, type PKCS11 } from '../pkcs11.host';
import { mechanismError, sessionGone } from './errors.std';
import type { LazyAttributeReader } from '../attribute-reader.host';

const P = pkcs11js;
// CK_STATE values (PKCS#11 §5.7); pkcs11js does not export them.
const CKS_RO_USER_FUNCTIONS = 1;
const CKS_RW_USER_FUNCTIONS = 3;
const CKS_RW_SO_FUNCTIONS = 4;

export interface Loaded {
  pkcs11: PKCS11;
  info: ModuleInfo;
  /** sizeof(CK_ULONG) as this module's handles show it. */
  ulongWidth: number;
  /**
   * One-call attribute reads for the object listing, made on the first listing (koffi and its
   * dlopen cost ~10 ms, which a command that lists nothing should not pay at module load); its
   * `get()` answers null where pkcs11js reads.
   */
  attributes: LazyAttributeReader;
}

export interface OpenSession {
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

export type SessionUser = 'user' | 'so' | null;

/**
 * The sessions of TokenEngine: the loaded module, one R/W session per slot (so a login lasts
 * across calls), what this host learned of each slot, and the calls that run PKCS#11 functions on
 * them, converting errors. Object handles never leave it and the engine's parts; objects are named
 * by CKA_ID + class.
 */
export class SessionPool {
  loaded: Loaded | null = null;
  private readonly sessions = new Map<number, OpenSession>();
  private readonly slotHandles = new Map<number, Handle>();
  /** Per slot, the mechanism a probe found doing RFC 5649 (see KeyWrap.kwpMechanism). */
  readonly kwp = new Map<number, number>();
  /** Per slot, whether the probe found exports restricted to trusted KEKs (see exportAllowed). */
  readonly exportRestriction = new Map<number, Capability>();

  constructor(readonly logger: Logger) {}

  /** Closes every session (their session objects go with them): the module is going away. */
  closeAll(pkcs11: PKCS11): void {
    for (const s of this.sessions.values()) {
      for (const h of [s.handle, ...s.parked]) safely(() => pkcs11.C_CloseSession(h));
    }
  }

  /** Forgets every slot, session and probe finding (after closeAll). */
  forget(): void {
    this.sessions.clear();
    this.slotHandles.clear();
    this.kwp.clear();
    this.exportRestriction.clear();
  }

  module(): PKCS11 {
    if (!this.loaded) throw new MkmError('NO_MODULE');
    return this.loaded.pkcs11;
  }

  rememberSlots(handles: Handle[]): void {
    if (this.loaded && handles[0]) this.loaded.ulongWidth = handles[0].length;
    for (const h of handles) this.slotHandles.set(handleToNumber(h), h);
  }

  slotHandle(slotId: number): Handle {
    const known = this.slotHandles.get(slotId);
    if (known) return known;
    const pkcs11 = this.module();
    this.rememberSlots(this.call(null, () => pkcs11.C_GetSlotList(false)));
    const found = this.slotHandles.get(slotId);
    if (!found) throw new MkmError('SLOT_NOT_FOUND', undefined, { slotId });
    return found;
  }

  session(slotId: number): OpenSession {
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

  /** The slot's session when one is open; none is opened for the asking. */
  opened(slotId: number): OpenSession | undefined {
    return this.sessions.get(slotId);
  }

  dropSession(slotId: number): void {
    const s = this.sessions.get(slotId);
    if (!s) return;
    this.sessions.delete(slotId);
    const pkcs11 = this.loaded?.pkcs11;
    if (pkcs11) for (const h of [s.handle, ...s.parked]) safely(() => pkcs11.C_CloseSession(h));
  }

  sessionUser(slotId: number): SessionUser {
    const s = this.sessions.get(slotId);
    if (!s || !this.loaded) return null;
    const pkcs11 = this.loaded.pkcs11;
    const state = this.call(slotId, () => pkcs11.C_GetSessionInfo(s.handle).state);
    if (state === CKS_RW_SO_FUNCTIONS) return 'so';
    if (state === CKS_RW_USER_FUNCTIONS || state === CKS_RO_USER_FUNCTIONS) return 'user';
    return s.noLogin ? 'user' : null;
  }

  sessionSummary(slotId: number): SlotSummary['session'] {
    if (!this.sessions.has(slotId)) return { open: false, loggedIn: false, userType: null };
    try {
      const user = this.sessionUser(slotId);
      return { open: true, loggedIn: user !== null, userType: user };
    } catch {
      return { open: false, loggedIn: false, userType: null };
    }
  }

  tokenSummary(slot: Handle): TokenSummary {
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

  fail(error: unknown, slotId: number | null): MkmError {
    const e = toMkmError(error);
    if (slotId !== null && (sessionGone(e) || e.code === 'SLOT_NOT_FOUND')) {
      this.dropSession(slotId);
    }
    return e;
  }

  /**
   * Runs PKCS#11 calls, converting errors. A session a library left with an active operation
   * (CKR_OPERATION_ACTIVE on the next call) is replaced once and the call retried; the old session
   * is parked, not closed, because closing it would destroy the session keys it created.
   */
  call<T>(slotId: number | null, body: () => T): T {
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
  callWith<T>(slotId: number, mechanism: CipherMechanism | WrapMechanism, body: () => T): T {
    try {
      return body();
    } catch (error) {
      throw mechanismError(this.fail(error, slotId), mechanism);
    }
  }

  async callAsync<T>(slotId: number | null, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      throw this.fail(error, slotId);
    }
  }

  /** CKA_ID: 16 bytes from the token's RNG, so IDs are as good as the token's keys. */
  randomId(slotId: number): Buffer {
    const pkcs11 = this.module();
    const session = this.session(slotId);
    return Buffer.from(this.call(slotId, () => pkcs11.C_GenerateRandom(session.handle, Buffer.alloc(16))));
  }

  tryFind(slotId: number, id: string, cls: ObjectClass): FoundObject | undefined {
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
  findOne(slotId: number, id: string, classes: ObjectClass[]): FoundObject {
    for (const cls of classes) {
      const found = this.tryFind(slotId, id, cls);
      if (found) return found;
    }
    throw new MkmError('KEY_NOT_FOUND', undefined, { id, class: classes.join('|') });
  }

  describeById(slotId: number, id: string, classes: ObjectClass[]): ObjectInfo[] {
    return classes.flatMap((cls) => {
      const found = this.tryFind(slotId, id, cls);
      return found ? [found.info] : [];
    });
  }
}

export function safely(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // Cleanup of a session or module that is already gone.
  }
}
