import { MkmError, type ErrorCode } from '../../../shared/errors.std';

/**
 * Every CKR_* return value of PKCS#11 v2.40 and v3.0 (plus v3.1's CKR_KEY_EXHAUSTED, which some
 * 3.x modules already return), each mapped to the domain code the app acts on and a sentence a
 * merchant admin can act on. The raw name and value travel in MkmError.details for support.
 *
 * One table, no switch: a unit test proves every value and name is unique and present.
 */
export interface CkrEntry {
  value: number;
  name: string;
  code: ErrorCode;
  sentence: string;
}

const E = (value: number, name: string, code: ErrorCode, sentence: string): CkrEntry => ({
  value,
  name,
  code,
  sentence,
});

const SUPPORT = 'If it happens again, send the log to support.';

export const CKR_TABLE: readonly CkrEntry[] = [
  E(0x00, 'CKR_OK', 'INTERNAL', 'The token reported success, but the app treated it as an error.'),
  E(0x01, 'CKR_CANCEL', 'CANCELLED', 'The operation was cancelled on the token.'),
  E(
    0x02,
    'CKR_HOST_MEMORY',
    'FUNCTION_FAILED',
    'This computer ran out of memory while talking to the token.',
  ),
  E(0x03, 'CKR_SLOT_ID_INVALID', 'SLOT_NOT_FOUND', 'The slot no longer exists. Refresh the token list.'),
  E(
    0x05,
    'CKR_GENERAL_ERROR',
    'FUNCTION_FAILED',
    `The token library reported an unrecoverable error. ${SUPPORT}`,
  ),
  E(0x06, 'CKR_FUNCTION_FAILED', 'FUNCTION_FAILED', 'The token could not complete the operation.'),
  E(0x07, 'CKR_ARGUMENTS_BAD', 'INTERNAL', `The app sent the token a malformed request. ${SUPPORT}`),
  E(0x08, 'CKR_NO_EVENT', 'PKCS11_ERROR', 'No token was inserted or removed.'),
  E(
    0x09,
    'CKR_NEED_TO_CREATE_THREADS',
    'MODULE_INIT_FAILED',
    'The token library needs threads it was not allowed to create.',
  ),
  E(
    0x0a,
    'CKR_CANT_LOCK',
    'MODULE_INIT_FAILED',
    'The token library cannot run safely in this app (locking not supported).',
  ),
  E(
    0x10,
    'CKR_ATTRIBUTE_READ_ONLY',
    'TEMPLATE_INVALID',
    'The token does not allow that key setting to be changed.',
  ),
  E(
    0x11,
    'CKR_ATTRIBUTE_SENSITIVE',
    'KEY_NOT_EXTRACTABLE',
    'That key value is secret and cannot be read from the token.',
  ),
  E(
    0x12,
    'CKR_ATTRIBUTE_TYPE_INVALID',
    'TEMPLATE_INVALID',
    'The token does not know one of the key settings the app used.',
  ),
  E(0x13, 'CKR_ATTRIBUTE_VALUE_INVALID', 'TEMPLATE_INVALID', 'The token rejected one of the key settings.'),
  E(0x1b, 'CKR_ACTION_PROHIBITED', 'KEY_NOT_PERMITTED', 'The token policy forbids this action.'),
  E(0x20, 'CKR_DATA_INVALID', 'DATA_INVALID', 'The data is not valid for this operation.'),
  E(0x21, 'CKR_DATA_LEN_RANGE', 'DATA_LEN_RANGE', 'The data is too long or too short for this operation.'),
  E(
    0x30,
    'CKR_DEVICE_ERROR',
    'DEVICE_ERROR',
    'The token reported a hardware error. Reinsert it and try again.',
  ),
  E(
    0x31,
    'CKR_DEVICE_MEMORY',
    'TOKEN_FULL',
    'The token ran out of memory; it may be full. Delete keys you no longer need.',
  ),
  E(
    0x32,
    'CKR_DEVICE_REMOVED',
    'TOKEN_REMOVED',
    'The token was removed during the operation. Insert it and log in again.',
  ),
  E(
    0x40,
    'CKR_ENCRYPTED_DATA_INVALID',
    'ENCRYPTED_DATA_INVALID',
    'The encrypted data could not be decrypted with this key.',
  ),
  E(
    0x41,
    'CKR_ENCRYPTED_DATA_LEN_RANGE',
    'ENCRYPTED_DATA_INVALID',
    'The encrypted data has the wrong length for this key.',
  ),
  E(
    0x42,
    'CKR_AEAD_DECRYPT_FAILED',
    'ENCRYPTED_DATA_INVALID',
    'The encrypted data failed its integrity check.',
  ),
  E(0x50, 'CKR_FUNCTION_CANCELED', 'CANCELLED', 'The operation was cancelled.'),
  E(
    0x51,
    'CKR_FUNCTION_NOT_PARALLEL',
    'MECHANISM_UNSUPPORTED',
    'The token cannot run this operation in the background.',
  ),
  E(
    0x54,
    'CKR_FUNCTION_NOT_SUPPORTED',
    'MECHANISM_UNSUPPORTED',
    'The token library does not support this operation.',
  ),
  E(0x60, 'CKR_KEY_HANDLE_INVALID', 'KEY_NOT_FOUND', 'The key is no longer available on the token.'),
  E(0x62, 'CKR_KEY_SIZE_RANGE', 'KEY_SIZE_RANGE', 'The token does not support this key size.'),
  E(
    0x63,
    'CKR_KEY_TYPE_INCONSISTENT',
    'KEY_TYPE_INCONSISTENT',
    'This kind of key cannot be used for that operation.',
  ),
  E(0x64, 'CKR_KEY_NOT_NEEDED', 'INTERNAL', `The app gave the token a key it did not need. ${SUPPORT}`),
  E(0x65, 'CKR_KEY_CHANGED', 'KEY_NOT_FOUND', 'The key changed on the token during the operation.'),
  E(0x66, 'CKR_KEY_NEEDED', 'INTERNAL', `The token needed a key the app did not give. ${SUPPORT}`),
  E(0x67, 'CKR_KEY_INDIGESTIBLE', 'KEY_TYPE_INCONSISTENT', 'The token cannot use this key for a digest.'),
  E(
    0x68,
    'CKR_KEY_FUNCTION_NOT_PERMITTED',
    'KEY_NOT_PERMITTED',
    'The key is not allowed to be used for that operation.',
  ),
  E(
    0x69,
    'CKR_KEY_NOT_WRAPPABLE',
    'KEY_NOT_EXTRACTABLE',
    'This key cannot be exported with that wrapping key.',
  ),
  E(0x6a, 'CKR_KEY_UNEXTRACTABLE', 'KEY_NOT_EXTRACTABLE', 'This key is marked as never leaving the token.'),
  E(0x70, 'CKR_MECHANISM_INVALID', 'MECHANISM_UNSUPPORTED', 'The token does not support this algorithm.'),
  E(
    0x71,
    'CKR_MECHANISM_PARAM_INVALID',
    'MECHANISM_PARAM_INVALID',
    'The token rejected the parameters of this algorithm.',
  ),
  E(0x82, 'CKR_OBJECT_HANDLE_INVALID', 'KEY_NOT_FOUND', 'The key or object is no longer on the token.'),
  E(
    0x90,
    'CKR_OPERATION_ACTIVE',
    'OPERATION_ACTIVE',
    'Another operation is still running on the token. Try again.',
  ),
  E(
    0x91,
    'CKR_OPERATION_NOT_INITIALIZED',
    'INTERNAL',
    `The token was asked to finish an operation it never started. ${SUPPORT}`,
  ),
  E(0xa0, 'CKR_PIN_INCORRECT', 'PIN_INCORRECT', 'The PIN is incorrect.'),
  E(0xa1, 'CKR_PIN_INVALID', 'PIN_INVALID', 'The PIN contains characters the token does not accept.'),
  E(0xa2, 'CKR_PIN_LEN_RANGE', 'PIN_LEN_RANGE', 'The PIN is too short or too long for this token.'),
  E(0xa3, 'CKR_PIN_EXPIRED', 'PIN_EXPIRED', 'The PIN has expired and must be changed.'),
  E(
    0xa4,
    'CKR_PIN_LOCKED',
    'PIN_LOCKED',
    'The PIN is locked after too many wrong tries. A security officer must unlock it.',
  ),
  E(0xb0, 'CKR_SESSION_CLOSED', 'SESSION_CLOSED', 'The session with the token was closed. Log in again.'),
  E(
    0xb1,
    'CKR_SESSION_COUNT',
    'SESSION_LIMIT',
    'The token has too many open sessions. Close other apps that use it.',
  ),
  E(0xb3, 'CKR_SESSION_HANDLE_INVALID', 'SESSION_CLOSED', 'The session with the token ended. Log in again.'),
  E(
    0xb4,
    'CKR_SESSION_PARALLEL_NOT_SUPPORTED',
    'MODULE_INIT_FAILED',
    'The token library does not support this app’s way of opening sessions.',
  ),
  E(
    0xb5,
    'CKR_SESSION_READ_ONLY',
    'TOKEN_WRITE_PROTECTED',
    'The session cannot change the token (read-only).',
  ),
  E(
    0xb6,
    'CKR_SESSION_EXISTS',
    'CONFLICT',
    'A session is still open on the token, so it cannot be initialized now.',
  ),
  E(
    0xb7,
    'CKR_SESSION_READ_ONLY_EXISTS',
    'CONFLICT',
    'A read-only session is open, so the security officer cannot log in.',
  ),
  E(
    0xb8,
    'CKR_SESSION_READ_WRITE_SO_EXISTS',
    'CONFLICT',
    'The security officer is logged in, so this session cannot be opened.',
  ),
  E(0xc0, 'CKR_SIGNATURE_INVALID', 'SIGNATURE_INVALID', 'The signature or MAC does not match.'),
  E(0xc1, 'CKR_SIGNATURE_LEN_RANGE', 'SIGNATURE_INVALID', 'The signature or MAC has the wrong length.'),
  E(
    0xd0,
    'CKR_TEMPLATE_INCOMPLETE',
    'TEMPLATE_INVALID',
    'The token needs a key setting the app did not give.',
  ),
  E(
    0xd1,
    'CKR_TEMPLATE_INCONSISTENT',
    'TEMPLATE_INVALID',
    'The token rejected a combination of key settings.',
  ),
  E(
    0xe0,
    'CKR_TOKEN_NOT_PRESENT',
    'TOKEN_REMOVED',
    'No token is inserted in the slot. Insert it and try again.',
  ),
  E(0xe1, 'CKR_TOKEN_NOT_RECOGNIZED', 'TOKEN_NOT_RECOGNIZED', 'The token is not recognized by its library.'),
  E(0xe2, 'CKR_TOKEN_WRITE_PROTECTED', 'TOKEN_WRITE_PROTECTED', 'The token is write-protected.'),
  E(0xf0, 'CKR_UNWRAPPING_KEY_HANDLE_INVALID', 'KEY_NOT_FOUND', 'The unwrapping key is not on the token.'),
  E(
    0xf1,
    'CKR_UNWRAPPING_KEY_SIZE_RANGE',
    'KEY_SIZE_RANGE',
    'The unwrapping key has a size the token cannot use.',
  ),
  E(
    0xf2,
    'CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT',
    'KEY_TYPE_INCONSISTENT',
    'That key cannot unwrap with this algorithm.',
  ),
  E(0x100, 'CKR_USER_ALREADY_LOGGED_IN', 'ALREADY_LOGGED_IN', 'You are already logged in to the token.'),
  E(0x101, 'CKR_USER_NOT_LOGGED_IN', 'NOT_LOGGED_IN', 'Log in to the token first.'),
  E(
    0x102,
    'CKR_USER_PIN_NOT_INITIALIZED',
    'PIN_LOCKED',
    'The token has no user PIN yet. A security officer must set one.',
  ),
  E(0x103, 'CKR_USER_TYPE_INVALID', 'USER_TYPE_INVALID', 'That kind of login is not possible.'),
  E(
    0x104,
    'CKR_USER_ANOTHER_ALREADY_LOGGED_IN',
    'CONFLICT',
    'Someone else is logged in to the token. Log them out first.',
  ),
  E(0x105, 'CKR_USER_TOO_MANY_TYPES', 'CONFLICT', 'The token allows no more logged-in users.'),
  E(
    0x110,
    'CKR_WRAPPED_KEY_INVALID',
    'KEY_UNWRAPPABLE',
    'The wrapped key could not be unwrapped; it may be damaged or for another key.',
  ),
  E(0x112, 'CKR_WRAPPED_KEY_LEN_RANGE', 'KEY_UNWRAPPABLE', 'The wrapped key has the wrong length.'),
  E(0x113, 'CKR_WRAPPING_KEY_HANDLE_INVALID', 'KEY_NOT_FOUND', 'The wrapping key is not on the token.'),
  E(
    0x114,
    'CKR_WRAPPING_KEY_SIZE_RANGE',
    'KEY_SIZE_RANGE',
    'The wrapping key has a size the token cannot use.',
  ),
  E(
    0x115,
    'CKR_WRAPPING_KEY_TYPE_INCONSISTENT',
    'KEY_TYPE_INCONSISTENT',
    'That key cannot wrap with this algorithm.',
  ),
  E(
    0x120,
    'CKR_RANDOM_SEED_NOT_SUPPORTED',
    'RANDOM_UNAVAILABLE',
    'The token does not accept extra random seed.',
  ),
  E(0x121, 'CKR_RANDOM_NO_RNG', 'RANDOM_UNAVAILABLE', 'The token has no random number generator.'),
  E(0x130, 'CKR_DOMAIN_PARAMS_INVALID', 'TEMPLATE_INVALID', 'The token rejected the key parameters.'),
  E(0x140, 'CKR_CURVE_NOT_SUPPORTED', 'MECHANISM_UNSUPPORTED', 'The token does not support this curve.'),
  E(
    0x150,
    'CKR_BUFFER_TOO_SMALL',
    'INTERNAL',
    `The app gave the token too little room for its answer. ${SUPPORT}`,
  ),
  E(0x160, 'CKR_SAVED_STATE_INVALID', 'FUNCTION_FAILED', 'The token could not resume a saved operation.'),
  E(
    0x170,
    'CKR_INFORMATION_SENSITIVE',
    'KEY_NOT_EXTRACTABLE',
    'That information is secret and stays on the token.',
  ),
  E(0x180, 'CKR_STATE_UNSAVEABLE', 'FUNCTION_FAILED', 'The token cannot save the state of this operation.'),
  E(0x190, 'CKR_CRYPTOKI_NOT_INITIALIZED', 'NO_MODULE', 'The token library is not started. Load it again.'),
  E(
    0x191,
    'CKR_CRYPTOKI_ALREADY_INITIALIZED',
    'MODULE_INIT_FAILED',
    'The token library is already in use by this app.',
  ),
  E(0x1a0, 'CKR_MUTEX_BAD', 'MODULE_INIT_FAILED', `The token library reported a locking error. ${SUPPORT}`),
  E(
    0x1a1,
    'CKR_MUTEX_NOT_LOCKED',
    'MODULE_INIT_FAILED',
    `The token library reported a locking error. ${SUPPORT}`,
  ),
  E(0x1b0, 'CKR_NEW_PIN_MODE', 'PIN_EXPIRED', 'The token asks for a new PIN or one-time password.'),
  E(0x1b1, 'CKR_NEXT_OTP', 'PIN_INCORRECT', 'The token asks for the next one-time password.'),
  E(0x1b5, 'CKR_EXCEEDED_MAX_ITERATIONS', 'FUNCTION_FAILED', 'The token gave up after too many attempts.'),
  E(
    0x1b6,
    'CKR_FIPS_SELF_TEST_FAILED',
    'DEVICE_ERROR',
    'The token failed its FIPS self-test and refuses to work.',
  ),
  E(
    0x1b7,
    'CKR_LIBRARY_LOAD_FAILED',
    'MODULE_INIT_FAILED',
    'The token library could not load one of its own parts.',
  ),
  E(0x1b8, 'CKR_PIN_TOO_WEAK', 'PIN_INVALID', 'The new PIN is too easy to guess. Choose another.'),
  E(0x1b9, 'CKR_PUBLIC_KEY_INVALID', 'PUBLIC_KEY_INVALID', 'The token rejected the public key.'),
  E(
    0x200,
    'CKR_FUNCTION_REJECTED',
    'CANCELLED',
    'The operation was refused on the token (for example on its screen).',
  ),
  E(0x201, 'CKR_TOKEN_RESOURCE_EXCEEDED', 'TOKEN_FULL', 'The token has no room left for this.'),
  E(
    0x202,
    'CKR_OPERATION_CANCEL_FAILED',
    'OPERATION_ACTIVE',
    'The token could not cancel the running operation.',
  ),
  E(0x203, 'CKR_KEY_EXHAUSTED', 'KEY_NOT_PERMITTED', 'The key has reached its usage limit on the token.'),
  E(0x80000000, 'CKR_VENDOR_DEFINED', 'PKCS11_ERROR', 'The token reported an error specific to its maker.'),
];

