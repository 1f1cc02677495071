import { z } from 'zod';

/**
 * The TokenEngine contract: every method takes ONE plain object and returns plain JSON, so the
 * host process can proxy it over a message channel. Binary crosses as base64 (data, ciphertext,
 * wrapped keys) or lowercase hex (identifiers, fingerprints, KCVs). Object handles never cross:
 * they are per-session numbers; an object is named by its CKA_ID (hex) and class.
 *
 * The schemas validate what arrives from main; the types are inferred from them so the two
 * cannot drift.
 */

// ---------- building blocks ----------

/** PKCS#11 slot ID. CK_ULONG on the wire; every known module uses values below 2^53. */
export const SlotIdSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** CKA_ID in lowercase hex. Empty is allowed because keys made by other tools may lack an ID. */
export const ObjectIdSchema = z
  .string()
  .max(256)
  .regex(/^(?:[0-9a-fA-F]{2})*$/, 'hex bytes')
  .transform((s) => s.toLowerCase());
export const Base64Schema = z
  .string()
  .max(64 * 1024 * 1024)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'standard base64');
export const HexSchema = z.string().regex(/^(?:[0-9a-fA-F]{2})*$/, 'hex bytes');

export const ObjectClassSchema = z.enum(['secret', 'private', 'public', 'certificate', 'data', 'other']);
export type ObjectClass = z.infer<typeof ObjectClassSchema>;

/** Key types mkm makes. `hmac-256` is a 32-byte CKK_GENERIC_SECRET used with CKM_SHA256_HMAC. */
export const KeyTypeSchema = z.enum(['aes-256', 'hmac-256', 'rsa-2048', 'rsa-3072', 'rsa-4096']);
export type KeyType = z.infer<typeof KeyTypeSchema>;
/**
 * Key types (objects.host.ts names) an HMAC-SHA256 key (mkm's hmac-256) may carry on a token:
 * CKK_GENERIC_SECRET, and CKK_SHA256_HMAC (0x2b) that PKCS#11 3.0 tokens give an HMAC key.
 */
export const HMAC_SHA256_KEY_TYPES: readonly string[] = ['generic-secret', 'sha256-hmac'];
/** An HMAC key of any hash (CKK_SHA512_HMAC, ...): a key for another hash mkm does not MAC with. */
export function isHmacKeyType(keyType: string | null): boolean {
  return keyType !== null && (HMAC_SHA256_KEY_TYPES.includes(keyType) || keyType.endsWith('-hmac'));
}

export const SecretKeyTypeSchema = z.enum(['aes-256', 'hmac-256']);
export type SecretKeyType = z.infer<typeof SecretKeyTypeSchema>;

/**
 * What a key is for decides which usages it gets, and nothing else does:
 * - gateway-transport (RSA): the gateway wraps session keys under the public half; private half
 *   decrypts/unwraps only.
 * - data (AES): encrypt/decrypt messages.
 * - kek (AES): wrap/unwrap other keys.
 * - hmac (HMAC): sign/verify messages.
 * - signing (RSA): sign (CSR, statements) / verify.
 * - audit (HMAC): sign/verify audit log entries.
 * - encryption (RSA): decrypt with the private half, encrypt with the public half (test and
 *   troubleshooting keys; a gateway transport key never decrypts, so wrapped keys never leave
 *   the token in clear).
 */
export const KeyPurposeSchema = z.enum([
  'gateway-transport',
  'data',
  'kek',
  'hmac',
  'signing',
  'audit',
  'encryption',
]);
export type KeyPurpose = z.infer<typeof KeyPurposeSchema>;

export const KeyUsageSchema = z.enum(['encrypt', 'decrypt', 'wrap', 'unwrap', 'sign', 'verify', 'derive']);
export type KeyUsage = z.infer<typeof KeyUsageSchema>;

