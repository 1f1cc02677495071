import type { DiagnosedKind, DiagnosisFinding } from '../../../shared/contract/troubleshoot.std';
import { checkPan, NETWORK_NAMES } from '../../../shared/formats/card.std';
import { abaChecksumOk } from '../../../shared/formats/aba.std';
import { CSE_FIELD_NAMES, type CseFieldName } from '../../../shared/formats/cse-fields.std';
import { parseBase64, parseHex } from '../../../shared/formats/encoding.std';
import { luhnValid } from '../../../shared/formats/luhn.std';
import { FAILURE_MODES, INFO_MODES, type FailureCode, type InfoCode } from './failure-modes.std';

/**
 * The pure half of the troubleshooter: what a pasted text is, how its encoding is broken, what
 * its length says, and what a decrypted value looks like (its shape, never its content). No
 * token, no gateway, no node built-ins: the unit tests run it as it is.
 */

export type Evidence = DiagnosisFinding['evidence'];

export function finding(
  code: FailureCode | InfoCode,
  evidence: Evidence = {},
  extra?: Partial<DiagnosisFinding>,
): DiagnosisFinding {
  if (code in FAILURE_MODES) {
    const row = FAILURE_MODES[code as FailureCode];
    return {
      code,
      severity: row.severity,
      title: row.title,
      explanation: row.explanation,
      fix: row.fix,
      evidence,
      ...extra,
    };
  }
  const info = INFO_MODES[code as InfoCode];
  return { code, severity: info.severity, title: info.title, explanation: '', fix: '', evidence, ...extra };
}

/** Byte lengths of RSA moduli people meet: 1024, 2048, 3072, 4096 bits. */
export const RSA_SIZES = [128, 256, 384, 512] as const;

// ------------------------------------------------------------------ classification

export type { CseFieldName };

export interface FieldToCheck {
  /** Where it was found ("credit_card.encrypted_number"), or "value" for a bare paste. */
  path: string;
  /** The verify endpoint's name for it, when it has one. */
  cseName: CseFieldName | null;
  text: string;
}

export interface EnvelopeToCheck {
  setId: unknown;
  ciphertext: unknown;
  mac: unknown;
  /** Present on a response: the response's own IV. */
  iv?: unknown;
}

export interface Classified {
  kind: DiagnosedKind;
  findings: DiagnosisFinding[];
  fields: FieldToCheck[];
  envelope: EnvelopeToCheck | null;
  /** A public key text to fingerprint (never a private one). */
  publicKey: string | null;
  /** From a verify body. */
  padding: 'RSAES-PKCS1-V1_5' | 'RSAES-OAEP-SHA256' | null;
  keyId: string | null;
}

