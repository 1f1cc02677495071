/**
 * The one error vocabulary every process shares: main, the HSM host, the CLI, the renderer
 * and the sandbox gateway client. A code is stable (scripts and support match on it); the
 * sentence is for a merchant admin and may be reworded.
 */
export const ERROR_SENTENCES = {
  // Foundation
  VALIDATION: 'The request was not valid.',
  UNKNOWN_CHANNEL: 'The app asked for an operation that does not exist.',
  FORBIDDEN_SENDER: 'The request came from a page that is not allowed to use the app.',
  UNAUTHENTICATED: 'The connection to the app is not authenticated.',
  NOT_FOUND: 'The item was not found.',
  CONFLICT: 'The item already exists or was changed by someone else.',
  CANCELLED: 'The operation was cancelled.',
  TIMEOUT: 'The operation took too long and was stopped.',
  STORE_CORRUPT: 'The settings file is damaged; it can be restored from the last good copy.',
  IO_ERROR: 'A file could not be read or written.',
  USAGE: 'The command was not used correctly.',
  NOT_IMPLEMENTED: 'This feature is not available in this build.',
  INTERNAL: 'Something went wrong inside the app. The details are in the log.',
  // Tokens and PKCS#11 (electron/hsm maps every CKR_* code onto these)
  MODULE_NOT_FOUND: 'The PKCS#11 library file was not found.',
  MODULE_INVALID: 'The file is not a PKCS#11 library.',
  MODULE_INIT_FAILED: 'The PKCS#11 library could not be started.',
  NO_MODULE: 'No PKCS#11 library is configured.',
  TOKEN_NOT_PRESENT: 'No token is inserted in this slot.',
  TOKEN_REMOVED: 'The token was removed or is no longer reachable.',
  TOKEN_NOT_RECOGNIZED: 'The token is not recognized by its library.',
  TOKEN_WRITE_PROTECTED: 'The token is write-protected.',
  TOKEN_FULL: 'The token has no room left for another key.',
  TOKEN_CONNECTION_LOST: 'The connection to the token was lost. Log in again to continue.',
  TOKEN_BUSY: 'The token is busy with another operation.',
  SLOT_NOT_FOUND: 'The slot or token was not found.',
  PIN_INCORRECT: 'The PIN is incorrect.',
  PIN_LOCKED: 'The PIN is locked after too many wrong tries. A security officer must unlock it.',
  PIN_INVALID: 'The PIN contains characters the token does not accept.',
  PIN_LEN_RANGE: 'The PIN is too short or too long for this token.',
  PIN_EXPIRED: 'The PIN has expired and must be changed.',
  NOT_LOGGED_IN: 'Log in to the token first.',
  ALREADY_LOGGED_IN: 'You are already logged in to the token.',
  SESSION_CLOSED: 'The session with the token was closed. Log in again.',
  SESSION_LIMIT: 'The token has too many open sessions.',
  MECHANISM_UNSUPPORTED: 'The token does not support this operation.',
  MECHANISM_PARAM_INVALID: 'The token rejected the parameters of this operation.',
  KEY_NOT_FOUND: 'The key was not found on the token.',
  KEY_TYPE_INCONSISTENT: 'This key cannot be used for that operation.',
  KEY_NOT_PERMITTED: 'The key is not allowed to be used for that operation.',
  KEY_SIZE_RANGE: 'The key size is not supported by the token.',
  KEY_NOT_EXTRACTABLE: 'The key cannot be exported from the token.',
  KEY_UNWRAPPABLE: 'The key could not be unwrapped.',
  TEMPLATE_INVALID: 'The token rejected the key settings.',
  DATA_INVALID: 'The data is not valid for this operation.',
  DATA_LEN_RANGE: 'The data has the wrong length for this operation.',
  ENCRYPTED_DATA_INVALID: 'The encrypted data could not be decrypted.',
  SIGNATURE_INVALID: 'The signature or MAC does not match.',
  KCV_MISMATCH: 'The key check value does not match.',
  RANDOM_UNAVAILABLE: 'The token cannot generate random numbers.',
  DEVICE_ERROR: 'The token reported a hardware error.',
  DEVICE_MEMORY: 'The token ran out of memory.',
  FUNCTION_FAILED: 'The token could not complete the operation.',
  OPERATION_ACTIVE: 'Another operation is still running on the token.',
  USER_TYPE_INVALID: 'That kind of login is not possible.',
  PKCS11_ERROR: 'The token reported an error.',
  CAPABILITY_MISSING: 'The token lacks a capability this feature needs.',
  CONFIRMATION_REQUIRED: 'This step needs an explicit confirmation.',
  // Tokens: portability (issue 12)
  KEY_TEMPLATE_REFUSED:
    "The token refuses mkm's narrow key settings and insists on wider key usage; the key was not kept.",
  // Key lifecycle
  KEYS_BUSY: 'Merchant Key Manager is open in another window or process; close it or use that window.',
  AUDIT_BUSY:
    'This action must be recorded in the audit log, which another Merchant Key Manager window or process holds open; do it there, or close it and try again.',
  KEY_MANAGED:
    "This key is managed by mkm's key lifecycle; destroy it from the key's versions so the record stays as a tombstone.",
  // Gateway
  GATEWAY_UNREACHABLE: 'The payment gateway cannot be reached.',
  GATEWAY_TLS_PIN_MISMATCH: "The gateway's TLS key does not match the pinned key.",
  GATEWAY_ERROR: 'The payment gateway reported an error.',
  GATEWAY_BAD_RESPONSE: 'The payment gateway sent a response the app cannot read.',
  GATEWAY_UNAUTHORIZED: 'The gateway did not accept the credentials.',
  GATEWAY_RATE_LIMITED: 'The gateway asked the app to slow down.',
  GATEWAY_PASSWORD_REQUIRED: 'The gateway password is needed for this profile; type it when asked.',
  SECRET_STORAGE_UNAVAILABLE:
    'The operating system offers no protected storage for the gateway password; it can be kept for this session only.',
  MAC_INVALID: 'The message authentication failed.',
  KEY_SET_USED: 'That key set was already used.',
  KEY_SET_EXPIRED: 'That key set has expired.',
  KEY_SET_UNKNOWN: 'The gateway does not know that key set.',
  // Audit and store
  AUDIT_TAMPERED: 'The audit log was changed after it was written.',
  // Keys and encodings pasted by people
  PUBLIC_KEY_INVALID: 'The text is not an RSA public key, public key PEM or certificate.',
  PRIVATE_KEY_REFUSED:
    'That is a private key. Only the public key belongs here; keep the private key secret.',
  ENCODING_INVALID: 'The value is not correctly encoded (base64 or hex).',
  // Offline exchange packages (air-gapped machines)
  EXCHANGE_TOO_LARGE: 'The exchange package file is too large to be one.',
  EXCHANGE_NOT_JSON: 'The file is not an exchange package (it is not JSON; damaged or truncated?).',
  EXCHANGE_FORMAT_INVALID: 'The file is not a valid mkm exchange package.',
  EXCHANGE_VERSION_UNSUPPORTED: 'The exchange package was made by a newer or unknown version of mkm.',
  EXCHANGE_SIGNATURE_INVALID: 'The exchange package signature does not match: it was changed after signing.',
  EXCHANGE_SIGNER_UNTRUSTED: 'The exchange package signature is valid, but the signer is not trusted.',
  EXCHANGE_ITEM_MISMATCH: 'An item in the exchange package does not match its own fingerprint.',
  EXCHANGE_EXPIRED: 'The exchange package has expired.',
  EXCHANGE_KIND_REFUSED: 'The exchange package holds items this import does not accept.',
  // Key usage counts and use limits (issue 12, usage)
  USE_LIMIT_REACHED:
    'This key version has been used as many times as its policy allows; rotate the key to make a new version before using it again.',
  USAGE_COUNTS_BUSY:
    'Another Merchant Key Manager process kept the key use counts file locked; the counts stay pending and are written at the next flush.',
  // Key templates and exchange packages (issue 10, points 7 and 9)
  KEY_WRAP_UNTRUSTED:
    'This key may be exported only wrapped under a key-encryption key the security officer marked as trusted.',
  EXCHANGE_REPLAYED: 'This exchange package was already imported here; each package is imported once.',
  EXCHANGE_ALGORITHM_REFUSED:
    'The exchange package is signed with PKCS#1 v1.5, and this installation requires RSASSA-PSS signatures.',
  EXCHANGE_SEEN_STORE_FULL:
    'This installation remembers too many unexpired imported packages to accept another; wait until some expire.',
  // Console and redaction (console-trust)
  BATCH_RECORD_TOO_LARGE:
    'A row of the input file is longer than any row of card data can be (16 KiB); it was skipped without being read.',
  // Gateway contract 1.1 (signed key sets; gateway11)
  KEY_SET_SIGNATURE:
    "A key set the gateway handed over is not signed by the gateway's pinned signing key (or is not for this merchant or its keys); it was refused and nothing changed.",
  // Browser mode, native libraries and files the app reads or writes (issue 10 points 5-6)
  LAUNCH_LINK_USED:
    'This browser-mode launch link was already used: it works once. Restart browser mode for a new one.',
  MODULE_NOT_ALLOWED:
    'mkm loads only a PKCS#11 library from its list of known libraries, one chosen in the desktop app’s file dialog, or one named when browser mode was started (--module or MKM_MODULE).',
  PICKER_UNAVAILABLE:
    'This mode has no file dialog: browser mode downloads and uploads files instead, and takes libraries from its start command.',
  PATH_NOT_ALLOWED:
    'The app chooses where files are read and written (a file dialog, an upload or a download); a page cannot name a path.',
  DESTINATION_IN_DATA_FOLDER:
    'Files cannot be saved inside the app’s data folder (it holds the audit log, keys inventory and settings). Choose another folder.',
  DESTINATION_EXISTS: 'A file with that name is already there; confirm replacing it or choose another name.',
  UPLOAD_TOO_LARGE: 'The file is too large to upload to the app.',
  FILE_HANDLE_UNKNOWN:
    'That chosen file is no longer known to the app (it was used or expired); choose it again.',
  // Audit trail: fail closed, token anchor, sealed state files (issue 10 points 2, 3, 9)
  AUDIT_UNAVAILABLE:
    'This action must be recorded and the audit log cannot take it, so it was not done. Verify the log (mkm audit verify); if it is damaged, move it aside and start a new one (mkm audit recover --yes).',
  AUDIT_ROLLED_BACK:
    'The audit log is behind the head the token recorded: it was rolled back or replaced. Verify it, then move it aside and start a new one (mkm audit recover --yes).',
  AUDIT_INTACT: 'The audit log verifies and can take entries: there is nothing to recover.',
  AUDIT_KEY_PROTECTED:
    'This is the audit key (or the audit head) that seals the audit log; it cannot be destroyed, or older seals could never be checked again.',
  AUDIT_KEY_RESERVED:
    'Only mkm makes the audit key, and a token holds one: a second key with the audit role or label is refused.',
  AUDIT_KEY_NOT_ON_TOKEN:
    'Some seals were made with an audit key that is not on this token; they were not checked.',
  // Capability gating and audit seals (issue 12, points 5-7)
  AUDIT_SEAL_IMPOSSIBLE:
    'The logged-in token cannot make an audit key of any kind (HMAC, AES-CMAC or RSA signature), so the audit log is not sealed: entries are recorded and chained, but nothing on the token vouches for them.',
  STATE_TAMPERED:
    'A pinned-state file (trusted signers or a gateway profile state) does not match its seal: it was changed outside mkm and is not used. Check it, then pin again.',
  STATE_UNCHECKED:
    'Log in to the token to check the pinned gateway key and trusted signers: their seal can only be checked with the audit key.',
  // Guard rails: console scheme, first pin of a gateway key (issue 15 point 5)
  SCHEME_MISMATCH:
    "The gateway cannot decrypt this scheme: its key is for another padding. Choose the gateway's scheme, or confirm the override to make a body that will not decrypt there.",
  PIN_FINGERPRINT_MISMATCH:
    'The fingerprint given is not the one of the pinned gateway key: nothing was confirmed. Read it again with the gateway operator.',
  // Ceremonies: scripts, dual control, transcripts (issue 11)
  CEREMONY_NOT_FOUND: 'There is no ceremony with this id on this machine.',
  CEREMONY_CLOSED: 'This ceremony is over (completed or aborted): nothing more can be done in it.',
  CEREMONY_STEP_OUT_OF_ORDER:
    'A ceremony runs its steps in order: this is not the step it has reached. Finish the current step first.',
  CEREMONY_PARTICIPANT_UNKNOWN: 'This person is not a participant of the ceremony: identify them first.',
  CEREMONY_ROLE_REFUSED: 'This step is for another role: the script names who may do it.',
  CEREMONY_AUTH_FAILED: 'The passphrase does not match the one this participant set: the step was not done.',
  CEREMONY_DUAL_CONTROL:
    'This step needs two different people: one person cannot act and confirm it, and a custodian cannot enter two components of one key.',
  CEREMONY_SIGN_OFF_MISSING:
    'Every participant must sign off before the transcript is closed; some have not.',
  CEREMONY_JOURNAL_INVALID:
    'The ceremony journal on disk is not readable or does not match its script: the ceremony cannot resume. Abort it and start again.',
  CEREMONY_AIR_GAP:
    'A network interface other than loopback is up: an offline ceremony is refused on a connected machine. Disconnect it, or record an override with the witness.',
  CEREMONY_IN_PROGRESS:
    'A key ceremony is in progress on this machine: calls to a gateway are refused until it ends.',
  TRANSCRIPT_FORMAT_INVALID: 'This file is not an mkm ceremony transcript.',
  TRANSCRIPT_CHAIN_BROKEN:
    'The transcript’s hash chain is broken: an entry was removed, changed or reordered after it was written.',
  TRANSCRIPT_SIGNATURE_INVALID:
    'The transcript’s signature does not verify: it was changed after it was signed.',
  TRANSCRIPT_SIGNER_UNEXPECTED: 'The transcript was signed by another key than the one you expect.',
  TRANSCRIPT_UNRECORDED:
    'This installation’s audit log does not record this ceremony as the transcript tells it (its signer or its last entry), so it is not evidence here.',
  // Key components (issue 11 point 3: forming and splitting keys in an offline ceremony)
  COMPONENT_FORMAT_INVALID:
    'A key component may hold only hex digits (0-9 and A-F), with spaces or dashes between groups.',
  COMPONENT_LENGTH_INVALID: 'The key component has the wrong number of hex digits for this key type.',
  COMPONENT_PARITY_INVALID:
    'A TDES key component has bytes of even parity, so a digit was probably mistyped. Check the bytes named against the component sheet.',
  COMPONENT_COUNT_INVALID: 'A key is formed from 2 to 9 components.',
  COMPONENT_ZERO:
    'A key component is all zeros: it adds nothing to the key, so split knowledge would not hold. Each custodian needs a random component.',
  COMPONENT_REPEATED:
    'Two key components are the same: they cancel each other out, so split knowledge would not hold. Each custodian needs a component of their own.',
  KEY_DEGENERATE:
    'The key formed from these components is refused: it is all zeros, a TDES key that is only single DES, or holds a DES weak or semi-weak key.',
  KEY_LENGTH_INVALID: 'The key has the wrong length for its type.',
  KCV_METHOD_NOT_APPLICABLE: 'This key check value method does not apply to this key type.',
  KCV_LENGTH_INVALID:
    'This key check value length is not offered for its method (legacy and hmac: 3 bytes; cmac: 3 to 5 bytes).',
  // Key shares (M-of-N backup of a key-encryption key; issue 11 point 5)
  SHARE_PARAMETERS_INVALID:
    'A key backup splits a 16, 24 or 32-byte key into 2 to 16 shares, of which 2 or more, and no more than all, are needed to recover it.',
  SHARE_FORMAT_INVALID: 'The text is not a key share as mkm prints it; the message says which line is wrong.',
  SHARE_VERSION_UNSUPPORTED: 'The key share was written by a newer or unknown version of mkm.',
  SHARE_CHECKSUM_MISMATCH:
    'A line of the key share does not match its check group: it was mistyped. The message says which line (and, where it can tell, which group); compare it with the printed share.',
  SHARE_NOT_IN_BACKUP:
    'The key share belongs to another backup (its backup id or its threshold and share count differ from this backup).',
  SHARE_COMMITMENT_MISMATCH:
    "The key share does not match the backup's published commitments: it was altered or damaged. It cannot be used.",
  SHARE_DUPLICATE_INDEX:
    'The same share number was presented twice; each custodian presents their own share once.',
  SHARES_TOO_FEW: 'Not enough good shares were presented to recover the key; nothing was recovered.',
  SHARE_COMMITMENTS_INVALID:
    "The backup's published commitments are damaged or do not match the backup id; no share can be checked against them.",
  SHARE_RECOVERY_MISMATCH:
    "The recovered key does not match the backup's commitment to the key; it was discarded.",
  SHARE_RANDOM_FAILED: 'The random number source returned too little or stuck data; nothing was made.',
  // TR-31 key blocks (issue 11 point 4): each code names the check that refused the block
  TR31_HEADER_SYNTAX:
    'The key block header is not well formed: a field holds characters TR-31 does not allow there.',
  TR31_LENGTH_MISMATCH:
    'The key block length does not add up: the length in its header, its real length or the sizes its version requires disagree.',
  TR31_VERSION_UNSUPPORTED: 'The key block version is not one this app reads (it reads versions D and B).',
  TR31_VERSION_DEPRECATED:
    'The key block is version A or C, whose key variant binding is deprecated. Ask the sender for a version D or B block.',
  TR31_USAGE_UNKNOWN: 'The key block names a key usage this app does not know.',
  TR31_ALGORITHM_UNKNOWN: 'The key block names a key algorithm this app does not know.',
  TR31_MODE_UNKNOWN: 'The key block names a mode of use this app does not know.',
  TR31_EXPORTABILITY_UNKNOWN: 'The key block exportability is not E, N or S.',
  TR31_OPTIONAL_BLOCK_MALFORMED: 'An optional block in the key block header is malformed.',
  TR31_ENCODING_INVALID: 'The encrypted key or the MAC of the key block is not uppercase hexadecimal.',
  TR31_MAC_MISMATCH:
    'The key block MAC does not match: the block was altered, or it is protected under another key.',
  TR31_KEY_LENGTH_INVALID:
    'The key length inside the key block does not fit the block or is not valid for the key algorithm.',
  TR31_PADDING_INVALID:
    'The key block padding is not valid: the header does not end on a cipher block boundary.',
  TR31_KCV_MISMATCH: 'A key check value in the key block (KC or KP block) does not match the key.',
  TR31_KCV_UNSUPPORTED: 'The key block asks for a key check value this app cannot compute for that key.',
  TR31_KBPK_INVALID:
    'The key block protection key does not fit this key block version: version D needs an AES key, version B a TDES key.',
  TR31_ATTRIBUTES_INCONSISTENT:
    'The key usage, algorithm and mode of use of the key block make no sense together, so the key is refused.',
  TR31_EXPORT_REFUSED: 'The exportability of this key forbids exporting it in a key block under this key.',
  // TR-31 key blocks on the token (issue 11 point 4, tr31 branch)
  TR31_TOKEN_LACKS_MECHANISM:
    'The token lacks a mechanism key blocks need (named in the details): the key block protection key is never used outside the token, so the operation was refused.',
  TR31_NOT_EXPORTABLE:
    'This key may not leave the token: it is not extractable (a key read from an N block never is), or it may leave only under a key the security officer marked trusted.',
  TR31_KBPK_NOT_PERMITTED:
    'This key may not protect key blocks in this direction: a key block protection key needs sign (its key derivation runs on the token) and wrap to make blocks, unwrap to read them.',
  TR31_KBPK_SIZE_UNKNOWN:
    'The token does not report the size of this AES key: name the key block protection key’s type (aes-128, aes-192 or aes-256).',
  TR31_KEY_TYPE_UNSUPPORTED:
    'Key blocks carry only AES and TDES keys here (of their usual sizes), and the declared type must match the key on the token.',
  TR31_EXPORT_USAGE_EXCEEDS:
    'The key block header would let the key do more than it may do on this token (the details name the usages): choose a usage and mode of use within its own.',
  // Ceremony token operations: components in and out of the token host (issue 11 point 3, ceremony-token)
  CEREMONY_TRANSPORT_KEY_GONE:
    'The ceremony’s transport key is no longer on the token (the token host restarted or its session closed): the components held for this step are useless now. Enter the components again.',
  COMPONENT_CIPHERTEXT_INVALID:
    'The encrypted component could not be opened with this ceremony’s transport key: it was damaged, or encrypted to another key. Enter it again.',
  CEREMONY_REVEAL_KEY_INVALID:
    'The key a component is to be revealed to is not an RSA public key of 2048 bits or more: nothing was revealed.',
  COMPONENT_KCV_MISMATCH:
    'The check value of the component entered differs from the one on the custodian’s sheet: it was mistyped or is another component. Nothing was kept; enter it again.',
  CEREMONY_KEY_NOT_PROTECTED:
    'The token did not keep the formed key sensitive, non-extractable and limited to its purpose, as asked: the key was removed from the token. This token cannot hold keys formed from components.',
  CEREMONY_KEY_CHECK_MISMATCH:
    'The check value the token reports for the key it took differs from the one computed from the components: the key was removed from the token.',
  // M-of-N shares of a KEK on the token, in ceremonies (issue 11 point 5, shares)
  SHARE_KEK_NOT_EXPORTABLE:
    'This key cannot be backed up as shares: it is not extractable, or it may leave the token only under a key the security officer marked trusted. Nothing was split.',
  SHARE_KEK_UNSUPPORTED:
    'Only a key-encryption key (wrap or unwrap usage) of type AES-128/192/256 or TDES (2-key, 3-key) can be backed up as shares.',
  SHARE_CIPHERTEXT_INVALID:
    'The encrypted share could not be opened with this ceremony’s transport key: it was damaged, or encrypted to another key. Enter it again.',
  SHARE_BACKUP_GONE:
    'The shares of this backup not yet revealed are no longer held (the app or the token host restarted): abort this ceremony and back the key up again; the shares given so far belong to an unfinished backup and should be destroyed.',
  SHARE_RECOVERY_KCV_MISMATCH:
    'The recovered key’s check value differs from the one recorded when it was backed up: nothing was put on the token.',
} as const;

