import * as pkcs11ns from 'pkcs11js';
import type { AbstractTemplate, BoolAttr } from './templates.std';

/**
 * pkcs11js is CommonJS with a spread `module.exports`, which Node's ESM loader cannot see named
 * exports through; bundlers differ again. Take the default when there is one.
 */
type Pkcs11Module = typeof pkcs11ns;
export const pkcs11js: Pkcs11Module = (pkcs11ns as unknown as { default?: Pkcs11Module }).default ?? pkcs11ns;
export type { Handle, Mechanism, Template, Attribute, PKCS11 } from 'pkcs11js';
import type { Template } from 'pkcs11js';

const P = pkcs11js;

export const BOOL_ATTR: Record<BoolAttr, number> = {
  token: P.CKA_TOKEN,
  private: P.CKA_PRIVATE,
  sensitive: P.CKA_SENSITIVE,
  extractable: P.CKA_EXTRACTABLE,
  encrypt: P.CKA_ENCRYPT,
  decrypt: P.CKA_DECRYPT,
  wrap: P.CKA_WRAP,
  unwrap: P.CKA_UNWRAP,
  sign: P.CKA_SIGN,
  verify: P.CKA_VERIFY,
  derive: P.CKA_DERIVE,
  wrapWithTrusted: P.CKA_WRAP_WITH_TRUSTED,
};

export function toTemplate(t: AbstractTemplate): Template {
  return (Object.entries(t) as [BoolAttr, boolean][]).map(([k, v]) => ({ type: BOOL_ATTR[k], value: v }));
}

/**
 * CK_ULONG as the native layer returns it: 8 bytes on LP64 (Linux, macOS), 4 on Windows;
 * little-endian on every platform Electron ships for.
 */
export function readUlong(buf: Buffer | undefined): number | null {
  if (!buf || buf.length === 0) return null;
  if (buf.length === 8) {
    const v = buf.readBigUInt64LE(0);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(v);
  }
  if (buf.length === 4) return buf.readUInt32LE(0);
  return null;
}

export function readBool(buf: Buffer | undefined): boolean | null {
  return buf && buf.length > 0 ? buf[0] !== 0 : null;
}

/** Slot IDs and handles are CK_ULONG buffers in pkcs11js; the wire carries numbers. */
export function handleToNumber(handle: Buffer): number {
  const n = readUlong(handle);
  if (n === null) throw new RangeError('handle does not fit a safe integer');
  return n;
}

export function numberToHandle(n: number, width: number): Buffer {
  const buf = Buffer.alloc(width);
  if (width === 8) buf.writeBigUInt64LE(BigInt(n));
  else buf.writeUInt32LE(n);
  return buf;
}
