import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { MkmError, type ErrorCode } from '../../shared/errors.std';
import { parseBase64 } from '../../shared/formats/encoding.std';
import { base64Bytes, issueLines, lowercaseHex } from '../../shared/formats/schemas.std';

/**
 * The contract's key-rolling secure message on CLEAR keys: the sandbox gateway, tests and
 * the interop check use it. The app itself does the same arithmetic inside the token.
 *   ciphertext = AES-256-CBC(enc_key, iv, PKCS#7(UTF-8 JSON))
 *   mac        = HMAC-SHA256(mac_key, ASCII(dir) || 0x2e || UTF-8(set_id) || 0x2e || iv || ciphertext)
 * with dir = `req` for the client's message and `rsp` for the gateway's answer (contract 1.1), so a
 * request reflected back as an answer fails its MAC.
 * Opening checks the MAC first and answers every failure with one MAC_INVALID, so neither
 * the padding nor the JSON can become an oracle.
 */

const AES_KEY_BYTES = 32;
const BLOCK = 16;
const MAC_BYTES = 32;
const DOT = Buffer.from([0x2e]);

export interface CbcOptions {
  /** PKCS#7 padding (the envelope's); off only to run NIST's block-aligned vectors. */
  pkcs7?: boolean;
}

function checkKeyIv(key: Uint8Array, iv: Uint8Array): void {
  if (key.length !== AES_KEY_BYTES) throw new RangeError('AES-256 needs a 32-byte key');
  if (iv.length !== BLOCK) throw new RangeError('AES-CBC needs a 16-byte IV');
}

export function aes256CbcEncrypt(
  key: Uint8Array,
  iv: Uint8Array,
  plaintext: Uint8Array,
  options: CbcOptions = {},
) {
  checkKeyIv(key, iv);
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  cipher.setAutoPadding(options.pkcs7 ?? true);
  return Buffer.concat([cipher.update(plaintext), cipher.final()]);
}

export function aes256CbcDecrypt(
  key: Uint8Array,
  iv: Uint8Array,
  ciphertext: Uint8Array,
  options: CbcOptions = {},
) {
  checkKeyIv(key, iv);
  const decipher = createDecipheriv('aes-256-cbc', key, iv);
  decipher.setAutoPadding(options.pkcs7 ?? true);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

export function hmacSha256(key: Uint8Array, data: Uint8Array): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** Who wrote a message: the client (`req`) or the gateway (`rsp`). */
export type MacDirection = 'req' | 'rsp';

/**
 * ASCII(dir) || 0x2e || UTF-8(set_id) || 0x2e || iv || ciphertext. `dir` is fixed-length and a set
 * id has no dot, and the fixed 16-byte IV keeps the rest of the split unambiguous.
 */
export function macInput(dir: MacDirection, setId: string, iv: Uint8Array, ciphertext: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(dir, 'ascii'), DOT, Buffer.from(setId, 'utf8'), DOT, iv, ciphertext]);
}

export interface SealedMessage {
  set_id: string;
  ciphertext: string;
  mac: string;
}

export interface SealInput {
  dir: MacDirection;
  setId: string;
  encKey: Uint8Array;
  macKey: Uint8Array;
  iv: Uint8Array;
  /** A string is taken as UTF-8 (the contract's JSON body). */
  plaintext: string | Uint8Array;
}

export function sealMessage(input: SealInput): SealedMessage {
  const plain = typeof input.plaintext === 'string' ? Buffer.from(input.plaintext, 'utf8') : input.plaintext;
  const ciphertext = aes256CbcEncrypt(input.encKey, input.iv, plain);
  const mac = hmacSha256(input.macKey, macInput(input.dir, input.setId, input.iv, ciphertext));
  return { set_id: input.setId, ciphertext: ciphertext.toString('base64'), mac: mac.toString('base64') };
}

export interface OpenInput {
  /** Who wrote the message being opened. */
  dir: MacDirection;
  /** As received (base64 strings) or as parsed by the schemas below (bytes). */
  message: { set_id: string; ciphertext: string | Uint8Array; mac: string | Uint8Array };
  encKey: Uint8Array;
  macKey: Uint8Array;
  /** The set's IV for a request; the response's own `iv` for a response. */
  iv: Uint8Array;
}

function macMatches(expected: Buffer, given: Uint8Array | null): boolean {
  // A wrong-length MAC is public information; compare anyway so the work done is the same.
  const other = given !== null && given.length === MAC_BYTES ? given : Buffer.alloc(MAC_BYTES);
  return timingSafeEqual(expected, other) && given !== null && given.length === MAC_BYTES;
}

function bytesOrNull(value: string | Uint8Array): Uint8Array | null {
  if (typeof value !== 'string') return value;
  const parsed = parseBase64(value);
  return parsed.ok ? parsed.bytes : null;
}

