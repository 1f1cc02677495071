import { MkmError } from '../errors.std';

/**
 * Strict base64 (RFC 4648 section 4, with padding) and hex, for values people paste into
 * the console: every refusal says what is wrong and where, so support can tell a truncated
 * ciphertext from a base64url one or a PEM pasted into a field. Positions are 0-based
 * `index` in the data; messages say "position N" counting from 1, as a person would.
 * Pure: no Buffer, no atob, so the renderer runs the same code.
 */

export type EncodingIssue =
  | { kind: 'empty' }
  | { kind: 'pem'; label: string }
  | { kind: 'whitespace'; index: number }
  | { kind: 'base64url'; index: number }
  | { kind: 'hex_prefix' }
  | { kind: 'bad_character'; index: number; char: string }
  | { kind: 'uppercase'; index: number }
  | { kind: 'bad_padding'; index: number; reason: 'misplaced' | 'too_much' | 'missing' | 'nonzero_bits' }
  | { kind: 'bad_length'; length: number }
  | { kind: 'odd_length'; length: number }
  | { kind: 'wrong_length'; expected: readonly number[]; actual: number };

export type Decoded =
  | { ok: true; bytes: Uint8Array; inner: InnerEncoding }
  | { ok: false; issue: EncodingIssue; message: string };

/** Set when the decoded bytes are themselves base64 or hex text: the value was encoded twice. */
export type InnerEncoding = 'base64' | 'hex' | null;

export interface LengthOption {
  /** Accepted decoded lengths in bytes. */
  length?: number | readonly number[];
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_VALUE[B64.charCodeAt(i)] = i;

const PEM_HEADER = /^\s*-----BEGIN ([A-Z0-9 ]+)-----/;
const WHITESPACE = /\s/;

function printable(ch: string): string {
  const code = ch.codePointAt(0)!;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return code >= 0x21 && code <= 0x7e ? `'${ch}' (${hex})` : hex;
}

export function describeIssue(issue: EncodingIssue): string {
  switch (issue.kind) {
    case 'empty':
      return 'the value is empty';
    case 'pem':
      return `this is a PEM block (${issue.label}), not a bare encoded value`;
    case 'whitespace':
      return `whitespace at position ${issue.index + 1}; remove spaces and line breaks`;
    case 'base64url':
      return `'-' or '_' at position ${issue.index + 1}: this is base64url, standard base64 uses '+' and '/'`;
    case 'hex_prefix':
      return "starts with '0x'; give the hex digits only";
    case 'bad_character':
      return `bad character ${issue.char} at position ${issue.index + 1}`;
    case 'uppercase':
      return `uppercase hex digit at position ${issue.index + 1}; lowercase is required`;
    case 'bad_padding':
      return {
        misplaced: `'=' at position ${issue.index + 1} is padding but data follows it`,
        too_much: `too much '=' padding from position ${issue.index + 1} (at most two)`,
        missing: `bad padding: '=' missing at position ${issue.index + 1} (length must be a multiple of 4)`,
        nonzero_bits: `bad padding: the character at position ${issue.index + 1} has bits that padding discards (not canonical)`,
      }[issue.reason];
    case 'bad_length':
      return `wrong length: ${issue.length} characters cannot be base64 (truncated?)`;
    case 'odd_length':
      return `wrong length: ${issue.length} hex digits is odd`;
    case 'wrong_length':
      return `wrong length: ${issue.actual} bytes, expected ${issue.expected.join(' or ')}`;
  }
}

function fail(issue: EncodingIssue): Decoded {
  return { ok: false, issue, message: describeIssue(issue) };
}

function lengths(option: LengthOption['length']): readonly number[] | null {
  if (option === undefined) return null;
  return typeof option === 'number' ? [option] : option;
}

/** The first character that makes `text` not base64 data, or null. Padding is checked later. */
function base64CharIssue(text: string): EncodingIssue | null {
  let padStart = -1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const code = text.charCodeAt(i);
    if (ch === '=') {
      if (padStart < 0) padStart = i;
      continue;
    }
    // Before the padding check: a trailing newline after '==' is a paste slip, not misplaced padding.
    if (WHITESPACE.test(ch)) return { kind: 'whitespace', index: i };
    if (padStart >= 0) return { kind: 'bad_padding', index: padStart, reason: 'misplaced' };
    if (code < 128 && B64_VALUE[code]! >= 0) continue;
    if (ch === '-' || ch === '_') return { kind: 'base64url', index: i };
    return { kind: 'bad_character', index: i, char: printable(String.fromCodePoint(text.codePointAt(i)!)) };
  }
  return null;
}