const PRIVATE_PEM = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----|PRIVATE KEY BLOCK/;
const JSON_ESCAPE = /\\(?:[/nrt"\\]|u[0-9a-fA-F]{4})/;
const JWK_PRIVATE = ['d', 'p', 'q', 'dp', 'dq', 'qi'];
const CSE_NAMES = new Set<string>(CSE_FIELD_NAMES);
/** Members that carry a card or bank value in clear when they appear in a request body. */
const CLEAR_MEMBERS = new Set([
  'number',
  'card_number',
  'csc',
  'cvv',
  'cvc',
  'account_number',
  'routing_number',
  'swipe',
]);

function empty(kind: DiagnosedKind, findings: DiagnosisFinding[] = []): Classified {
  return { kind, findings, fields: [], envelope: null, publicKey: null, padding: null, keyId: null };
}

/** Undo one layer of JSON string quoting/escaping; null when the text is not a JSON string body. */
function unescapeJson(text: string): string | null {
  const body =
    text.startsWith('"') && text.endsWith('"') && text.length >= 2 ? text : `"${text.replace(/"/g, '\\"')}"`;
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'string' ? value : null;
  } catch {
    return null;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every string member named encrypted_* and every clear card member, at any depth. */
function walk(
  value: unknown,
  path: string,
  out: { fields: FieldToCheck[]; clear: { path: string; value: string }[] },
  depth = 0,
) {
  if (!isRecord(value) || depth > 6) return;
  for (const [key, member] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (typeof member === 'string' && key.startsWith('encrypted_')) {
      out.fields.push({ path: at, cseName: CSE_NAMES.has(key) ? (key as CseFieldName) : null, text: member });
    } else if ((typeof member === 'string' || typeof member === 'number') && CLEAR_MEMBERS.has(key)) {
      out.clear.push({ path: at, value: String(member) });
    } else if (isRecord(member)) {
      walk(member, at, out, depth + 1);
    }
  }
}

function classifyJson(json: unknown, findings: DiagnosisFinding[]): Classified {
  if (!isRecord(json))
    return empty('json', [...findings, finding('UNRECOGNISED', { reason: 'JSON that is not an object' })]);
  if (json.kty !== undefined && JWK_PRIVATE.some((m) => m in json)) {
    return empty('pem-private', [...findings, finding('PEM_PRIVATE_KEY', { format: 'JWK' })]);
  }
  if (json.kty === 'RSA') return { ...empty('pem-public', findings), publicKey: JSON.stringify(json) };
  if ('set_id' in json && ('ciphertext' in json || 'mac' in json)) {
    const envelope: EnvelopeToCheck = { setId: json.set_id, ciphertext: json.ciphertext, mac: json.mac };
    if ('iv' in json) envelope.iv = json.iv;
    return { ...empty('iv' in json ? 'envelope-response' : 'envelope', findings), envelope };
  }
  const out = { fields: [] as FieldToCheck[], clear: [] as { path: string; value: string }[] };
  walk(json, '', out);
  const verify = isRecord(json.fields) && typeof json.padding === 'string';
  for (const c of out.clear) findings.push(clearValueFinding(c.path, c.value));
  if (out.fields.length === 0 && out.clear.length === 0) {
    return empty('json', [
      ...findings,
      finding('UNRECOGNISED', { reason: 'no encrypted_* member, envelope or key' }),
    ]);
  }
  const padding =
    json.padding === 'RSAES-PKCS1-V1_5' || json.padding === 'RSAES-OAEP-SHA256' ? json.padding : null;
  return {
    ...empty(verify ? 'verify-body' : 'cse-body', findings),
    fields: out.fields,
    padding,
    keyId: typeof json.key_id === 'string' ? json.key_id.slice(0, 128) : null,
  };
}

/** A CLEAR_VALUE finding that shows the value's shape only. */
export function clearValueFinding(path: string, value: string): DiagnosisFinding {
  const digits = value.replace(/[\s-]/g, '');
  return finding('CLEAR_VALUE', { field: path, ...shapeOfText(/^\d+$/.test(digits) ? digits : value) });
}

/** What the pasted text is, and the findings that follow from its wrapping alone. */
export function classify(input: string): Classified {
  const findings: DiagnosisFinding[] = [];
  let text = input.trim();
  if (text === '') return empty('empty', [finding('UNRECOGNISED', { reason: 'empty input' })]);
  if (PRIVATE_PEM.test(text)) return empty('pem-private', [finding('PEM_PRIVATE_KEY', { format: 'PEM' })]);
  if (text.includes('-----BEGIN ')) return { ...empty('pem-public'), publicKey: text };

  // A whole body first: its own escapes are its business.
  if (text.startsWith('{')) {
    try {
      return classifyJson(JSON.parse(text), findings);
    } catch {
      return empty('json', [finding('UNRECOGNISED', { reason: 'starts like JSON but does not parse' })]);
    }
  }
  const quoted = /^["'].*["']$/s.test(text);
  if (quoted || JSON_ESCAPE.test(text)) {
    const inner = quoted && text.startsWith("'") ? text.slice(1, -1) : unescapeJson(text);
    if (inner !== null && inner !== text) {
      findings.push(finding('QUOTED_OR_ESCAPED', { quoted, escaped: JSON_ESCAPE.test(text) }));
      text = inner.trim();
      if (text.startsWith('{')) {
        try {
          return classifyJson(JSON.parse(text), findings);
        } catch {
          /* a quoted value that only looks like JSON: diagnose it as a value */
        }
      }
    }
  }
  const digits = text.replace(/[\s-]/g, '');
  if (/^\d{3,19}$/.test(digits)) return empty('unknown', [...findings, clearValueFinding('value', digits)]);
  return {
    ...empty(/^[0-9a-fA-F\s]+$/.test(text) ? 'hex' : 'base64', findings),
    fields: [{ path: 'value', cseName: null, text }],
  };
}

// ------------------------------------------------------------------ encoding

export interface DecodedField {
  bytes: Uint8Array | null;
  encoding: 'base64' | 'hex' | null;
  findings: DiagnosisFinding[];
}

function standardFromUrl(text: string): string {
  const std = text.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  return std + '='.repeat((4 - (std.length % 4)) % 4);
}

/**
 * Decode a field the way a forgiving reader would, and say each liberty taken: whitespace,
 * base64url, missing padding, hex. `expected` is the modulus length the field should have
 * (used to tell a truncated value from a merely unpadded one).
 */
export function decodeField(raw: string, expected: number | null): DecodedField {
  const findings: DiagnosisFinding[] = [];
  if (/\s/.test(raw)) {
    const breaks = (raw.match(/\n/g) ?? []).length;
    findings.push(finding('WHITESPACE', { lineBreaks: breaks, spaces: (raw.match(/ /g) ?? []).length }));
  }
  const text = raw.replace(/\s+/g, '');
  if (text === '')
    return { bytes: null, encoding: null, findings: [finding('UNRECOGNISED', { reason: 'empty value' })] };

  // Hex wins when only hex digits are present: a long base64 ciphertext without a letter past f is not met in practice.
  if (/^[0-9a-fA-F]+$/.test(text) && text.length >= 32) {
    if (text.length % 2 !== 0) {
      findings.push(finding('HEX_ODD_LENGTH', { hexDigits: text.length }));
      return { bytes: null, encoding: 'hex', findings };
    }
    const hex = parseHex(text);
    if (hex.ok) {
      findings.push(finding('HEX_NOT_BASE64', { bytes: hex.bytes.length }));
      return { bytes: hex.bytes, encoding: 'hex', findings };
    }
  }

  let parsed = parseBase64(text);
  if (!parsed.ok) {
    const issue = parsed.issue;
    // Mixed alphabets happen too (a '+' replaced by hand, '/' left): still base64url's characters.
    if (issue.kind === 'base64url' && /^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
      const fixed = parseBase64(standardFromUrl(text));
      if (fixed.ok) {
        findings.push(finding('BASE64URL', { at: issue.index + 1, padded: text.endsWith('=') }));
        parsed = fixed;
      }
    } else if (issue.kind === 'bad_padding' && issue.reason === 'missing') {
      const fixed = parseBase64(text + '='.repeat((4 - (text.length % 4)) % 4));
      if (fixed.ok) {
        const short = expected !== null && fixed.bytes.length < expected;
        if (!short) findings.push(finding('MISSING_PADDING', { chars: text.length }));
        parsed = fixed;
      } else {
        // Leftover bits in a partial last group: the text was cut inside a group.
        const whole = parseBase64(text.slice(0, text.length - (text.length % 4)));
        findings.push(
          finding('TRUNCATED', { chars: text.length, ...(expected ? { expectedBytes: expected } : {}) }),
        );
        return { bytes: whole.ok ? whole.bytes : null, encoding: 'base64', findings };
      }
    } else if (issue.kind === 'bad_length') {
      // One character past a whole group carries no byte: the text was cut.
      const cut = parseBase64(text.slice(0, text.length - 1).replace(/=+$/, ''));
      const bytes = cut.ok ? cut.bytes : null;
      findings.push(
        finding('TRUNCATED', { chars: text.length, ...(expected ? { expectedBytes: expected } : {}) }),
      );
      return { bytes, encoding: 'base64', findings };
    }
    if (!parsed.ok) {
      findings.push(finding('NOT_ENCODED', { reason: parsed.message.slice(0, 120) }));
      return { bytes: null, encoding: null, findings };
    }
  }
  let bytes = parsed.bytes;
  if (parsed.inner !== null) {
    const inner = String.fromCharCode(...bytes);
    const again = parsed.inner === 'hex' ? parseHex(inner) : parseBase64(inner);
    findings.push(
      finding('DOUBLE_ENCODED', { outer: 'base64', inner: parsed.inner, outerBytes: bytes.length }),
    );
    if (again.ok) bytes = again.bytes;
  }
  return { bytes, encoding: 'base64', findings };
}

/** What the length of an RSA ciphertext says against the modulus it should have. */
export function lengthFindings(
  length: number,
  expected: number | null,
  alreadyTruncated: boolean,
): DiagnosisFinding[] {
  if (alreadyTruncated) return [];
  const size = (RSA_SIZES as readonly number[]).includes(length);
  if (expected !== null && length === expected) return [];
  if (size) {
    return expected === null
      ? []
      : [finding('WRONG_KEY_SIZE', { bytes: length, madeWithBits: length * 8, expectedBits: expected * 8 })];
  }
  const reference = expected ?? 256;
  if (length < reference) return [finding('TRUNCATED', { bytes: length, expectedBytes: reference })];
  return [finding('WRONG_KEY_SIZE', { bytes: length, expectedBytes: reference, wholeKeySize: false })];
}

// ------------------------------------------------------------------ decrypted values

const FATAL_UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Safe facts about a clear value: kind, length, last 4 of long numbers, Luhn/ABA, never the value. */
export function shapeOfText(value: string): Evidence {
  const digits = /^\d+$/.test(value);
  if (digits && value.length >= 12 && value.length <= 19) {
    const pan = checkPan(value);
    return {
      looksLike: 'card number',
      length: value.length,
      last4: value.slice(-4),
      luhnOk: luhnValid(value),
      network: pan.network ? NETWORK_NAMES[pan.network] : null,
    };
  }
  if (digits && value.length === 9)
    return { looksLike: 'routing or account number', length: 9, abaOk: abaChecksumOk(value) };
  if (digits && value.length >= 8)
    return { looksLike: 'account number', length: value.length, last4: value.slice(-4) };
  if (digits && value.length >= 3 && value.length <= 4)
    return { looksLike: 'security code', length: value.length };
  if (/^(0[1-9]|1[0-2])\/?(\d{2}|\d{4})$/.test(value))
    return { looksLike: 'expiration date', length: value.length };
  if (/^%B\d|^;\d{12,19}=/.test(value)) return { looksLike: 'track data', length: value.length };
  if (/^[{[]/.test(value)) {
    try {
      const json: unknown = JSON.parse(value);
      return {
        looksLike: 'JSON',
        length: value.length,
        members: isRecord(json) ? Object.keys(json).slice(0, 12).join(',') : null,
      };
    } catch {
      /* text */
    }
  }
  return { looksLike: 'text', length: value.length };
}

export interface ClearShape {
  evidence: Evidence;
  /** UTF-8 text without control characters. */
  readable: boolean;
  /** The text is base64 of this many bytes (a modulus length means it was encrypted twice). */
  base64Bytes: number | null;
}

/** The shape of decrypted bytes (never the bytes). */
export function shapeOfClear(bytes: Uint8Array): ClearShape {
  let text: string;
  try {
    text = FATAL_UTF8.decode(bytes);
  } catch {
    return { evidence: { looksLike: 'binary', length: bytes.length }, readable: false, base64Bytes: null };
  }
  // eslint-disable-next-line no-control-regex
  const readable = !/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text);
  if (!readable)
    return { evidence: { looksLike: 'binary', length: bytes.length }, readable, base64Bytes: null };
  // Digits are digits (a 16-digit PAN is also valid base64); a short base64 is no ciphertext.
  const b64 = text.length >= 88 && !/^\d+$/.test(text) ? parseBase64(text.trim()) : null;
  if (b64?.ok) {
    return {
      evidence: { looksLike: 'base64', length: text.length, decodedBytes: b64.bytes.length },
      readable,
      base64Bytes: b64.bytes.length,
    };
  }
  return { evidence: shapeOfText(text), readable, base64Bytes: null };
}

/**
 * CBC with a wrong IV spoils the first block only: garbage there and readable text after it
 * says "wrong IV" rather than "wrong key" (which spoils everything).
 */
export function wrongIvShape(bytes: Uint8Array): boolean {
  if (bytes.length <= 16) return false;
  const head = shapeOfClear(bytes.subarray(0, 16));
  const tail = shapeOfClear(bytes.subarray(16));
  return !head.readable && tail.readable;
}

export const SEVERITY_RANK = { error: 0, warning: 1, info: 2, ok: 3 } as const;

/** Most severe first; the engine's order (most specific first) within a severity. */
export function sortFindings(findings: DiagnosisFinding[]): DiagnosisFinding[] {
  return findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => SEVERITY_RANK[a.f.severity] - SEVERITY_RANK[b.f.severity] || a.i - b.i)
    .map(({ f }) => f);
}
