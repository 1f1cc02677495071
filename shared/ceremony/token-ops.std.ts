import { z } from 'zod';
import { ComponentKeyTypeSchema } from '../formats/components.std';
import type { LabelledKcv } from '../formats/kcv-methods.std';
import { CEREMONY_KEY_PURPOSES } from './script.std';
import { CEREMONY_LABEL } from './script.std';

/**
 * The token host's ceremony operations (issue 11 point 3; CEREMONY.md "Secrets travel end to
 * end"): params and results as main and the host exchange them. Components cross this wire only
 * as RSA-OAEP (SHA-256) ciphertexts: to the ceremony's session transport key on the token going
 * in, to one custodian's ephemeral public key coming out. Nothing here is ever a clear component
 * or key; main forwards these values and keeps none of them on disk.
 */

const SLOT = z.number().int().min(0);
const KEY_ID = z
  .string()
  .regex(/^(?:[0-9a-fA-F]{2}){1,64}$/, 'hex key id')
  .transform((s) => s.toLowerCase());
const LABEL = CEREMONY_LABEL;
/** One RSA-3072 OAEP block (384 bytes) in base64; a little room for other moduli. */
const CIPHERTEXT = z
  .string()
  .max(1400)
  .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'base64');
/** A custodian's ephemeral RSA public key (SPKI PEM) a component is revealed to. */
const SPKI_PEM = z
  .string()
  .max(4096)
  .regex(/^-----BEGIN PUBLIC KEY-----[A-Za-z0-9+/=\s]+-----END PUBLIC KEY-----\s*$/, 'SPKI PEM');

export const CeremonyKeyPurposeSchema = z.enum(CEREMONY_KEY_PURPOSES);
export const ComponentKcvMethodSchema = z.enum(['legacy', 'cmac']);

export const CeremonyTransportKeyParamsSchema = z.strictObject({ slotId: SLOT });
export type CeremonyTransportKeyParams = z.infer<typeof CeremonyTransportKeyParamsSchema>;

export interface CeremonyTransportKeyResult {
  /** CKA_ID of the session key pair (hex): names it in the calls that follow. */
  transportKeyId: string;
  spkiPem: string;
  spkiSha256: string;
  bits: number;
  /**
   * Where OAEP (SHA-256) is undone: `token` when the token decrypts RSA-OAEP-SHA-256 itself;
   * `host` when it offers only raw RSA for it (SoftHSM2 2.6 does OAEP with SHA-1 only), the
   * private key still on the token, the OAEP decoding in host memory.
   */
  oaep: 'token' | 'host';
}

export const ComponentCheckParamsSchema = z.strictObject({
  slotId: SLOT,
  transportKeyId: KEY_ID,
  keyType: ComponentKeyTypeSchema,
  ciphertext: CIPHERTEXT,
  /** Default: legacy and cmac. */
  kcvMethods: z.array(ComponentKcvMethodSchema).min(1).max(2).optional(),
  /** 1-based: names the component in refusals. */
  componentIndex: z.number().int().min(1).max(9).optional(),
});
export type ComponentCheckParams = z.input<typeof ComponentCheckParamsSchema>;

export interface ComponentCheckResult {
  kcvs: LabelledKcv[];
}

export const FormKeyFromComponentsParamsSchema = z.strictObject({
  slotId: SLOT,
  transportKeyId: KEY_ID,
  keyType: ComponentKeyTypeSchema,
  ciphertexts: z.array(CIPHERTEXT).min(2).max(9),
  label: LABEL,
  /** The CKA_ID the key gets: chosen by the caller, who journals it before the key exists. */
  id: KEY_ID,
  purpose: CeremonyKeyPurposeSchema,
});
export type FormKeyFromComponentsParams = z.input<typeof FormKeyFromComponentsParamsSchema>;