export const CipherMechanismSchema = z.enum([
  'AES_CBC_PAD',
  /** Raw CBC, data a multiple of 16 bytes: known-answer vectors, never messages. */
  'AES_CBC',
  'RSA_OAEP_SHA1',
  'RSA_OAEP_SHA256',
  'RSA_PKCS',
]);
export type CipherMechanism = z.infer<typeof CipherMechanismSchema>;

export const WrapMechanismSchema = z.enum([
  'RSA_OAEP_SHA1',
  'RSA_OAEP_SHA256',
  'AES_KEY_WRAP',
  'AES_KEY_WRAP_PAD',
]);
export type WrapMechanism = z.infer<typeof WrapMechanismSchema>;

/**
 * Every way mkm labels a key check value (issue 11): `legacy` (ANSI X9.24-1: a zero block
 * encrypted in ECB), `cmac` (X9.24-1:2017 / X9.143: CMAC of a zero block), `hmac` (HMAC keys),
 * and `token` (the token's own CKA_CHECK_VALUE). Ceremonies, sheets and screens use this one.
 */
export const KeyCheckMethodSchema = z.enum(['legacy', 'cmac', 'hmac', 'token']);
export type KeyCheckMethod = z.infer<typeof KeyCheckMethodSchema>;

// The methods the token service computes today. Kept narrower than KeyCheckMethodSchema on
// purpose: KcvResult carries it into exchange items and key fingerprints, which take cmac|hmac.
export const KcvMethodSchema = KeyCheckMethodSchema.extract(['cmac', 'hmac']);
export type KcvMethod = z.infer<typeof KcvMethodSchema>;

const Pin = z.string().min(1).max(256);
const Label = z.string().min(1).max(128);

// ---------- params ----------

export const LoadModuleParamsSchema = z.object({
  path: z.string().min(1).max(4096),
  /** NSS-style library parameters; only NSS's softokn needs them. */
  libraryParameters: z.string().max(4096).optional(),
});
export type LoadModuleParams = z.infer<typeof LoadModuleParamsSchema>;

export const EmptyParamsSchema = z.object({}).optional();
export type EmptyParams = z.infer<typeof EmptyParamsSchema>;

export const ListSlotsParamsSchema = z
  .object({
    /** Default false: empty reader slots are listed too, so the UI can say "insert a token". */
    tokenPresent: z.boolean().optional(),
  })
  .optional();
export type ListSlotsParams = z.infer<typeof ListSlotsParamsSchema>;

export const SlotParamsSchema = z.object({ slotId: SlotIdSchema });
export type SlotParams = z.infer<typeof SlotParamsSchema>;

export const LoginParamsSchema = z.object({
  slotId: SlotIdSchema,
  /** Omit to use the token's protected authentication path (PIN pad, biometrics). */
  pin: Pin.optional(),
  userType: z.enum(['user', 'so']).optional(),
});
export type LoginParams = z.infer<typeof LoginParamsSchema>;

export const ChangePinParamsSchema = z.object({ slotId: SlotIdSchema, oldPin: Pin, newPin: Pin });
export type ChangePinParams = z.infer<typeof ChangePinParamsSchema>;

export const InitTokenParamsSchema = z.object({
  slotId: SlotIdSchema,
  soPin: Pin,
  label: z.string().min(1).max(32),
});
export type InitTokenParams = z.infer<typeof InitTokenParamsSchema>;

export const InitUserPinParamsSchema = z.object({ slotId: SlotIdSchema, soPin: Pin, userPin: Pin });
export type InitUserPinParams = z.infer<typeof InitUserPinParamsSchema>;

