import { createHash, createHmac } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { filesUnder } from './scan';

/**
 * The offline search an attacker holding mkm's files would run for a card number: take every
 * mask that shows the first six and last four digits, try every middle that passes Luhn (10^6
 * middles, ~10^5 candidates for a 16-digit PAN), and look for any digest of a candidate among
 * the hex and base64 strings of the files: SHA-256 (whole, and its 8-hex prefix, as the
 * troubleshooter once kept), SHA-1, MD5, and HMAC-SHA256 under every salt found (a field named
 * salt, any 16-byte base64 or 32-hex value): what mkm's history once stored. The files are
 * searched together: a mask in one and a digest in another is enough.
 */

export interface PanSearchResult {
  /** Masks found (first six and last four, with their length). */
  masks: string[];
  /** Salts tried (base64 of the bytes). */
  salts: number;
  candidates: number;
  /** The card numbers recovered, with the digest form that gave each away. */
  found: { pan: string; form: string }[];
}

const MASK = /(?<!\d)(\d{6})([•*xX#]{3,9})(\d{4})(?!\d)/g;
/** Middles of at most this many digits are searched (a 16-digit PAN has 6): enough for the test. */
const MAX_MIDDLE = 6;

function saltsIn(text: string): Buffer[] {
  const out = new Map<string, Buffer>();
  const add = (b: Buffer) => b.length >= 8 && out.set(b.toString('base64'), b);
  for (const m of text.matchAll(/"[A-Za-z_]*salt[A-Za-z_]*"\s*:\s*"([^"]+)"/gi)) {
    add(Buffer.from(m[1]!, /^[0-9a-f]+$/i.test(m[1]!) ? 'hex' : 'base64'));
  }
  for (const m of text.matchAll(/(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/]{22}==(?![A-Za-z0-9+/=])/g)) {
    add(Buffer.from(m[0], 'base64'));
  }
  for (const m of text.matchAll(/(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{22}(?![A-Za-z0-9_=-])/g)) {
    add(Buffer.from(m[0], 'base64url'));
  }
  for (const m of text.matchAll(/(?<![0-9a-fA-F])[0-9a-fA-F]{32}(?![0-9a-fA-F])/g)) {
    add(Buffer.from(m[0], 'hex'));
  }
  return [...out.values()];
}

/** Every hex (8+ digits, lower-cased, also as 8-hex prefixes) and base64 (16+ chars) string. */
function digestsIn(text: string): Set<string> {
  const set = new Set<string>();
  for (const m of text.matchAll(/[0-9a-fA-F]{8,}/g)) {
    const hex = m[0].toLowerCase();
    set.add(hex);
    set.add(hex.slice(0, 8));
  }
  for (const m of text.matchAll(/[A-Za-z0-9+/_-]{16,}/g)) set.add(m[0].replace(/=+$/, ''));
  return set;
}

/** Every head + middle + tail that passes Luhn, the middle's Luhn sum worked out digit by digit. */
function* candidates(head: string, middle: number, tail: string): Generator<string> {
  const length = head.length + middle + tail.length;
  // Luhn doubles every second digit counted from the right (the check digit is not doubled).
  const weight = (index: number) => ((length - 1 - index) % 2 === 1 ? 2 : 1);
  const value = (digit: number, index: number) => {
    const v = digit * weight(index);
    return v > 9 ? v - 9 : v;
  };
  let fixed = 0;
  for (let i = 0; i < head.length; i++) fixed += value(Number(head[i]), i);
  for (let i = 0; i < tail.length; i++) fixed += value(Number(tail[i]), head.length + middle + i);
  const n = 10 ** middle;
  for (let m = 0; m < n; m++) {
    const digits = String(m).padStart(middle, '0');
    let sum = fixed;
    for (let i = 0; i < middle; i++) sum += value(digits.charCodeAt(i) - 48, head.length + i);
    if (sum % 10 === 0) yield head + digits + tail;
  }
}

export function searchPans(texts: string[]): PanSearchResult {
  const all = texts.join('\n');
  const masks = new Map<string, { head: string; middle: number; tail: string }>();
  for (const m of all.matchAll(MASK)) {
    masks.set(`${m[1]}${'•'.repeat(m[2]!.length)}${m[3]}`, {
      head: m[1]!,
      middle: m[2]!.length,
      tail: m[3]!,
    });
  }
  const salts = saltsIn(all);
  const digests = digestsIn(all);
  const found: PanSearchResult['found'] = [];
  let count = 0;
  const forms = (pan: string): [string, string][] => {
    const sha256 = createHash('sha256').update(pan).digest();
    const out: [string, string][] = [
      ['sha256', sha256.toString('hex')],
      ['sha256-prefix', sha256.toString('hex').slice(0, 8)],
      ['sha256-b64', sha256.toString('base64').replace(/=+$/, '')],
      ['sha256-b64url', sha256.toString('base64url')],
      ['sha1', createHash('sha1').update(pan).digest('hex')],
      ['md5', createHash('md5').update(pan).digest('hex')],
    ];
    for (const salt of salts) {
      const mac = createHmac('sha256', salt).update(pan).digest();
      out.push(['hmac-sha256(salt)', mac.toString('hex')]);
      out.push(['hmac-sha256(salt)-b64', mac.toString('base64').replace(/=+$/, '')]);
    }
    return out;
  };
  for (const { head, middle, tail } of masks.values()) {
    if (middle > MAX_MIDDLE) continue;
    for (const pan of candidates(head, middle, tail)) {
      count++;
      for (const [form, value] of forms(pan)) {
        if (digests.has(value)) found.push({ pan, form });
      }
    }
  }
  return { masks: [...masks.keys()], salts: salts.length, candidates: count, found };
}

/** The search over every file under the given folders (and single files). */
export function searchPansInFiles(paths: string[]): PanSearchResult & { files: number } {
  const files = paths.flatMap((p) => (statSync(p).isDirectory() ? filesUnder(p) : [p]));
  return { ...searchPans(files.map((f) => readFileSync(f).toString('utf8'))), files: files.length };
}