function base64ShapeIssue(text: string): EncodingIssue | null {
  const pad = text.length - text.replace(/=+$/, '').length;
  const dataLength = text.length - pad;
  if (pad > 2) return { kind: 'bad_padding', index: dataLength, reason: 'too_much' };
  // 1 data character past a group cannot carry a byte, whatever the padding: truncation.
  if (dataLength % 4 === 1) return { kind: 'bad_length', length: text.length };
  const expectedPad = (4 - (dataLength % 4)) % 4;
  if (pad > expectedPad) return { kind: 'bad_padding', index: dataLength + expectedPad, reason: 'too_much' };
  if (pad < expectedPad) return { kind: 'bad_padding', index: text.length, reason: 'missing' };
  if (expectedPad > 0) {
    const last = B64_VALUE[text.charCodeAt(dataLength - 1)]!;
    const unusedBits = expectedPad === 1 ? 0b11 : 0b1111;
    if ((last & unusedBits) !== 0)
      return { kind: 'bad_padding', index: dataLength - 1, reason: 'nonzero_bits' };
  }
  return null;
}

function decodeValid(text: string): Uint8Array {
  const dataLength = text.replace(/=+$/, '').length;
  const out = new Uint8Array(Math.floor((dataLength * 6) / 8));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < dataLength; i++) {
    acc = (acc << 6) | B64_VALUE[text.charCodeAt(i)]!;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

function isBase64Text(bytes: Uint8Array): boolean {
  if (bytes.length < 4 || bytes.length % 4 !== 0 || bytes.length > 8192) return false;
  const text = String.fromCharCode(...bytes);
  return base64CharIssue(text) === null && base64ShapeIssue(text) === null;
}

function isHexText(bytes: Uint8Array): boolean {
  if (bytes.length < 2 || bytes.length % 2 !== 0) return false;
  return bytes.every((b) => (b >= 48 && b <= 57) || (b >= 97 && b <= 102) || (b >= 65 && b <= 70));
}

function innerEncoding(bytes: Uint8Array): InnerEncoding {
  if (isHexText(bytes)) return 'hex';
  return isBase64Text(bytes) ? 'base64' : null;
}

function lengthIssue(bytes: Uint8Array, option: LengthOption['length']): EncodingIssue | null {
  const expected = lengths(option);
  if (expected === null || expected.includes(bytes.length)) return null;
  return { kind: 'wrong_length', expected, actual: bytes.length };
}

/** Strict standard base64 with padding: no whitespace, no base64url, canonical padding bits. */
export function parseBase64(text: string, options: LengthOption = {}): Decoded {
  if (text.length === 0) return fail({ kind: 'empty' });
  const pem = PEM_HEADER.exec(text);
  if (pem) return fail({ kind: 'pem', label: pem[1]! });
  const issue = base64CharIssue(text) ?? base64ShapeIssue(text);
  if (issue) return fail(issue);
  const bytes = decodeValid(text);
  const wrong = lengthIssue(bytes, options.length);
  return wrong ? fail(wrong) : { ok: true, bytes, inner: innerEncoding(bytes) };
}

export interface HexOptions extends LengthOption {
  /** Refuse A-F, as the contract's fingerprints and KCVs are lowercase. */
  lowercase?: boolean;
}

function hexCharIssue(text: string, lowercase: boolean): EncodingIssue | null {
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (/[0-9a-f]/.test(ch)) continue;
    if (/[A-F]/.test(ch)) {
      if (lowercase) return { kind: 'uppercase', index: i };
      continue;
    }
    if (WHITESPACE.test(ch)) return { kind: 'whitespace', index: i };
    return { kind: 'bad_character', index: i, char: printable(String.fromCodePoint(text.codePointAt(i)!)) };
  }
  return null;
}