export const GenerateKeyParamsSchema = z.object({
  slotId: SlotIdSchema,
  type: KeyTypeSchema,
  label: Label,
  purpose: KeyPurposeSchema,
  /**
   * Secret keys only: allow export wrapped under a KEK (backup to a second token). The key stays
   * CKA_SENSITIVE, so it can never leave in clear.
   */
  exportable: z.boolean().optional(),
  /**
   * The admin accepts the wider usage a token insists on (tpm2-pkcs11 makes every RSA key both
   * sign and decrypt). Without it such a token's refusal of mkm's template is KEY_TEMPLATE_REFUSED,
   * naming the usages; with it the key is kept and the result's `widerUsage` names them.
   */
  acceptWiderUsage: z.boolean().optional(),
});
export type GenerateKeyParams = z.infer<typeof GenerateKeyParamsSchema>;

export const ListObjectsParamsSchema = z.object({
  slotId: SlotIdSchema,
  class: ObjectClassSchema.optional(),
});
export type ListObjectsParams = z.infer<typeof ListObjectsParamsSchema>;

export const ObjectRefParamsSchema = z.object({
  slotId: SlotIdSchema,
  id: ObjectIdSchema,
  class: ObjectClassSchema,
});
export type ObjectRefParams = z.infer<typeof ObjectRefParamsSchema>;

export const KeyRefParamsSchema = z.object({ slotId: SlotIdSchema, id: ObjectIdSchema });
export type KeyRefParams = z.infer<typeof KeyRefParamsSchema>;

export const ExportPublicKeyParamsSchema = z.object({
  slotId: SlotIdSchema,
  id: ObjectIdSchema,
  format: z.enum(['pem', 'jwk']),
});
export type ExportPublicKeyParams = z.infer<typeof ExportPublicKeyParamsSchema>;

const DnValue = z.string().min(1).max(256);
export const CsrSubjectSchema = z.object({
  commonName: DnValue,
  organization: DnValue.optional(),
  organizationalUnit: DnValue.optional(),
  locality: DnValue.optional(),
  state: DnValue.optional(),
  /** ISO 3166 two-letter code. */
  country: z
    .string()
    .regex(/^[A-Z]{2}$/)
    .optional(),
  email: z.string().max(256).optional(),
});
export type CsrSubject = z.infer<typeof CsrSubjectSchema>;

export const CreateCsrParamsSchema = z.object({
  slotId: SlotIdSchema,
  id: ObjectIdSchema,
  subject: CsrSubjectSchema,
});
export type CreateCsrParams = z.infer<typeof CreateCsrParamsSchema>;

export const CipherParamsSchema = z.object({
  slotId: SlotIdSchema,
  id: ObjectIdSchema,
  mechanism: CipherMechanismSchema,
  /** 16 bytes base64; AES-CBC only. */
  iv: Base64Schema.optional(),
  data: Base64Schema,
});
export type CipherParams = z.infer<typeof CipherParamsSchema>;

/** Bytes as base64 text, or raw bytes where the channel carries them (main ⇄ host). */
const BytesSchema = z.union([Base64Schema, z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'bytes')]);

export const EncryptBatchParamsSchema = z.object({
  slotId: SlotIdSchema,
  id: ObjectIdSchema,
  mechanism: CipherMechanismSchema,
  items: z.array(z.object({ iv: BytesSchema.optional(), data: BytesSchema })).max(100_000),
  /**
   * 'binary' answers raw bytes: the host channel clones them, so bulk work skips four base64
   * passes and a third more bytes on the wire. Default 'base64' (JSON-safe).
   */
  output: z.enum(['base64', 'binary']).optional(),
  /**
   * AES-CBC only, items without an `iv`: the host draws each item's IV from the token's RNG
   * (C_GenerateRandom, 4 KiB at a time) in the same call and answers them in `ivs`, so a batch
   * needs no round trip to main for its IVs.
   */
  tokenIvs: z.boolean().optional(),
});
export type EncryptBatchParams = z.infer<typeof EncryptBatchParamsSchema>;

export const HmacSignParamsSchema = z.object({
  slotId: SlotIdSchema,
  id: ObjectIdSchema,
  data: Base64Schema,
  /** HMAC-SHA256 unless AES_CMAC: an audit key on a token that makes no HMAC key (issue 12). */
  mechanism: z.enum(['SHA256_HMAC', 'AES_CMAC']).optional(),
});
export type HmacSignParams = z.infer<typeof HmacSignParamsSchema>;

