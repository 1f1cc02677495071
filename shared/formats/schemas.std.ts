import { z } from 'zod';
import { parseBase64, parseHex } from './encoding.std';

/**
 * zod building blocks for the contract's binary fields, so every schema reports the same
 * precise reasons as the encoding parsers ("iv: wrong length: 12 bytes, expected 16")
 * instead of a bare "invalid string". They output the decoded bytes.
 */

export interface Base64FieldOptions {
  /** Exact decoded length(s). */
  length?: number | readonly number[];
  /** Minimum decoded length. */
  min?: number;
  /** Decoded length must be a multiple of this (16 for AES-CBC ciphertext). */
  multipleOf?: number;
}

function lengthProblem(n: number, options: Base64FieldOptions): string | null {
  if (options.min !== undefined && n < options.min) return `too short: ${n} bytes, at least ${options.min}`;
  if (options.multipleOf !== undefined && n % options.multipleOf !== 0) {
    return `wrong length: ${n} bytes is not a multiple of ${options.multipleOf}`;
  }
  return null;
}

/** Standard base64 with padding, decoded to bytes. */
export function base64Bytes(options: Base64FieldOptions = {}) {
  return z.string().transform((text, ctx): Uint8Array => {
    const parsed = parseBase64(text, { length: options.length });
    const problem = parsed.ok ? lengthProblem(parsed.bytes.length, options) : parsed.message;
    if (problem !== null || !parsed.ok) {
      ctx.addIssue({ code: 'custom', message: problem ?? 'invalid base64' });
      return z.NEVER;
    }
    return parsed.bytes;
  });
}

/** Lowercase hex of an exact byte length, kept as the string (KCVs, fingerprints). */
export function lowercaseHex(bytes: number) {
  return z.string().superRefine((text, ctx) => {
    const parsed = parseHex(text, { lowercase: true, length: bytes });
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.message });
  });
}

/** "path.to.field: reason" lines, for an error's details and a support log. */
export function issueLines(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`);
}