const BY_VALUE = new Map<number, CkrEntry>(CKR_TABLE.map((e) => [e.value, e]));
const BY_NAME = new Map<string, CkrEntry>(CKR_TABLE.map((e) => [e.name, e]));

export function ckrByValue(value: number): CkrEntry | undefined {
  return BY_VALUE.get(value);
}

export function ckrByName(name: string): CkrEntry | undefined {
  return BY_NAME.get(name);
}

function vendorName(value: number): string {
  return `CKR_VENDOR_DEFINED+0x${(value - 0x80000000).toString(16)}`;
}

/** CKR name for a value, including vendor-defined codes; `CKR_0x...` for unknown ones. */
export function ckrName(value: number): string {
  const entry = BY_VALUE.get(value);
  if (entry) return entry.name;
  if (value >= 0x80000000) return vendorName(value);
  return `CKR_0x${value.toString(16)}`;
}

const CKR_IN_MESSAGE = /\b(CKR_[A-Z0-9_]+)(?::(\d+))?/;

/** The CKR name/value pkcs11js put in an error (Pkcs11Error: message = name, code = value). */
export function extractCkr(error: unknown): { name: string; value: number } | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { message?: unknown; code?: unknown };
  const message = typeof e.message === 'string' ? e.message : '';
  const match = CKR_IN_MESSAGE.exec(message);
  const code = typeof e.code === 'number' && Number.isInteger(e.code) ? e.code : undefined;
  if (match) {
    const name = match[1]!;
    const value = match[2] !== undefined ? Number(match[2]) : (code ?? BY_NAME.get(name)?.value);
    if (value === undefined) return undefined;
    return { name: BY_VALUE.get(value)?.name ?? (value >= 0x80000000 ? vendorName(value) : name), value };
  }
  // pkcs11js gives a vendor code as "CKR_VENDOR_DEFINED..." or only a number: keep the number.
  if (code !== undefined && code > 0 && (e as { name?: unknown }).name === 'Pkcs11Error') {
    return { name: ckrName(code), value: code };
  }
  return undefined;
}