/**
 * RSA signatures made inside the token, SHA-256 hashed by the token: PKCS#1 v1.5
 * (CKM_SHA256_RSA_PKCS) or PSS with MGF1-SHA-256 and a 32-byte salt (CKM_SHA256_RSA_PKCS_PSS).
 * Only a private key with CKA_SIGN (the `signing` purpose) signs.
 */
export const SignMechanismSchema = z.enum(['SHA256_RSA_PKCS', 'SHA256_RSA_PKCS_PSS']);
export type SignMechanism = z.infer<typeof SignMechanismSchema>;

export const SignParamsSchema = z.object({
  slotId: SlotIdSchema,
  id: ObjectIdSchema,
  mechanism: SignMechanismSchema,
  data: Base64Schema,
});
export type SignParams = z.infer<typeof SignParamsSchema>;

export const HmacVerifyParamsSchema = z.object({
  slotId: SlotIdSchema,
  id: ObjectIdSchema,
  data: Base64Schema,
  mac: Base64Schema,
});
export type HmacVerifyParams = z.infer<typeof HmacVerifyParamsSchema>;

export const WrapKeyParamsSchema = z.object({
  slotId: SlotIdSchema,
  /** RSA public key (OAEP) or AES key with wrap usage. */
  wrappingKeyId: ObjectIdSchema,
  /** The secret key to wrap; it must have been made exportable. */
  keyId: ObjectIdSchema,
  mechanism: WrapMechanismSchema,
});
export type WrapKeyParams = z.infer<typeof WrapKeyParamsSchema>;

export const UnwrapKeyParamsSchema = z.object({
  slotId: SlotIdSchema,
  /** RSA private key (OAEP) or AES key with unwrap usage. */
  unwrappingKeyId: ObjectIdSchema,
  mechanism: WrapMechanismSchema,
  wrapped: Base64Schema,
  /** aes-256: encrypt/decrypt key; hmac-256: generic secret for HMAC-SHA256 sign/verify. */
  keyType: SecretKeyTypeSchema,
  label: Label,
  /** CKA_ID to give the new key (hex); a random one when omitted. */
  id: ObjectIdSchema.optional(),
  /** false: a session object that disappears with the session (one-use gateway key sets). */
  token: z.boolean(),
});
export type UnwrapKeyParams = z.infer<typeof UnwrapKeyParamsSchema>;

export const ImportKeyParamsSchema = z.object({
  slotId: SlotIdSchema,
  type: SecretKeyTypeSchema,
  label: Label,
  purpose: KeyPurposeSchema,
  /** The combined clear key (64 hex digits). Held only for the call. */
  keyHex: z.string().regex(/^[0-9a-fA-F]{64}$/, '32 bytes as hex'),
  exportable: z.boolean().optional(),
});
export type ImportKeyParams = z.infer<typeof ImportKeyParamsSchema>;

export const DestroyObjectParamsSchema = z.object({
  slotId: SlotIdSchema,
  id: ObjectIdSchema,
  class: ObjectClassSchema,
  /** Must be true; anything else is refused with CONFIRMATION_REQUIRED. */
  confirm: z.boolean().optional(),
});
export type DestroyObjectParams = z.infer<typeof DestroyObjectParamsSchema>;

/**
 * A private data object of the app's on the token (CKO_DATA, CKA_APPLICATION "mkm", found by
 * label): small state a file writer must not be able to roll back, such as the audit log's head.
 */