/** Strict hex: even length, no prefix, no separators. */
export function parseHex(text: string, options: HexOptions = {}): Decoded {
  if (text.length === 0) return fail({ kind: 'empty' });
  if (/^0[xX]/.test(text)) return fail({ kind: 'hex_prefix' });
  const issue = hexCharIssue(text, options.lowercase ?? false);
  if (issue) return fail(issue);
  if (text.length % 2 !== 0) return fail({ kind: 'odd_length', length: text.length });
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  const wrong = lengthIssue(bytes, options.length);
  return wrong ? fail(wrong) : { ok: true, bytes, inner: innerEncoding(bytes) };
}

function orThrow(result: Decoded, what: string): Uint8Array {
  if (result.ok) return result.bytes;
  const details: Record<string, string | number> = { reason: result.issue.kind };
  if ('index' in result.issue) details.index = result.issue.index;
  throw new MkmError('ENCODING_INVALID', `${what}: ${result.message}`, details);
}

/** `parseBase64` that throws ENCODING_INVALID; `what` names the field in the message. */
export function decodeBase64(text: string, what = 'value', options: LengthOption = {}): Uint8Array {
  return orThrow(parseBase64(text, options), what);
}

/** `parseHex` that throws ENCODING_INVALID. */
export function decodeHex(text: string, what = 'value', options: HexOptions = {}): Uint8Array {
  return orThrow(parseHex(text, options), what);
}

export function encodeBase64(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + '==';
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + '=';
  }
  return out;
}

export function encodeHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

export interface EncodingReport {
  /** What the text most plausibly is; 'hex' wins over 'base64' when both parse. */
  kind: 'pem' | 'hex' | 'base64' | 'base64url' | 'unknown';
  /** Whitespace was present (the other findings are about the text without it). */
  whitespace: boolean;
  /** Decoded length for `kind`, null for pem and unknown. */
  bytes: number | null;
  /** The decoded bytes are base64 or hex text again. */
  inner: InnerEncoding;
  /** Why strict base64 refused the text (when it did). */
  base64Issue: string | null;
  pemLabel: string | null;
}

function base64UrlToStandard(text: string): string {
  const std = text.replace(/-/g, '+').replace(/_/g, '/');
  return std + '='.repeat((4 - (std.length % 4)) % 4);
}

/** A troubleshooter's look at a pasted value: never throws, never returns the decoded bytes. */
export function detectEncoding(text: string): EncodingReport {
  const pem = PEM_HEADER.exec(text);
  const base = { whitespace: WHITESPACE.test(text), pemLabel: pem?.[1] ?? null };
  if (pem) return { ...base, kind: 'pem', bytes: null, inner: null, base64Issue: null };
  const compact = text.replace(/\s+/g, '');
  const hex = parseHex(compact);
  const b64 = parseBase64(compact);
  if (hex.ok) return { ...base, kind: 'hex', bytes: hex.bytes.length, inner: hex.inner, base64Issue: null };
  if (b64.ok)
    return { ...base, kind: 'base64', bytes: b64.bytes.length, inner: b64.inner, base64Issue: null };
  const url = /^[A-Za-z0-9_-]+={0,2}$/.test(compact)
    ? parseBase64(base64UrlToStandard(compact.replace(/=+$/, '')))
    : null;
  if (url?.ok)
    return {
      ...base,
      kind: 'base64url',
      bytes: url.bytes.length,
      inner: url.inner,
      base64Issue: b64.message,
    };
  return { ...base, kind: 'unknown', bytes: null, inner: null, base64Issue: b64.message };
}
