/**
 * Redaction, in one place, for everything that leaves a process as text: log lines, crash
 * reports, support bundles, error details. Two nets: field names that can only hold secrets,
 * and value shapes that look like secrets wherever they appear (a PAN inside a message, a
 * hex key inside a stack trace).
 */

const SECRET_KEY =
  /(^|_|-|\b)(pin|so_?pin|new_?pin|old_?pin|password|passphrase|secret|cvv|cvc|csc|pan|card_?number|number|account_?number|routing_?number|track|swipe|expiration|exp_?date|key_?material|clear_?key|key_?value|component|private_?key|plaintext|cleartext|authorization|access_?token|bearer|enc_?key|mac_?key|value)$/i;

/** Keys whose values are safe identifiers even though they end like a secret name. */
const SAFE_KEY = /^(serial_?number|slot_?number|key_?id|set_?id|kcv|spki_?sha256|fingerprint|label)$/i;

export const REDACTED = '[redacted]';

export function isSecretKey(key: string): boolean {
  const k = key.replace(/([a-z])([A-Z])/g, '$1_$2');
  return !SAFE_KEY.test(k) && SECRET_KEY.test(k);
}

const PEM_PRIVATE = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g;
// 8 or more digits, optionally grouped by spaces or dashes: PANs, account numbers, PINs typed long.
const DIGIT_RUN = /\b\d(?:[ -]?\d){7,}\b/g;
// 32+ hex digits: AES/HMAC key material, raw ciphertext, MACs.
const LONG_HEX = /\b[0-9a-fA-F]{32,}\b/g;
// Long base64 runs: wrapped keys and ciphertexts.
const LONG_B64 = /[A-Za-z0-9+/]{48,}={0,2}/g;
// "pin=1234", "PIN: 1234", "password: hunter2", and "cvv 123" inside free text; "the PIN is
// incorrect" stays readable.
const LABELLED = /\b(pin|cvv|cvc|csc|password|passphrase)\b(\s*[:=]\s*)(\S+)/gi;
// After a bare space, a word with a digit in it is taken for the value ("pin S3cr3t", "cvv 737").
const LABELLED_DIGITS = /\b(pin|cvv|cvc|csc|password)\b(\s+)(?=\S*\d)(\S+)/gi;

// Record and operation ids: 32 hex digits in 8-4-4-4-12 groups never hold a PAN (at most 19
// digits) and are what support needs whole, so they are kept out of the digit-run rule.
const UUID = /\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b/g;

export function redactString(text: string): string {
  const ids = text.match(UUID);
  if (!ids) return redactFree(text);
  // Redact around the ids, never across them.
  return text
    .split(UUID)
    .map((part, i) => redactFree(part) + (ids[i] ?? ''))
    .join('');
}

function redactFree(text: string): string {
  return text
    .replace(PEM_PRIVATE, '[redacted private key]')
    .replace(LABELLED, (_m, label: string, sep: string) => `${label}${sep}${REDACTED}`)
    .replace(LABELLED_DIGITS, (_m, label: string, sep: string) => `${label}${sep}${REDACTED}`)
    .replace(LONG_B64, '[redacted b64]')
    .replace(LONG_HEX, '[redacted hex]')
    .replace(DIGIT_RUN, (run, offset: number, whole: string) => {
      // A calendar date (2026-11-23, in a file name or an expiry) is no card number.
      if (/^\d{4}-\d{2}-\d{2}$/.test(run)) return run;
      const digits = run.replace(/\D/g, '');
      // PKCS#11 slot ids are 32-bit numbers that we print ourselves ("slot 2012652515"); a PAN
      // or account number never follows the word "slot".
      if (digits.length <= 10 && /\bslot\s+$/i.test(whole.slice(Math.max(0, offset - 6), offset))) return run;
      return `[redacted ${digits.length} digits]`;
    });
}

/** Deep copy with secrets replaced. Safe on cycles, Buffers and errors. */
/**
 * A fingerprint, KCV or key id under its own name is a public reference the audit trail and
 * support need whole (a 64-hex SPKI-SHA256 would otherwise look like key material). Only the
 * value's own field name vouches for it, and only a plain hex shape passes.
 */
function isPublicReference(key: string, value: unknown): value is string {
  return (
    typeof value === 'string' &&
    SAFE_KEY.test(key) &&
    /^[0-9a-fA-F]{1,64}$|^(?:[0-9a-fA-F]{2}:){1,63}[0-9a-fA-F]{2}$/.test(value)
  );
}

export function redact(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (value === null || value === undefined) return value;
  if (typeof value === 'string') return redactString(value);
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
  if (depth > 8) return '[too deep]';
  if (typeof value !== 'object') return undefined;
  if (seen.has(value)) return '[cycle]';
  seen.add(value);
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return {
      name: value.name,
      message: redactString(value.message),
      ...(typeof code === 'string' ? { code } : {}),
      stack: value.stack ? redactString(value.stack) : undefined,
    };
  }
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    out[key] =
      isSecretKey(key) && v !== undefined && v !== null && v !== ''
        ? REDACTED
        : isPublicReference(key, v)
          ? v
          : redact(v, depth + 1, seen);
  }
  return out;
}
