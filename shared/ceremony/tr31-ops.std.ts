import { z } from 'zod';
import { ComponentKeyTypeSchema, type ComponentKeyType } from '../formats/components.std';
import type { LabelledKcv } from '../formats/kcv-methods.std';
import { EXPORTABILITY, KEY_USAGES, MODES_OF_USE } from '../formats/tr31/fields.std';
import type { KeyBlockHeader } from '../formats/tr31/header.std';
import { CEREMONY_LABEL } from './script.std';

/**
 * TR-31 / X9.143 key blocks on the token (issue 11 point 4): params and results of the token
 * host's `tr31Export` and `tr31Import`, also the `keys.exportTr31` / `keys.importTr31` channels'.
 * A key block is not a secret (its key is encrypted and MAC'd under the KBPK); no clear key is
 * ever in a result, only check values labelled by method.
 */

const SLOT = z.number().int().min(0);
const KEY_ID = z
  .string()
  .regex(/^(?:[0-9a-fA-F]{2}){1,64}$/, 'hex key id')
  .transform((s) => s.toLowerCase());
const enumOf = <T extends Record<string, string>>(table: T) =>
  z.enum(Object.keys(table) as [keyof T & string, ...(keyof T & string)[]]);

export const Tr31UsageSchema = enumOf(KEY_USAGES);
export const Tr31ModeOfUseSchema = enumOf(MODES_OF_USE);
export const Tr31ExportabilitySchema = enumOf(EXPORTABILITY);
export const Tr31VersionSchema = z.enum(['D', 'B']);
const KcvMethodSchema = z.enum(['legacy', 'cmac']);
/**
 * The KBPK's type where the token cannot tell its size (SoftHSM2 reports CKA_VALUE_LEN 0 for
 * keys that entered by C_UnwrapKey, as keys formed from components do). The block keys are
 * derived for this size; a size the token does report and that differs is refused.
 */
const KBPK_TYPE = ComponentKeyTypeSchema.optional();
/** A whole key block: printable ASCII, at most the 9999 characters its length field can say. */
export const Tr31BlockSchema = z
  .string()
  .trim()
  .min(16)
  .max(9999)
  .regex(/^[\x20-\x7e]+$/, 'printable ASCII');

export const Tr31ExportParamsSchema = z.strictObject({
  slotId: SLOT,
  keyId: KEY_ID,
  kbpkId: KEY_ID,
  usage: Tr31UsageSchema,
  modeOfUse: Tr31ModeOfUseSchema,
  exportability: Tr31ExportabilitySchema,
  /** Default: D for an AES KBPK, B for a TDES one. */
  version: Tr31VersionSchema.optional(),
  keyVersion: z
    .string()
    .regex(/^[0-9A-Za-z]{2}$/, 'two letters or digits')
    .optional(),
  /** KC (the key's) and KP (the KBPK's) check value blocks in the header, by method. */
  kcv: z.strictObject({ KC: KcvMethodSchema.optional(), KP: KcvMethodSchema.optional() }).optional(),
  kbpkType: KBPK_TYPE,
});
export type Tr31ExportParams = z.input<typeof Tr31ExportParamsSchema>;

export const Tr31ImportParamsSchema = z.strictObject({
  slotId: SLOT,
  kbpkId: KEY_ID,
  block: Tr31BlockSchema,
  label: CEREMONY_LABEL,
  /** The CKA_ID the key gets, when the caller journals it before the key exists; else random. */
  id: KEY_ID.optional(),
  kbpkType: KBPK_TYPE,
});
export type Tr31ImportParams = z.input<typeof Tr31ImportParamsSchema>;

/** The header fields a transcript records and a person compares: never the key. */
export type Tr31HeaderSummary = Pick<
  KeyBlockHeader,
  'version' | 'usage' | 'algorithm' | 'modeOfUse' | 'keyVersion' | 'exportability'
> & { optionalBlocks: string[] };

export function headerSummary(header: KeyBlockHeader): Tr31HeaderSummary {
  return {
    version: header.version,
    usage: header.usage,
    algorithm: header.algorithm,
    modeOfUse: header.modeOfUse,
    keyVersion: header.keyVersion,
    exportability: header.exportability,
    optionalBlocks: header.optionalBlocks.map((b) => b.id),
  };
}

export interface Tr31ExportResult {
  /** The key block, ASCII. */
  block: string;
  header: Tr31HeaderSummary;
  keyType: ComponentKeyType;
  /** The exported key's KCVs (legacy and cmac), computed in the host before its bytes were wiped. */
  keyKcvs: LabelledKcv[];
  /** The KBPK's KCVs as the token computes them (cmac always; legacy where it may encrypt). */
  kbpkKcvs: LabelledKcv[];
}

/** What the imported key may do on the token (read back from it after entry). */
export interface Tr31KeyAttributes {
  sensitive: boolean;
  extractable: boolean;
  wrapWithTrusted: boolean;
  encrypt: boolean;
  decrypt: boolean;
  wrap: boolean;
  unwrap: boolean;
  sign: boolean;
  verify: boolean;
  derive: boolean;
}

export interface Tr31ImportResult {
  id: string;
  label: string;
  keyType: ComponentKeyType;
  header: Tr31HeaderSummary;
  /** legacy and cmac, computed in the host from the clear key before it was wiped. */
  kcvs: LabelledKcv[];
  /** The legacy KCV the token computed of what it took (equal to the legacy one above). */
  tokenKcv: string;
  /** The KC and KP blocks the block carried and that matched. */
  checkedKcvs: ('KC' | 'KP')[];
  kbpkKcvs: LabelledKcv[];
  attributes: Tr31KeyAttributes;
}

/** The input of a `tr31-import` ceremony step: the key block (not a secret). */
export const Tr31ImportInputSchema = z.strictObject({ block: Tr31BlockSchema });