export interface CeremonyKeyResult {
  id: string;
  keyType: z.infer<typeof ComponentKeyTypeSchema>;
  purpose: z.infer<typeof CeremonyKeyPurposeSchema>;
  label: string;
  /**
   * legacy and cmac, computed in the host from the clear key before it was wiped; for a key
   * combined on the token (FormKeyResult.combinedOn), computed by the token.
   */
  kcvs: LabelledKcv[];
  /**
   * The legacy KCV the token computed itself, on a session twin unwrapped from the same blob, or
   * derived from the same base where the token combined the components (equal to the legacy KCV
   * above, or the key was refused).
   */
  tokenKcv: string;
  /** The token's own CKA_CHECK_VALUE, when it keeps one (SoftHSM2 2.6 does not for unwrapped keys). */
  tokenCheckValue: string | null;
}

// ---- where a formed key's components were combined (issue 11 point 3, token XOR) ----
export interface FormKeyResult extends CeremonyKeyResult {
  /**
   * `token`: the components were XORed on the token (CKM_XOR_BASE_AND_DATA), the clear key never
   * in host memory; the KCVs and the degenerate-key check were computed by the token. `host`: the
   * token cannot (or the key is TDES, whose degenerate-key checks need the clear key), so the
   * host XORed them in memory wiped at once and the key entered by C_UnwrapKey.
   */
  combinedOn: 'token' | 'host';
}
// ---- end: where a formed key's components were combined ----

export const SplitKeyParamsSchema = z.strictObject({
  slotId: SLOT,
  transportKeyId: KEY_ID,
  keyType: ComponentKeyTypeSchema,
  components: z.number().int().min(2).max(9),
  label: LABEL,
  id: KEY_ID,
  purpose: CeremonyKeyPurposeSchema,
});
export type SplitKeyParams = z.input<typeof SplitKeyParamsSchema>;

export interface SplitKeyResult extends CeremonyKeyResult {
  /**
   * Each component encrypted to the session transport key (so only the token host can open it
   * again, and only while the key lives), with its KCVs; revealed one at a time by
   * `revealComponent`.
   */
  components: { ciphertext: string; kcvs: LabelledKcv[] }[];
}

export const RevealComponentParamsSchema = z.strictObject({
  slotId: SLOT,
  transportKeyId: KEY_ID,
  keyType: ComponentKeyTypeSchema,
  /** The component as `splitKey` gave it: encrypted to the transport key. */
  ciphertext: CIPHERTEXT,
  revealKey: SPKI_PEM,
  componentIndex: z.number().int().min(1).max(9).optional(),
});
export type RevealComponentParams = z.input<typeof RevealComponentParamsSchema>;

export interface RevealComponentResult {
  /** RSA-OAEP (SHA-256) to the custodian's ephemeral key: only their screen opens it. */
  ciphertext: string;
  revealKeySha256: string;
  kcvs: LabelledKcv[];
}

export const DropTransportKeyParamsSchema = z.strictObject({ slotId: SLOT, transportKeyId: KEY_ID });
export type DropTransportKeyParams = z.input<typeof DropTransportKeyParamsSchema>;

/**
 * The input of an `enter-component` step: the custodian's component encrypted (in their window or
 * at the CLI prompt) to the ceremony's transport key, and the fingerprint of the key it was
 * encrypted to, so a component encrypted to a key that is gone is re-asked rather than tried.
 * `confirmKcv` (optional): the KCV (legacy or cmac, 3 bytes) on the custodian's sheet; the step is
 * refused when it differs.
 */
export const EnterComponentInputSchema = z.strictObject({
  ciphertext: CIPHERTEXT,
  transportKeySha256: z.string().regex(/^[0-9a-f]{64}$/),
  confirmKcv: z
    .string()
    .regex(/^[0-9a-fA-F]{6}$/, 'six hex digits')
    .transform((s) => s.toLowerCase())
    .optional(),
});
export type EnterComponentInput = z.input<typeof EnterComponentInputSchema>;

/** The input of a `reveal-component` step: the custodian's ephemeral public key (SPKI PEM). */
export const RevealComponentInputSchema = z.strictObject({ revealKey: SPKI_PEM });
export type RevealComponentInput = z.input<typeof RevealComponentInputSchema>;
