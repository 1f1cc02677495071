import { createHmac } from 'node:crypto';

/**
 * What the gateway may say about a value it decrypted, per ../shared/gateway-api.md: enough
 * for the payload console to show a match, never the value itself.
 */
export type FieldKind = 'card' | 'account' | 'routing' | 'cvv' | 'expiration' | 'swipe';

export interface FieldFacts {
  length: number;
  last4?: string;
  tag?: string;
  luhn_ok?: boolean;
  aba_ok?: boolean;
}

export function luhnOk(value: string): boolean {
  // ISO/IEC 7812 PANs are 12 to 19 digits; anything else is not a card number.
  if (!/^\d{12,19}$/.test(value)) return false;
  let sum = 0;
  for (let i = 0; i < value.length; i++) {
    let d = value.charCodeAt(value.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** ABA routing number: 9 digits, 3-7-1 weighted sum divisible by 10. */
export function abaOk(value: string): boolean {
  if (!/^\d{9}$/.test(value)) return false;
  const d = [...value].map((c) => c.charCodeAt(0) - 48);
  const sum = 3 * (d[0]! + d[3]! + d[6]!) + 7 * (d[1]! + d[4]! + d[7]!) + (d[2]! + d[5]! + d[8]!);
  return sum % 10 === 0;
}

export function fieldTag(salt: Buffer, value: string): string {
  return createHmac('sha256', salt).update(value, 'utf8').digest('hex');
}

export function describeField(kind: FieldKind, value: string, salt: Buffer): FieldFacts {
  // Characters, not UTF-16 units: what a person counts on the screen.
  const length = [...value].length;
  const facts: FieldFacts = { length };
  if ((kind === 'card' || kind === 'account') && length >= 8) facts.last4 = [...value].slice(-4).join('');
  if (kind === 'card' || kind === 'account' || kind === 'routing') facts.tag = fieldTag(salt, value);
  if (kind === 'card') facts.luhn_ok = luhnOk(value);
  if (kind === 'routing') facts.aba_ok = abaOk(value);
  return facts;
}

/** Strict standard base64 with padding: the contract's encoding, nothing looser. */
export function decodeBase64Strict(text: string): Buffer | null {
  if (text.length === 0 || text.length % 4 !== 0) return null;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  const buf = Buffer.from(text, 'base64');
  // Non-canonical trailing bits would decode anyway; re-encoding catches them.
  return buf.toString('base64') === text ? buf : null;
}