/** The plaintext bytes, or MAC_INVALID for anything wrong (MAC, encoding, length, padding). */
export function openMessage(input: OpenInput): Buffer {
  const invalid = () => new MkmError('MAC_INVALID');
  const { message } = input;
  const ciphertext = bytesOrNull(message.ciphertext);
  const expected = hmacSha256(
    input.macKey,
    macInput(input.dir, message.set_id, input.iv, ciphertext ?? new Uint8Array(0)),
  );
  if (!macMatches(expected, bytesOrNull(message.mac)) || ciphertext === null) throw invalid();
  try {
    return aes256CbcDecrypt(input.encKey, input.iv, ciphertext);
  } catch {
    throw invalid();
  }
}

/** seal a JSON value (the request or response body). */
export function sealJson(input: Omit<SealInput, 'plaintext'> & { body: unknown }): SealedMessage {
  return sealMessage({ ...input, plaintext: JSON.stringify(input.body) });
}

/** open and parse; JSON that does not parse is MAC_INVALID too (it passed the MAC, so it is the peer's bug). */
export function openJson(input: OpenInput): unknown {
  const text = openMessage(input).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new MkmError('MAC_INVALID');
  }
}

// ---------------------------------------------------------------------------------------
// Schemas. Incoming gateway objects strip unknown members (a newer gateway may add some);
// what the sandbox receives from clients is strict.

/** Set ids go into the MAC input and into logs: keep them short and printable. */
const setId = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be 1-128 characters of A-Z a-z 0-9 _ -');
const keyId = z.string().min(1).max(128);

/** `next_key_set` (contract 1.1, signed); wrapped keys must be exactly the merchant modulus length when it is known. */
export function nextKeySetSchema(modulusBytes?: number) {
  const wrapped =
    modulusBytes === undefined
      ? base64Bytes({ length: [256, 384, 512] })
      : base64Bytes({ length: modulusBytes });
  return z
    .object({
      set_id: setId,
      wrapping_key_id: keyId,
      enc_key: wrapped,
      mac_key: wrapped,
      iv: base64Bytes({ length: BLOCK }),
      enc_kcv: lowercaseHex(3),
      mac_kcv: lowercaseHex(3),
      expires_at: z.iso.datetime({ offset: true }),
      // Contract 1.1: who it was made for, when, and the gateway signing key's signature over it.
      merchant: z.string().min(1).max(256),
      issued_at: z.iso.datetime({ offset: true }),
      signing_key_id: keyId,
      sig: base64Bytes({ length: [384, 512] }),
    })
    .superRefine((set, ctx) => {
      // Both keys are wrapped under the same merchant key, so their lengths can only agree.
      if (set.enc_key.length !== set.mac_key.length) {
        ctx.addIssue({
          code: 'custom',
          path: ['mac_key'],
          message: `wrong length: ${set.mac_key.length} bytes, enc_key has ${set.enc_key.length}`,
        });
      }
    });
}

const ciphertextField = base64Bytes({ min: BLOCK, multipleOf: BLOCK });
const macField = base64Bytes({ length: MAC_BYTES });

/** `POST /v1/secure/{operation}` body, as the gateway receives it. */
export const secureRequestSchema = z.strictObject({
  set_id: setId,
  ciphertext: ciphertextField,
  mac: macField,
});

/** The gateway's secure response. */
export function secureResponseSchema(modulusBytes?: number) {
  return z.object({
    set_id: setId,
    iv: base64Bytes({ length: BLOCK }),
    ciphertext: ciphertextField,
    mac: macField,
    next_key_set: nextKeySetSchema(modulusBytes),
  });
}

export type NextKeySet = z.output<ReturnType<typeof nextKeySetSchema>>;
export type SecureRequest = z.output<typeof secureRequestSchema>;
export type SecureResponse = z.output<ReturnType<typeof secureResponseSchema>>;

function parseWith<T extends z.ZodType>(
  schema: T,
  value: unknown,
  code: ErrorCode,
  what: string,
): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = issueLines(result.error);
  throw new MkmError(code, `${what}: ${issues[0]}`, { issues });
}

/** Parse a gateway's `next_key_set` (GATEWAY_BAD_RESPONSE with every reason on failure). */
export function parseNextKeySet(value: unknown, modulusBytes?: number): NextKeySet {
  return parseWith(nextKeySetSchema(modulusBytes), value, 'GATEWAY_BAD_RESPONSE', 'next_key_set');
}

/** Parse a gateway's secure response envelope. */
export function parseSecureResponse(value: unknown, modulusBytes?: number): SecureResponse {
  return parseWith(secureResponseSchema(modulusBytes), value, 'GATEWAY_BAD_RESPONSE', 'secure response');
}

/** Parse a client's secure request (the sandbox side: VALIDATION on failure). */
export function parseSecureRequest(value: unknown): SecureRequest {
  return parseWith(secureRequestSchema, value, 'VALIDATION', 'secure request');
}
