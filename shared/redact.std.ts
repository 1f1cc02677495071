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
// Magnetic-stripe data, whole (sentinels optional): track 1 "%B PAN ^ NAME ^ YYMM service
// discretionary ?" and track 2 "; PAN = YYMM service discretionary ?" (some readers write D for =).
// Everything after the PAN is sensitive authentication data too, so the track goes as one.
const TRACK1 = /%?B\d{12,19}\^[^^\n]{0,26}\^[^?\s]*\??/g;
const TRACK2 = /;?(?<!\d)\d{12,19}[=D]\d{4}[^?\s]*\??/g;
// Between the digits of a number: one separator (space, tab, dot, dash) or two blanks.
const SEP = String.raw`(?:[ \t]{1,2}|[.-])`;
// A card-length run (13 digits or more) anywhere, inside a word too ("ref_4111...", "PAN4111...").
const CARD_RUN = new RegExp(String.raw`(?<!\d)\d(?:${SEP}?\d){12,}(?!\d)`, 'g');
// 8 or more digits standing alone: account numbers, PINs typed long. Inside a word a shorter run
// is an id's random part ("-r60017022"), kept.
const DIGIT_RUN = new RegExp(String.raw`\b\d(?:${SEP}?\d){7,}\b`, 'g');
// 32+ hex digits: AES/HMAC key material, raw ciphertext, MACs.
const LONG_HEX = /\b[0-9a-fA-F]{32,}\b/g;
// Runs of the base64 and base64url alphabets, judged one by one (see encodedSecret).
const B64_RUN = /(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{12,}={0,2}/g;
// "pin=1234", "PIN: 1234", "password: hunter2", and "cvv 123" inside free text; "the PIN is
// incorrect" stays readable.
const LABELLED = /\b(pin|cvv|cvc|csc|password|passphrase)\b(\s*[:=]\s*)(\S+)/gi;
// After a bare space, a word with a digit in it is taken for the value ("pin S3cr3t", "cvv 737").
const LABELLED_DIGITS = /\b(pin|cvv|cvc|csc|password)\b(\s+)(?=\S*\d)(\S+)/gi;
// "No PIN: set MKM_PIN or ...", "Enter the PIN: this token has no PIN pad": after a colon and a
// blank, one of these words with the sentence going on after it is prose, not a value. None
// is a PIN (PINs are digits, four at least) and each is a word of the app's own sentences.
const PROSE_AFTER_COLON =
  /^(?:set|enter|type|give|use|run|ask|this|that|the|a|an|it|its|your|no|not|none|is|was|missing|required|needed|wrong|incorrect|invalid|empty|unset|locked|expired)$/;

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

/** Text that base64 or base64url decodes to, when it is printable; null otherwise. */
function decodedText(run: string): string | null {
  const body = run.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
  if (body.length % 4 === 1) return null;
  let binary: string;
  try {
    binary = atob(body + '='.repeat((4 - (body.length % 4)) % 4));
  } catch {
    return null;
  }
  return /^[\x20-\x7e\t\r\n]+$/.test(binary) ? binary : null;
}

// Words of an identifier: a lowercase run (after one capital), an acronym, a number.
const WORDS = /[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+/g;

/**
 * A part of a name, as people write them: an all-capitals word, or words of three and a half
 * characters or more on average, each a number, a short acronym or a lowercase word with a vowel
 * ("ConsoleHistoryEntry", "libsofthsm2", "PKCS1"). Random bytes in base64 almost never are.
 */
function wordLike(part: string): boolean {
  if (/^[A-Z]+\d*$/.test(part) && /[AEIOUY]/.test(part)) return true;
  // Lowercase and digits in three runs at most: "pkcs11js", "libsofthsm2", "x86".
  if (/^[a-z0-9]+$/.test(part) && (part.match(/[a-z]+|\d+/g) ?? []).length <= 3) return true;
  const words = part.match(WORDS) ?? [];
  if (words.join('') !== part || part.length / words.length < 3.5) return false;
  return words.every(
    (w) => /^\d+$|^[A-Z]{2,4}$/.test(w) || (/^[A-Z]?[a-z]{2,}$/.test(w) && /[aeiouy]/.test(w)),
  );
}

/** A hex id with a short prefix, such as the random part of a quarantine file ("r95d2318e"). */
const hexId = (part: string) =>
  /^(?:[a-z]{0,4}[0-9a-f]{6,}|[A-Z]{0,4}[0-9A-F]{6,})$/.test(part) && /\d/.test(part);

/**
 * A base64 or base64url run is a secret when it decodes to text that itself holds one (a PAN,
 * "pin=1234"), or when it looks like random bytes (a key, a token): 20 characters or more, not
 * plain hex (shorter than a key; 32+ hex is LONG_HEX), not a file's name before its extension,
 * and either one name-like part or, split
 * at / + - _, a real word among its parts and every long part name-like or a hex id. Paths, file
 * names and identifiers stay. Measured over 10^6 draws each: no 32-byte key passes for a name,
 * about 3 in 10^4 16-byte keys do (there is only so much to tell in 22 characters).
 */
function encodedSecret(run: string, fileName: boolean): boolean {
  const text = decodedText(run);
  if (text !== null && redactFree(text) !== text) return true;
  const body = run.replace(/=+$/, '');
  if (fileName || body.length < 20 || /^[0-9a-fA-F]+$/.test(body)) return false;
  const parts = body.split(/[+/_-]/);
  if (parts.length === 1) return !wordLike(body);
  // A path ("/usr/lib64/pkcs11/...") needs no word of its own; anything else does.
  const word = (p: string) => /^(?:[a-z]{4,}|[A-Z][a-z]{3,}|[A-Z]{4,})$/.test(p) && /[aeiouy]/i.test(p);
  if (!body.startsWith('/') && !parts.some(word)) return true;
  return parts.some((p) => p.length > 6 && !hexId(p) && !wordLike(p));
}

function redactFree(text: string): string {
  return text
    .replace(PEM_PRIVATE, '[redacted private key]')
    .replace(TRACK1, '[redacted track data]')
    .replace(TRACK2, '[redacted track data]')
    .replace(LABELLED, (whole, label: string, sep: string, value: string, offset: number, all: string) => {
      const prose =
        /^:\s+$/.test(sep) &&
        PROSE_AFTER_COLON.test(value) &&
        /^\s+\w/.test(all.slice(offset + whole.length));
      return prose ? whole : `${label}${sep}${REDACTED}`;
    })
    .replace(LABELLED_DIGITS, (_m, label: string, sep: string) => `${label}${sep}${REDACTED}`)
    .replace(LONG_HEX, '[redacted hex]')
    .replace(B64_RUN, (run: string, offset: number, all: string) =>
      // A run right before ".so", ".json", ... is a file's name ("/usr/lib/libIDPrimePKCS11.so").
      encodedSecret(run, /^\.[a-z0-9]{1,5}\b/.test(all.slice(offset + run.length))) ? '[redacted b64]' : run,
    )
    .replace(CARD_RUN, (run) => `[redacted ${run.replace(/\D/g, '').length} digits]`)
    .replace(DIGIT_RUN, (run, offset: number, whole: string) => {
      // A calendar date (2026-11-23, in a file name or an expiry) is no card number.
      if (/^\d{4}([-.])\d{2}\1\d{2}$/.test(run)) return run;
      const digits = run.replace(/\D/g, '');
      // PKCS#11 slot ids are 32-bit numbers that we print ourselves ("slot 2012652515"); a PAN
      // or account number never follows the word "slot".
      if (digits.length <= 10 && /\bslot\s+$/i.test(whole.slice(Math.max(0, offset - 6), offset))) return run;
      return `[redacted ${digits.length} digits]`;
    });
}

/**
 * A fingerprint, KCV or key id under its own name is a public reference the audit trail and
 * support need whole (a 64-hex SPKI-SHA256 would otherwise look like key material). Only the
 * value's own field name vouches for it, and only a reference's shape passes: plain hex (a
 * 16-digit card number is plain hex too, so a short value with a run of 8 decimal digits does
 * not: a digest of 32 hex or more is no card number), or a gateway id ("ks_" and base64url)
 * that does not decode to a secret.
 */
function isPublicReference(key: string, value: unknown): value is string {
  if (typeof value !== 'string' || !SAFE_KEY.test(key)) return false;
  if (/^[0-9a-fA-F]{1,64}$|^(?:[0-9a-fA-F]{2}:){1,63}[0-9a-fA-F]{2}$/.test(value)) {
    return value.length >= 32 || !/\d{8}/.test(value);
  }
  const id = /^[a-z]{2,4}_([A-Za-z0-9_-]{6,43})$/.exec(value);
  if (!id) return false;
  const text = decodedText(id[1]!);
  return !/\d{8}/.test(id[1]!) && (text === null || redactFree(text) === text);
}

/** Deep copy with secrets replaced. Safe on cycles, Buffers and errors. */
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
