import { MkmError } from '../errors.std';
import type { KeyCheckMethod } from '../tokens.std';
import { formatKcv } from '../wording.std';
import { componentKeyTypeName, type ComponentKeyType } from './components.std';

/**
 * Which key check value method applies to which key, and how long its value is (issue 11:
 * "KCVs labelled by method everywhere"). Pure, so a screen can offer only the methods that
 * apply; electron/crypto/kcv.nodejs.ts computes them and refuses the rest with the same checks.
 */

/** The keys a KCV is computed for from clear bytes: component key types and HMAC keys. */
export type KcvKeyType = ComponentKeyType | 'hmac';

/** A KCV with the method it was computed by: no KCV travels without its label. */
export interface LabelledKcv {
  /** Hex, as computed (lower case); `formatKcv` shows it. */
  kcv: string;
  method: KeyCheckMethod;
}

export const KCV_METHOD_TEXT: Readonly<Record<KeyCheckMethod, string>> = {
  legacy: 'legacy (ANSI X9.24-1: a zero block encrypted in ECB)',
  cmac: 'cmac (X9.24-1:2017 / X9.143: CMAC of a zero block)',
  hmac: 'hmac (HMAC-SHA256 of 16 zero bytes)',
  token: "token (the token's own CKA_CHECK_VALUE)",
};

/** Lengths in bytes a method offers, and the one it gives by default. */
export const KCV_LENGTHS: Readonly<Record<KeyCheckMethod, { min: number; max: number; default: number }>> = {
  legacy: { min: 3, max: 3, default: 3 },
  // X9.24-1:2017 prints 5 bytes; 3 by default so it compares with the 3-byte `cmac` KCVs the
  // token, the gateway contract and the key details screen already show.
  cmac: { min: 3, max: 5, default: 3 },
  hmac: { min: 3, max: 3, default: 3 },
  // PKCS#11 defines CKA_CHECK_VALUE as 3 bytes.
  token: { min: 3, max: 3, default: 3 },
};

/**
 * The methods that apply to a key of this type when computed from its clear bytes. `token` is
 * never among them: that value is read from the token, for a key that lives there.
 */
export function kcvMethodsFor(type: KcvKeyType): KeyCheckMethod[] {
  return type === 'hmac' ? ['hmac'] : ['legacy', 'cmac'];
}

function typeText(type: KcvKeyType): string {
  return type === 'hmac' ? 'HMAC' : componentKeyTypeName(type);
}

/**
 * Refuses a method that does not apply to the key type (KCV_METHOD_NOT_APPLICABLE) or a length
 * the method does not offer (KCV_LENGTH_INVALID); returns the length to use.
 */
export function kcvLength(type: KcvKeyType, method: KeyCheckMethod, length?: number): number {
  if (method === 'token') {
    throw new MkmError(
      'KCV_METHOD_NOT_APPLICABLE',
      "The token's own check value is read from the token; it cannot be computed from clear bytes.",
      { method, keyType: type },
    );
  }
  if (!kcvMethodsFor(type).includes(method)) {
    throw new MkmError(
      'KCV_METHOD_NOT_APPLICABLE',
      `The ${method} check value does not apply to ${typeText(type)} keys; use ${kcvMethodsFor(type).join(' or ')}.`,
      { method, keyType: type },
    );
  }
  const range = KCV_LENGTHS[method];
  const bytes = length ?? range.default;
  if (!Number.isInteger(bytes) || bytes < range.min || bytes > range.max) {
    throw new MkmError(
      'KCV_LENGTH_INVALID',
      range.min === range.max
        ? `A ${method} check value has ${range.min} bytes.`
        : `A ${method} check value has ${range.min} to ${range.max} bytes.`,
      { method, length: String(length) },
    );
  }
  return bytes;
}

/** "08D7B4 (legacy)": how a labelled KCV reads in a sentence or on a sheet. */
export function formatLabelledKcv(value: LabelledKcv): string {
  return `${formatKcv(value.kcv)} (${value.method})`;
}