export interface ToMkmErrorOptions {
  /** The PKCS#11 function that failed, for support ("C_Login"). */
  fn?: string;
  /** Extra non-secret details to attach. */
  details?: Record<string, string | number | boolean | null | string[]>;
}

/**
 * Converts whatever a PKCS#11 call threw into an MkmError. A CKR code keeps its raw name and
 * value in details; anything else becomes INTERNAL without its message, because a vendor
 * library's text can quote the data it was given.
 */
export function toMkmError(error: unknown, options: ToMkmErrorOptions = {}): MkmError {
  if (error instanceof MkmError) return error;
  const ckr = extractCkr(error);
  const method = options.fn ?? methodOf(error);
  const extra = { ...(method ? { fn: method } : {}), ...options.details };
  if (!ckr) return new MkmError('INTERNAL', undefined, Object.keys(extra).length ? extra : undefined);
  const entry = BY_VALUE.get(ckr.value) ?? (ckr.value >= 0x80000000 ? BY_VALUE.get(0x80000000) : undefined);
  const code: ErrorCode = entry?.code ?? 'PKCS11_ERROR';
  const sentence = entry?.sentence ?? 'The token reported an error the app does not know.';
  return new MkmError(code, sentence, { ...extra, ckr: ckr.name, ckrValue: ckr.value });
}

function methodOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const m = (error as { method?: unknown }).method;
  return typeof m === 'string' && /^C_[A-Za-z]+$/.test(m) ? m : undefined;
}

// ------------------------------------------------------------------ refinements
// What an answer means where the host met it. The host asks here and never compares CKR names
// itself, so a token's dialect (SoftHSM2's CKR_ARGUMENTS_BAD for OAEP-SHA256, tpm2-pkcs11's
// CKR_GENERAL_ERROR for a refused template) is written down once. A name not in the table fails
// at load, so a typo cannot silently never match.

function anyOf(...names: string[]): (ckr: unknown) => boolean {
  for (const name of names) if (!BY_NAME.has(name)) throw new Error(`Unknown CKR name ${name}`);
  const set = new Set(names);
  return (ckr) => typeof ckr === 'string' && set.has(ckr);
}

export const CKR_MEANS = {
  /** The token lacks the mechanism or the parameter set asked for. */
  mechanismUnsupported: anyOf('CKR_MECHANISM_INVALID', 'CKR_MECHANISM_PARAM_INVALID'),
  /**
   * The request was malformed, says the token. For a known-good request with a parameterised
   * mechanism (RSA-OAEP on SoftHSM2 2.6, a signature) that can only mean the parameters.
   */
  argumentsBad: anyOf('CKR_ARGUMENTS_BAD'),
  /** The mechanism itself is not offered (a less telling probe answer than a wrong result). */
  mechanismInvalid: anyOf('CKR_MECHANISM_INVALID'),
  /** Answers with which a token may mean "not with these key settings" (tpm2-pkcs11: GENERAL_ERROR). */
  templateSuspect: anyOf(
    'CKR_GENERAL_ERROR',
    'CKR_FUNCTION_FAILED',
    'CKR_TEMPLATE_INCONSISTENT',
    'CKR_ATTRIBUTE_VALUE_INVALID',
    'CKR_TEMPLATE_INCOMPLETE',
  ),
  /** An attribute the token does not know (openCryptoki's answer to CKA_WRAP_WITH_TRUSTED). */
  attributeTypeInvalid: anyOf('CKR_ATTRIBUTE_TYPE_INVALID'),
  notLoggedIn: anyOf('CKR_USER_NOT_LOGGED_IN'),
  /** The token's own refusal to let a key leave (not mkm's). */
  keyNotWrappable: anyOf('CKR_KEY_NOT_WRAPPABLE'),
  /** C_Initialize: the library is already initialised in this process, which is fine. */
  alreadyInitialized: anyOf('CKR_CRYPTOKI_ALREADY_INITIALIZED'),
  /** C_Initialize with OS locking refused: the library is tried again without it. */
  lockingRefused: anyOf('CKR_CANT_LOCK', 'CKR_ARGUMENTS_BAD'),
  /** C_Initialize: the library could not reach its token or its own configuration. */
  libraryUnreachable: anyOf('CKR_GENERAL_ERROR', 'CKR_DEVICE_ERROR'),
} as const;

