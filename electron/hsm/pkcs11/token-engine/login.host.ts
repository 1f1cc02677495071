import { ERROR_SENTENCES, MkmError } from '../../../../shared/errors.std';
import {
  type ChangePinParams,
  type InitTokenParams,
  type InitTokenResult,
  type InitUserPinParams,
  type LoginParams,
  type LoginResult,
  type OkResult,
  type SlotParams,
} from '../../../../shared/tokens.std';
import { toMkmError } from '../ckr.std';
import { pinStateOf } from '../flags.std';
import { pkcs11js } from '../pkcs11.host';
import { sessionGone } from './errors.std';
import { safely, type SessionUser, type SessionPool } from './session-pool.host';

const P = pkcs11js;

/** Logging in and out of a slot's session, and the PINs: change, token and user PIN set-up. */
export class TokenLogin {
  constructor(private readonly pool: SessionPool) {}

  async login(params: LoginParams): Promise<LoginResult> {
    const { slotId, pin, userType = 'user' } = params;
    const pkcs11 = this.pool.module();
    let session = this.pool.session(slotId);
    let current: SessionUser;
    try {
      current = this.pool.sessionUser(slotId);
    } catch (error) {
      // The token was pulled and put back since the last call: its old session is gone, and
      // logging in is exactly what the admin does next, so start over on a fresh session.
      const e = toMkmError(error);
      if (!sessionGone(e)) throw e;
      this.pool.dropSession(slotId);
      session = this.pool.session(slotId);
      current = null;
    }
    if (current === userType) return { slotId, loggedIn: true, userType };
    if (current !== null) this.pool.call(slotId, () => pkcs11.C_Logout(session.handle));
    const flags = this.pool.tokenSummary(this.pool.slotHandle(slotId)).flags;
    // A PIN typed anyway (the desktop dialog asks for one) changes nothing: the token grants its
    // use without one, and NSS would answer it with CKR_PIN_INCORRECT.
    if (userType === 'user' && !flags.loginRequired) {
      session.noLogin = true;
      this.pool.logger.info('Token needs no login: using it without a PIN', {
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
    this.pool.logger.info('Logged in to token', { slotId, userType });
    return { slotId, loggedIn: true, userType };
  }

  async logout(params: SlotParams): Promise<OkResult> {
    const { slotId } = params;
    const pkcs11 = this.pool.module();
    const session = this.pool.opened(slotId);
    if (session?.noLogin) {
      // Nothing to log out of: closing the session ends the use without a PIN.
      this.pool.dropSession(slotId);
    } else if (session) {
      try {
        pkcs11.C_Logout(session.handle);
      } catch (error) {
        const e = toMkmError(error, { fn: 'C_Logout' });
        if (sessionGone(e)) this.pool.dropSession(slotId);
        else if (e.code !== 'NOT_LOGGED_IN') throw e;
      }
    }
    this.pool.logger.info('Logged out of token', { slotId });
    return { ok: true };
  }

  async changePin(params: ChangePinParams): Promise<OkResult> {
    const { slotId, oldPin, newPin } = params;
    const pkcs11 = this.pool.module();
    const session = this.pool.session(slotId);
    // C_SetPIN changes the logged-in user's PIN, or the user PIN in a public session.
    const who = this.pool.sessionUser(slotId) ?? 'user';
    try {
      pkcs11.C_SetPIN(session.handle, oldPin, newPin);
    } catch (error) {
      throw this.withPinState(slotId, toMkmError(error, { fn: 'C_SetPIN' }), who);
    }
    this.pool.logger.info('PIN changed', { slotId, userType: who });
    return { ok: true };
  }

  async initToken(params: InitTokenParams): Promise<InitTokenResult> {
    const { slotId, soPin, label } = params;
    const pkcs11 = this.pool.module();
    const slot = this.pool.slotHandle(slotId);
    // CK_UTF8CHAR[32], blank padded: pkcs11js passes a C string, and the token reads 32 bytes.
    if (Buffer.byteLength(label, 'utf8') > 32) {
      throw new MkmError('VALIDATION', 'The token label can be at most 32 bytes.', { field: 'label' });
    }
    const padded = label + ' '.repeat(32 - Buffer.byteLength(label, 'utf8'));
    // C_InitToken fails with CKR_SESSION_EXISTS while any session is open on the slot.
    this.pool.dropSession(slotId);
    safely(() => pkcs11.C_CloseAllSessions(slot));
    try {
      pkcs11.C_InitToken(slot, soPin, padded);
    } catch (error) {
      throw this.withPinState(slotId, toMkmError(error, { fn: 'C_InitToken' }), 'so');
    }
    const token = this.pool.tokenSummary(slot);
    this.pool.logger.info('Token initialized', { slotId, label: token.label, serial: token.serial });
    return { slotId, label: token.label, serial: token.serial };
  }

  async initUserPin(params: InitUserPinParams): Promise<OkResult> {
    const { slotId, soPin, userPin } = params;
    const pkcs11 = this.pool.module();
    const session = this.pool.session(slotId);
    if (this.pool.sessionUser(slotId) === 'user' && !session.noLogin)
      this.pool.call(slotId, () => pkcs11.C_Logout(session.handle));
    if (this.pool.sessionUser(slotId) !== 'so') {
      try {
        pkcs11.C_Login(session.handle, P.CKU_SO, soPin);
      } catch (error) {
        const e = toMkmError(error, { fn: 'C_Login' });
        if (e.code !== 'ALREADY_LOGGED_IN') throw this.withPinState(slotId, e, 'so');
      }
    }
    try {
      this.pool.call(slotId, () => pkcs11.C_InitPIN(session.handle, userPin));
    } finally {
      safely(() => pkcs11.C_Logout(session.handle));
    }
    this.pool.logger.info('User PIN initialized by the security officer', { slotId });
    return { ok: true };
  }

  /** The token's PIN flags read right after a failed PIN, so the UI can warn in order. */
  private withPinState(slotId: number, e: MkmError, who: 'user' | 'so'): MkmError {
    if (sessionGone(e)) this.pool.dropSession(slotId);
    if (e.code !== 'PIN_INCORRECT' && e.code !== 'PIN_LOCKED') return e;
    try {
      const state = pinStateOf(this.pool.tokenSummary(this.pool.slotHandle(slotId)).flags, who);
      this.pool.logger.warn('Wrong PIN', { slotId, userType: who, ...state });
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
}
