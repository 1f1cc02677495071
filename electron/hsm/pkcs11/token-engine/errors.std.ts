import { ERROR_SENTENCES, MkmError, type ErrorCode } from '../../../../shared/errors.std';
import type { Capability, CipherMechanism, WrapMechanism } from '../../../../shared/tokens.std';
import { CKR_MEANS } from '../ckr.std';

/**
 * Error refinement for TokenEngine: what a failure means where the engine met it, in an admin's
 * words. Which CKR_* means what is asked of CKR_MEANS (ckr.std.ts); this file turns the codes
 * those answers became into the error the operation reports.
 */

/** Failures of the token itself (not of what it can do): reported as they are. */
export const TOKEN_STATE_CODES: ReadonlySet<string> = new Set([
  'DEVICE_ERROR',
  'TOKEN_FULL',
  'TOKEN_REMOVED',
  'SESSION_CLOSED',
  'NOT_LOGGED_IN',
]);

/** A session the token no longer has (pulled and put back, closed under us). */
export function sessionGone(e: MkmError): boolean {
  return e.code === 'SESSION_CLOSED' || e.code === 'TOKEN_REMOVED';
}

/** What a batch key copy that could not be destroyed may answer when it is gone with its session. */
const COPY_GONE_CODES: ReadonlySet<ErrorCode> = new Set(['SESSION_CLOSED', 'KEY_NOT_FOUND', 'TOKEN_REMOVED']);

export function copyGone(e: MkmError): boolean {
  return COPY_GONE_CODES.has(e.code);
}

/**
 * A damaged or foreign wrapped key reads differently per token (SoftHSM2: FUNCTION_FAILED for
 * bad OAEP); to the admin it is one thing. The CKR stays in details.
 */
const WRAPPED_KEY_REFUSALS: ReadonlySet<ErrorCode> = new Set([
  'FUNCTION_FAILED',
  'ENCRYPTED_DATA_INVALID',
  'DATA_LEN_RANGE',
  'DATA_INVALID',
]);

export function unwrapRefusal(e: MkmError): MkmError {
  if (!WRAPPED_KEY_REFUSALS.has(e.code)) return e;
  return new MkmError(
    'KEY_UNWRAPPABLE',
    'The wrapped key could not be unwrapped; it may be damaged or meant for another key.',
    e.details,
  );
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
export function mechanismError(e: MkmError, mechanism: CipherMechanism | WrapMechanism): MkmError {
  const ckr = e.details?.ckr;
  const unsupported =
    CKR_MEANS.mechanismUnsupported(ckr) || (CKR_MEANS.argumentsBad(ckr) && mechanism.startsWith('RSA_OAEP'));
  if (!unsupported) return e;
  return new MkmError('MECHANISM_UNSUPPORTED', `This token does not support ${MECHANISM_WORDS[mechanism]}.`, {
    ...e.details,
    mechanism,
  });
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

/** A file the admin chose that dlopen refused, saying why. */
export function moduleInvalid(path: string, error: unknown): MkmError {
  const reason = loadFailureReason(error);
  return new MkmError('MODULE_INVALID', `${ERROR_SENTENCES.MODULE_INVALID} ${capitalize(reason)}.`, {
    path,
    reason,
  });
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