const attributeUnreadable = anyOf('CKR_ATTRIBUTE_TYPE_INVALID', 'CKR_ATTRIBUTE_SENSITIVE');

/**
 * A C_GetAttributeValue for several attributes failed whole because one of them is unknown or
 * secret (pkcs11js puts the name in the message): read them one at a time instead.
 */
export function attributesUnreadable(error: unknown): boolean {
  return attributeUnreadable(extractCkr(error)?.name);
}

const PROBE_REASONS: readonly [string, readonly string[]][] = [
  ['the token does not offer this algorithm', ['CKR_MECHANISM_INVALID']],
  ["the token's library does not implement this operation", ['CKR_FUNCTION_NOT_SUPPORTED']],
  [
    'the token refuses the parameters of this algorithm',
    ['CKR_ARGUMENTS_BAD', 'CKR_MECHANISM_PARAM_INVALID'],
  ],
  [
    'the token refuses the key settings this needs',
    [
      'CKR_ATTRIBUTE_VALUE_INVALID',
      'CKR_ATTRIBUTE_TYPE_INVALID',
      'CKR_TEMPLATE_INCONSISTENT',
      'CKR_TEMPLATE_INCOMPLETE',
      'CKR_ATTRIBUTE_READ_ONLY',
    ],
  ],
  [
    'the token cannot use this kind of key for it',
    [
      'CKR_KEY_TYPE_INCONSISTENT',
      'CKR_WRAPPING_KEY_TYPE_INCONSISTENT',
      'CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT',
    ],
  ],
  [
    'the token does not allow a key to be used this way',
    ['CKR_KEY_FUNCTION_NOT_PERMITTED', 'CKR_ACTION_PROHIBITED'],
  ],
  ['the token does not support this key size', ['CKR_KEY_SIZE_RANGE']],
  ['the token does not let a key leave it this way', ['CKR_KEY_UNEXTRACTABLE', 'CKR_KEY_NOT_WRAPPABLE']],
  ['the token needs a login to try this', ['CKR_USER_NOT_LOGGED_IN']],
  ['the token has no room for a temporary key', ['CKR_DEVICE_MEMORY', 'CKR_TOKEN_RESOURCE_EXCEEDED']],
  ['the token failed while trying it', ['CKR_GENERAL_ERROR', 'CKR_FUNCTION_FAILED', 'CKR_DEVICE_ERROR']],
  [
    'the token could not read standard input for it',
    ['CKR_ENCRYPTED_DATA_INVALID', 'CKR_WRAPPED_KEY_INVALID'],
  ],
];
const PROBE_REASON_BY_NAME = new Map(
  PROBE_REASONS.flatMap(([reason, names]) => names.map((name) => [name, reason] as const)),
);
for (const name of PROBE_REASON_BY_NAME.keys()) anyOf(name);

/** A PKCS#11 answer during a capability probe, in an admin's words (the requests are known-good). */
export function probeReason(ckr: string | undefined): string {
  return (ckr !== undefined && PROBE_REASON_BY_NAME.get(ckr)) || 'the token refused it';
}