const APP_DATA_LABEL = z.string().regex(/^mkm-[a-z0-9-]{1,40}$/);
export const ReadAppDataParamsSchema = z.object({ slotId: SlotIdSchema, label: APP_DATA_LABEL });
export type ReadAppDataParams = z.infer<typeof ReadAppDataParamsSchema>;
export const WriteAppDataParamsSchema = z.object({
  slotId: SlotIdSchema,
  label: APP_DATA_LABEL,
  /** base64, at most 4 KiB of bytes. */
  value: z
    .string()
    .max(5464)
    .regex(/^[A-Za-z0-9+/]*={0,2}$/),
});
export type WriteAppDataParams = z.infer<typeof WriteAppDataParamsSchema>;
/** Every object found with that label (more than one means someone else made one). */
export interface AppDataResult {
  values: string[];
}

export const GenerateRandomParamsSchema = z.object({
  slotId: SlotIdSchema,
  length: z.number().int().min(1).max(4096),
});
export type GenerateRandomParams = z.infer<typeof GenerateRandomParamsSchema>;

// ---------- results ----------

export interface Version {
  major: number;
  minor: number;
}

export interface ModuleInfo {
  path: string;
  /** "2.40", "3.0" */
  cryptokiVersion: string;
  manufacturer: string;
  libraryDescription: string;
  libraryVersion: string;
}

export interface WellKnownModule {
  name: string;
  vendor: string;
  path: string;
}

export interface SlotFlags {
  tokenPresent: boolean;
  removableDevice: boolean;
  hardwareSlot: boolean;
}

export interface TokenFlags {
  rng: boolean;
  writeProtected: boolean;
  loginRequired: boolean;
  userPinInitialized: boolean;
  restoreKeyNotNeeded: boolean;
  clockOnToken: boolean;
  protectedAuthenticationPath: boolean;
  dualCryptoOperations: boolean;
  tokenInitialized: boolean;
  secondaryAuthentication: boolean;
  userPinCountLow: boolean;
  userPinFinalTry: boolean;
  userPinLocked: boolean;
  userPinToBeChanged: boolean;
  soPinCountLow: boolean;
  soPinFinalTry: boolean;
  soPinLocked: boolean;
  soPinToBeChanged: boolean;
  errorState: boolean;
}

export interface TokenSummary {
  label: string;
  manufacturer: string;
  model: string;
  serial: string;
  /** "major.minor" */
  firmware: string;
  hardware: string;
  flags: TokenFlags;
  minPinLen: number;
  maxPinLen: number;
  sessionCount: number | null;
  maxSessionCount: number | null;
  /** Bytes; null when the token does not say (CK_UNAVAILABLE_INFORMATION). */
  freePrivateMemory: number | null;
  freePublicMemory: number | null;
}

export interface SlotSummary {
  slotId: number;
  description: string;
  manufacturer: string;
  firmware: string;
  hardware: string;
  flags: SlotFlags;
  /** Convenience copy of flags.removableDevice. */
  removable: boolean;
  token: TokenSummary | null;
  /** This service holds an open session on the slot and whether it is logged in. */
  session: { open: boolean; loggedIn: boolean; userType: 'user' | 'so' | null };
}

/** What the token says about its PIN after a failed login; sent in MkmError.details. */
export interface PinState {
  countLow: boolean;
  finalTry: boolean;
  locked: boolean;
}

export interface LoginResult {
  slotId: number;
  loggedIn: true;
  userType: 'user' | 'so';
}

export interface OkResult {
  ok: true;
}

export interface InitTokenResult {
  slotId: number;
  label: string;
  serial: string;
}

export interface ObjectInfo {
  /** CKA_ID, lowercase hex ('' when the object has none). With `class` it names the object. */
  id: string;
  class: ObjectClass;
  label: string;
  /** aes, generic-secret, rsa, ec, des3, ... or null for non-keys. */
  keyType: string | null;
  /** Key size in bits: modulus bits for RSA, value length × 8 for secret keys; null if unknown. */
  bits: number | null;
  token: boolean;
  private: boolean;
  local: boolean | null;
  sensitive: boolean | null;
  extractable: boolean | null;
  alwaysSensitive: boolean | null;
  neverExtractable: boolean | null;
  usages: KeyUsage[];
}

