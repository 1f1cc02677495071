import { constants, KeyObject, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { MkmError } from '../../shared/errors.std';
import { panDigits } from '../../shared/formats/card.std';
import { parseBase64 } from '../../shared/formats/encoding.std';
import { formatExpiration, parseExpiration, type Expiration } from '../../shared/formats/expiration.std';
import { base64Bytes } from '../../shared/formats/schemas.std';
import { toRsaPublicKey, type RsaPublicKey } from './pem.nodejs';
import { decryptPkcs1v15, modulusBytes } from './rsa-pkcs1.nodejs';

/**
 * Client-side encryption of card and bank fields under the gateway's RSA public key, as
 * PayTrace's JavaScript library does it (RSA-2048, RSAES-PKCS1-v1_5, standard base64 with
 * padding, no prefix), plus the contract's OAEP-SHA256 option. node:crypto's publicEncrypt
 * does the RSA: PKCS#1 v1.5 *encryption* stays allowed in Node 20, only decryption is not.
 */

export const CSE_PADDINGS = ['RSAES-PKCS1-V1_5', 'RSAES-OAEP-SHA256'] as const;
export type CsePadding = (typeof CSE_PADDINGS)[number];

/** A parsed key is fastest (no PEM parse per field); PEM/DER is accepted for one-off calls. */
export type GatewayKey = RsaPublicKey | KeyObject | string | Uint8Array;

const SHA256_BYTES = 32;

/** Longest UTF-8 value one RSA block carries (RFC 8017: k-11 for v1.5, k-2h-2 for OAEP). */
export function maxFieldBytes(modulusBytes: number, padding: CsePadding): number {
  return padding === 'RSAES-PKCS1-V1_5' ? modulusBytes - 11 : modulusBytes - 2 * SHA256_BYTES - 2;
}

function keyObjectOf(key: GatewayKey): KeyObject {
  return key instanceof KeyObject ? key : toRsaPublicKey(key).keyObject;
}

function paddingOptions(padding: CsePadding) {
  return padding === 'RSAES-PKCS1-V1_5'
    ? { padding: constants.RSA_PKCS1_PADDING }
    : { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' };
}

/**
 * base64 of RSA(gateway key, UTF-8 value), exactly the modulus length. OAEP's MGF1 uses the
 * oaepHash in node (and OpenSSL), which is what the contract's "MGF1-SHA-256" asks for.
 */
export function encryptField(publicKey: GatewayKey, utf8Value: string, padding: CsePadding): string {
  const key = keyObjectOf(publicKey);
  const data = Buffer.from(utf8Value, 'utf8');
  const k = modulusBytes(key);
  if (data.length === 0)
    throw new MkmError('VALIDATION', 'An empty value is not encrypted; leave the field out.');
  if (data.length > maxFieldBytes(k, padding)) {
    throw new MkmError('DATA_LEN_RANGE', `The value is too long for one RSA block with ${padding}.`, {
      bytes: data.length,
      max: maxFieldBytes(k, padding),
    });
  }
  return publicEncrypt({ key, ...paddingOptions(padding) }, data).toString('base64');
}

const FATAL_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The gateway side, for the sandbox and tests: base64 field -> UTF-8 value. Every failure
 * (base64, length, padding, UTF-8) is the same ENCRYPTED_DATA_INVALID.
 */
export function decryptField(privateKey: KeyObject, base64Field: string, padding: CsePadding): string {
  const failure = () => new MkmError('ENCRYPTED_DATA_INVALID');
  const k = modulusBytes(privateKey);
  const parsed = parseBase64(base64Field, { length: k });
  if (!parsed.ok) throw failure();
  try {
    const clear =
      padding === 'RSAES-PKCS1-V1_5'
        ? decryptPkcs1v15(privateKey, parsed.bytes)
        : privateDecrypt({ key: privateKey, ...paddingOptions(padding) }, parsed.bytes);
    return FATAL_UTF8.decode(clear);
  } catch {
    throw failure();
  }
}

// ---------------------------------------------------------------------------------------
// PayTrace JSON API bodies

/**
 * PayTrace's JSON API layout, as its public examples show it (keyed and swiped sales,
 * customer profiles): the card number or swipe inside `credit_card` with an `encrypted_`
 * prefix, the CSC at the top level as `encrypted_csc`, the expiration in clear as
 * `credit_card.expiration_month` ("MM") and `expiration_year` ("YYYY"), both strings.
 * Assumptions: strings (not numbers) for month and year, as PayTrace's samples post form
 * values; everything else (amount, billing_address, integrator_id, ...) is the caller's and
 * copied to the top level as given.
 */
export interface PaytraceCardInput {
  number?: string;
  csc?: string;
  swipe?: string;
  expiration?: Expiration | string;
  /** Other request members (amount, billing_address, ...), copied unchanged. */
  extra?: Record<string, unknown>;
}

export interface PaytraceBody {
  credit_card: {
    encrypted_number?: string;
    encrypted_swipe?: string;
    expiration_month?: string;
    expiration_year?: string;
  };
  encrypted_csc?: string;
  [member: string]: unknown;
}

/** Members that would carry card data in clear, or clash with the encrypted ones. */
const RESERVED_EXTRA = ['credit_card', 'csc', 'encrypted_csc', 'number', 'swipe', 'encrypted_number'];

function expirationOf(value: Expiration | string): Expiration {
  const parsed = parseExpiration(typeof value === 'string' ? value : formatExpiration(value, 'MM/YYYY'));
  if (!parsed.ok) throw new MkmError('VALIDATION', `Expiration: ${parsed.message}.`, { field: 'expiration' });
  return parsed.value;
}

function checkPaytraceInput(input: PaytraceCardInput): void {
  const clash = Object.keys(input.extra ?? {}).filter((k) => RESERVED_EXTRA.includes(k));
  if (clash.length) throw new MkmError('VALIDATION', 'Card data goes in its own fields.', { fields: clash });
  if (input.number === undefined && input.swipe === undefined) {
    throw new MkmError('VALIDATION', 'Give a card number or a swipe.');
  }
  if (input.number !== undefined && input.swipe !== undefined) {
    throw new MkmError('VALIDATION', 'Give a card number or a swipe, not both.');
  }
  if (input.number !== undefined && input.expiration === undefined) {
    throw new MkmError('VALIDATION', 'A keyed card number needs its expiration date.', {
      field: 'expiration',
    });
  }
  if (input.csc !== undefined && !/^\d{3,4}$/.test(input.csc)) {
    throw new MkmError('VALIDATION', 'The security code must be 3 or 4 digits.', { field: 'csc' });
  }
}

/** A PayTrace request body with the card fields encrypted (PKCS#1 v1.5 unless told otherwise). */
export function buildPaytraceBody(
  publicKey: GatewayKey,
  input: PaytraceCardInput,
  padding: CsePadding = 'RSAES-PKCS1-V1_5',
): PaytraceBody {
  checkPaytraceInput(input);
  const key = keyObjectOf(publicKey);
  const card: PaytraceBody['credit_card'] = {};
  if (input.number !== undefined) {
    const digits = panDigits(input.number);
    if (digits === null)
      throw new MkmError('VALIDATION', 'The card number must be digits.', { field: 'number' });
    card.encrypted_number = encryptField(key, digits, padding);
  }
  if (input.swipe !== undefined) card.encrypted_swipe = encryptField(key, input.swipe, padding);
  if (input.expiration !== undefined) {
    const exp = expirationOf(input.expiration);
    card.expiration_month = String(exp.month).padStart(2, '0');
    card.expiration_year = String(exp.year);
  }
  const body: PaytraceBody = { ...input.extra, credit_card: card };
  if (input.csc !== undefined) body.encrypted_csc = encryptField(key, input.csc, padding);
  return body;
}

// ---------------------------------------------------------------------------------------
// POST /v1/encryption/verify

export const VERIFY_FIELDS = [
  'encrypted_number',
  'encrypted_csc',
  'encrypted_swipe',
  'encrypted_expiration',
  'encrypted_account_number',
  'encrypted_routing_number',
] as const;
export type VerifyField = (typeof VERIFY_FIELDS)[number];

export interface VerifyInput {
  number?: string;
  csc?: string;
  swipe?: string;
  /** Encrypted as "MM/YY" text (an assumption: the contract does not fix the format). */
  expiration?: Expiration | string;
  accountNumber?: string;
  routingNumber?: string;
}

export interface VerifyRequest {
  padding: CsePadding;
  key_id?: string;
  salt: string;
  fields: Partial<Record<VerifyField, string>>;
}

const INPUT_TO_FIELD: Record<keyof VerifyInput, VerifyField> = {
  number: 'encrypted_number',
  csc: 'encrypted_csc',
  swipe: 'encrypted_swipe',
  expiration: 'encrypted_expiration',
  accountNumber: 'encrypted_account_number',
  routingNumber: 'encrypted_routing_number',
};

function verifyValue(name: keyof VerifyInput, value: string | Expiration): string {
  if (name !== 'expiration') return value as string;
  return formatExpiration(expirationOf(value), 'MM/YY');
}

/**
 * The troubleshooter's request: values are encrypted as typed (no Luhn or ABA refusal), so
 * support can see the gateway's own luhn_ok/aba_ok verdicts on a bad value. `salt` is fresh
 * random unless a test fixes it.
 */
export function buildVerifyRequest(
  publicKey: GatewayKey,
  input: VerifyInput,
  options: { padding: CsePadding; keyId?: string; salt?: Uint8Array },
): VerifyRequest {
  const key = keyObjectOf(publicKey);
  const fields: VerifyRequest['fields'] = {};
  for (const name of Object.keys(INPUT_TO_FIELD) as (keyof VerifyInput)[]) {
    const value = input[name];
    if (value !== undefined)
      fields[INPUT_TO_FIELD[name]] = encryptField(key, verifyValue(name, value), options.padding);
  }
  if (Object.keys(fields).length === 0)
    throw new MkmError('VALIDATION', 'Give at least one field to verify.');
  const salt = Buffer.from(options.salt ?? randomBytes(16));
  if (salt.length < 16) throw new MkmError('VALIDATION', 'The salt must be at least 16 bytes.');
  const request: VerifyRequest = { padding: options.padding, salt: salt.toString('base64'), fields };
  if (options.keyId !== undefined) request.key_id = options.keyId;
  return request;
}

/**
 * What the gateway accepts as a verify request. Field lengths are left to the gateway: they
 * must equal the modulus of the key `key_id` names, which the schema cannot know.
 */
export const verifyRequestSchema = z.strictObject({
  padding: z.enum(CSE_PADDINGS),
  key_id: z.string().min(1).max(128).optional(),
  salt: base64Bytes({ min: 16 }),
  fields: z
    .strictObject(
      Object.fromEntries(VERIFY_FIELDS.map((f) => [f, z.string().max(4096).optional()])) as Record<
        VerifyField,
        z.ZodOptional<z.ZodString>
      >,
    )
    .refine((f) => Object.values(f).some((v) => v !== undefined), 'at least one field is required'),
});
