import { z } from 'zod';
import { MkmError } from '../errors.std';
import { ComponentKeyTypeSchema } from '../formats/components.std';
import {
  BACKUP_ID_BYTES,
  SHARE_FORMAT_VERSION,
  SHARE_VALUE_BYTES,
  toHex,
  type KeyShare,
} from '../formats/shares/backup.std';
import { BACKUP_RECORD_FORMAT } from '../formats/shares/backup-record.std';

/**
 * M-of-N backup of a key-encryption key on the token (issue 11 point 5): what main and the token
 * host exchange, and the public record a backup leaves. A share crosses this wire only as
 * RSA-OAEP (SHA-256) ciphertexts: to the ceremony's transport key going in, to one custodian's
 * ephemeral key coming out, one share per call. A share (537 bytes on the wire) is longer than
 * one OAEP block, so it travels as a few blocks of SHARE_CHUNK_BYTES, each its own ciphertext.
 *
 * This file imports nothing of script.std.ts: the script's parameters import the record schema.
 */

/** Fits one OAEP-SHA-256 block of a 2048-bit key (256 - 2*32 - 2 = 190), the smallest reveal key. */
export const SHARE_CHUNK_BYTES = 190;
const SHARE_WIRE_VERSION = 1;
/** version, backup id, index, count, threshold, key length, value. */
export const SHARE_WIRE_BYTES = 1 + BACKUP_ID_BYTES + 4 + SHARE_VALUE_BYTES;
export const SHARE_CHUNKS = Math.ceil(SHARE_WIRE_BYTES / SHARE_CHUNK_BYTES);

const SLOT = z.number().int().min(0);
const KEY_ID = z
  .string()
  .regex(/^(?:[0-9a-fA-F]{2}){1,64}$/, 'hex key id')
  .transform((s) => s.toLowerCase());
const HEX32 = z.string().regex(/^[0-9a-f]{32}$/, '32 lower-case hex digits');
const CIPHERTEXT = z
  .string()
  .max(1400)
  .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'base64');
const SHARE_CIPHERTEXTS = z.array(CIPHERTEXT).length(SHARE_CHUNKS);
const SPKI_PEM = z
  .string()
  .max(4096)
  .regex(/^-----BEGIN PUBLIC KEY-----[A-Za-z0-9+/=\s]+-----END PUBLIC KEY-----\s*$/, 'SPKI PEM');
const COUNT = z.number().int().min(2).max(16);

/** The commitments as `backupToRecord` writes them; `backupFromRecord` checks them whole. */
export const ShareBackupRecordSchema = z.strictObject({
  format: z.literal(BACKUP_RECORD_FORMAT),
  version: z.literal(SHARE_FORMAT_VERSION),
  backupId: HEX32,
  threshold: COUNT,
  count: COUNT,
  keyLength: z.union([z.literal(16), z.literal(24), z.literal(32)]),
  commitments: z
    .array(z.string().regex(/^[0-9a-f]{512}$/, '512 lower-case hex digits'))
    .min(2)
    .max(16),
});

export const KEK_BACKUP_FORMAT = 'mkm-kek-backup';

/**
 * The public record of one KEK backup: written next to the ceremony's journal when the key is
 * split, carried to the recovery or drill (on any machine) as the `backup` parameter of its
 * script, so the script's hash covers the commitments and check values it is run against.
 * Never a share, never the key.
 */