export interface KcvResult {
  kcv: string;
  method: KcvMethod;
}

export interface GenerateKeyResult {
  id: string;
  type: KeyType;
  purpose: KeyPurpose;
  label: string;
  /** One object for secret keys; private and public for RSA. */
  objects: ObjectInfo[];
  /** Secret keys: the KCV the gateway contract defines. */
  kcv?: KcvResult;
  /** RSA: SHA-256 of the DER SubjectPublicKeyInfo, hex. */
  spkiSha256?: string;
  /** Usages the token gave beyond mkm's template, accepted by the admin ("private:sign"). */
  widerUsage?: string[];
}

export interface RsaJwk {
  kty: 'RSA';
  n: string;
  e: string;
  kid?: string;
}

export interface ExportPublicKeyResult {
  format: 'pem' | 'jwk';
  pem?: string;
  jwk?: RsaJwk;
  spkiSha256: string;
  bits: number;
}

export interface CsrResult {
  pem: string;
  spkiSha256: string;
}

export interface DataResult {
  /** base64 */
  data: string;
}

export interface BatchResult {
  /** One per item, in order: base64, or bytes when the request asked for 'binary'. */
  items: (string | Uint8Array)[];
  /**
   * With `tokenIvs`: the IVs the token drew, 16 bytes per item in item order, as one value
   * (base64, or bytes for 'binary').
   */
  ivs?: string | Uint8Array;
  /** Whether an AES batch ran on a session copy of its key (see TokenEngine.encryptBatch). */
  keyCopy?: boolean;
}

export interface MacResult {
  /** base64 */
  mac: string;
}

export interface SignatureResult {
  /** base64 */
  signature: string;
}

export interface VerifyResult {
  valid: boolean;
}

export interface WrapResult {
  /** base64 */
  wrapped: string;
}

export interface UnwrapKeyResult extends KcvResult {
  id: string;
  keyType: SecretKeyType;
  token: boolean;
}

export interface ImportKeyResult extends KcvResult {
  id: string;
}

export interface DestroyResult {
  destroyed: number;
}

export const CAPABILITY_NAMES = [
  'aes256Generate',
  'aesCbcPad',
  'aesCmac',
  'aesKeyWrap',
  'aesKeyWrapPad',
  'hmacSha256',
  'wrapWithTrusted',
  'rsa2048Generate',
  'rsa3072Generate',
  'rsa4096Generate',
  'rsaOaepSha1Encrypt',
  'rsaOaepSha256Encrypt',
  'rsaOaepSha1Unwrap',
  'rsaOaepSha256Unwrap',
  'rsaPkcs1Encrypt',
  'rsaSha256Sign',
  'random',
] as const;
export type CapabilityName = (typeof CAPABILITY_NAMES)[number];

export interface Capability {
  supported: boolean;
  /** Why not, in an admin's words (never a raw CKR name); absent when supported. */
  reason?: string;
  /** For support: the token's raw answer (a CKR_* name) behind a "no". */
  detail?: string;
  /** Which of several mechanisms worked (AES key wrap with padding: "0x210b" or "0x210a"). */
  mechanism?: string;
}

export interface CapabilitiesResult {
  /** manufacturer|model|firmware: equal keys have equal capabilities, so callers can cache. */
  cacheKey: string;
  token: { manufacturer: string; model: string; firmware: string };
  capabilities: Record<CapabilityName, Capability>;
  /** The strongest OAEP the token can unwrap, what a transport key should be registered with. */
  bestOaepUnwrap: 'RSA_OAEP_SHA256' | 'RSA_OAEP_SHA1' | null;
  /** Whether the probe could use session objects or needed token objects (removed after). */
  objects?: 'session' | 'token';
  /** The mechanism that does RFC 5649 on this token (0x210B or 0x210A), when one does. */
  aesKeyWrapPadMechanism?: number;
  probedAt: string;
}