export type ErrorCode = keyof typeof ERROR_SENTENCES;

/** What crosses a process boundary. `details` never holds a secret (the logger and tests enforce it). */
export interface MkmErrorShape {
  code: ErrorCode;
  message: string;
  details?: Record<string, string | number | boolean | null | string[]>;
}

export class MkmError extends Error {
  readonly code: ErrorCode;
  readonly details: MkmErrorShape['details'];

  constructor(code: ErrorCode, message?: string, details?: MkmErrorShape['details']) {
    super(message ?? ERROR_SENTENCES[code]);
    this.name = 'MkmError';
    this.code = code;
    this.details = details;
  }

  toShape(): MkmErrorShape {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  static fromShape(shape: MkmErrorShape): MkmError {
    return new MkmError(shape.code, shape.message, shape.details);
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_SENTENCES, value);
}

export function isMkmErrorShape(value: unknown): value is MkmErrorShape {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return isErrorCode(v.code) && typeof v.message === 'string';
}

/**
 * Any thrown value becomes a typed error. An unknown error's own message never crosses the
 * boundary: it may quote a PIN or a key that some library put into it.
 */
export function toErrorShape(error: unknown): MkmErrorShape {
  if (error instanceof MkmError) return error.toShape();
  if (isMkmErrorShape(error)) {
    return error.details === undefined
      ? { code: error.code, message: error.message }
      : { code: error.code, message: error.message, details: error.details };
  }
  return { code: 'INTERNAL', message: ERROR_SENTENCES.INTERNAL };
}