export const KekBackupRecordSchema = z.strictObject({
  format: z.literal(KEK_BACKUP_FORMAT),
  version: z.literal(1),
  backup: ShareBackupRecordSchema,
  key: z.strictObject({
    keyType: ComponentKeyTypeSchema,
    kcvs: z
      .array(
        z.strictObject({ method: z.enum(['legacy', 'cmac']), kcv: z.string().regex(/^[0-9a-f]{6,10}$/) }),
      )
      .min(1)
      .max(2),
    /** The key that was backed up, on the token it was on: for the people reading the record. */
    id: z.string().regex(/^[0-9a-f]{2,128}$/),
    label: z.string().max(64),
  }),
  /** The kek-backup ceremony that made it. */
  ceremonyId: z.string().max(64),
  /** SHA-256 (hex) of the commitments, as the backup ceremony's transcript recorded it. */
  commitmentsSha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type KekBackupRecord = z.infer<typeof KekBackupRecordSchema>;

/** The backup record file's text (stable key order: what is hashed into a script). */
export function kekBackupText(record: KekBackupRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

/** A backup record file read back: strict, VALIDATION naming the field (never more than its path). */
export function parseKekBackup(text: string): KekBackupRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new MkmError('SHARE_COMMITMENTS_INVALID', 'The backup record is not JSON.', { field: 'record' });
  }
  const r = KekBackupRecordSchema.safeParse(raw);
  if (!r.success) {
    throw new MkmError('SHARE_COMMITMENTS_INVALID', 'The backup record is refused.', {
      field: r.error.issues[0]?.path.join('.') || 'record',
    });
  }
  return r.data;
}

// ------------------------------------------------------------------ the share on the wire

/** A share as bytes, to encrypt in chunks; the caller wipes the result. */
export function shareToWire(share: KeyShare): Uint8Array {
  const out = new Uint8Array(SHARE_WIRE_BYTES);
  out[0] = SHARE_WIRE_VERSION;
  for (let i = 0; i < BACKUP_ID_BYTES; i++) {
    out[1 + i] = Number.parseInt(share.backupId.slice(2 * i, 2 * i + 2), 16);
  }
  out.set([share.index, share.count, share.threshold, share.keyLength], 1 + BACKUP_ID_BYTES);
  out.set(share.value, 1 + BACKUP_ID_BYTES + 4);
  return out;
}

/** The share in wire bytes; its value is a copy the caller wipes. Null when the bytes are no share. */
export function shareFromWire(bytes: Uint8Array): KeyShare | null {
  if (bytes.length !== SHARE_WIRE_BYTES || bytes[0] !== SHARE_WIRE_VERSION) return null;
  const at = 1 + BACKUP_ID_BYTES;
  return {
    backupId: toHex(bytes.subarray(1, at)),
    index: bytes[at]!,
    count: bytes[at + 1]!,
    threshold: bytes[at + 2]!,
    keyLength: bytes[at + 3]! as KeyShare['keyLength'],
    value: bytes.slice(at + 4),
  };
}

/** Views (no copies) of the wire bytes in chunks that each fit one OAEP block. */
export function shareChunks(wire: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < wire.length; at += SHARE_CHUNK_BYTES)
    out.push(wire.subarray(at, at + SHARE_CHUNK_BYTES));
  return out;
}

// ------------------------------------------------------------------ host methods

export const ShareSplitKekParamsSchema = z.strictObject({
  slotId: SLOT,
  transportKeyId: KEY_ID,
  keyId: KEY_ID,
  threshold: COUNT,
  count: COUNT,
  ceremonyId: z.string().min(1).max(64),
});
export type ShareSplitKekParams = z.input<typeof ShareSplitKekParamsSchema>;

export interface ShareSplitKekResult {
  record: KekBackupRecord;
}

export const ShareRevealParamsSchema = z.strictObject({
  slotId: SLOT,
  transportKeyId: KEY_ID,
  backupId: HEX32,
  index: z.number().int().min(1).max(16),
  revealKey: SPKI_PEM,
});
export type ShareRevealParams = z.input<typeof ShareRevealParamsSchema>;

export interface ShareRevealResult {
  /** The one share, in SHARE_CHUNKS RSA-OAEP (SHA-256) blocks to the custodian's ephemeral key. */
  ciphertexts: string[];
  revealKeySha256: string;
  index: number;
  /** SHA-256 of the share's public commitment g^y·h^z: names the share, says nothing of it. */
  fingerprint: string;
}

export const ShareCheckParamsSchema = z.strictObject({
  slotId: SLOT,
  transportKeyId: KEY_ID,
  record: KekBackupRecordSchema,
  ciphertexts: SHARE_CIPHERTEXTS,
  /** 1-based: which custodian's entry, named in refusals. */
  position: z.number().int().min(1).max(16),
});
export type ShareCheckParams = z.input<typeof ShareCheckParamsSchema>;

export interface ShareCheckResult {
  index: number;
  /** Null when the share is bad (no fingerprint of what is not a share of this backup). */
  fingerprint: string | null;
  /** What is wrong with it: the code and check `findShareProblem` names; null when it is good. */
  problem: { code: string; check: string } | null;
}

export const ShareRecoverKekParamsSchema = z.strictObject({
  slotId: SLOT,
  transportKeyId: KEY_ID,
  record: KekBackupRecordSchema,
  shares: z.array(SHARE_CIPHERTEXTS).min(2).max(16),
  label: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .regex(/^[\x20-\x7e]+$/, 'printable ASCII'),
  id: KEY_ID,
});
export type ShareRecoverKekParams = z.input<typeof ShareRecoverKekParamsSchema>;

// ------------------------------------------------------------------ step inputs

/** `enter-share` and `drill-share`: the custodian's share encrypted in their window or at the prompt. */
export const EnterShareInputSchema = z.strictObject({
  ciphertexts: SHARE_CIPHERTEXTS,
  transportKeySha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type EnterShareInput = z.input<typeof EnterShareInputSchema>;

/** `reveal-share`: the custodian's ephemeral public key. */
export const RevealShareInputSchema = z.strictObject({ revealKey: SPKI_PEM });
export type RevealShareInput = z.input<typeof RevealShareInputSchema>;
