/**
 * The one seam between the audit log and whatever holds the audit HMAC key. The key is a
 * non-extractable HMAC-SHA256 key on the PKCS#11 token, so nothing here ever sees key bytes:
 * sealing and checking both go through the sealer. Batches exist because every call is a
 * round trip to the HSM host process (and from there to the token): verify checks every seal
 * of a 100,000-entry log in one call.
 */
export interface AuditKeyHandle {
  /** CKA_ID of the audit key, lowercase hex. */
  id: string;
  /**
   * Key check value, lowercase hex: for `hmac` the first 3 bytes of HMAC(key, 16 zero bytes),
   * for `cmac` of AES-CMAC(key, 16 zero bytes), for `rsa-pss` the first 8 bytes of the SHA-256
   * of the public key (SPKI DER).
   */
  kcv: string;
  /** How it seals (SEAL_KINDS); absent for HMAC-SHA256, which every earlier seal used. */
  kind?: SealKind;
}

/**
 * What a token can seal with, best first: the audit key is an HMAC-SHA256 key where the token
 * makes one, else an AES key sealing with AES-CMAC, else an RSA key signing with RSASSA-PSS
 * (SHA-256, 32-byte salt). The kind is part of the key reference in the seal line and of the
 * sealed message, so a seal is only ever checked the way it was made.
 */
export const SEAL_KINDS = ['hmac', 'cmac', 'rsa-pss'] as const;
export type SealKind = (typeof SEAL_KINDS)[number];

export const SEAL_KIND_WORDS: Record<SealKind, string> = {
  hmac: 'HMAC-SHA256',
  cmac: 'AES-CMAC',
  'rsa-pss': 'RSASSA-PSS (SHA-256) signature',
};

export function sealKindOf(key: Pick<AuditKeyHandle, 'kind'>): SealKind {
  return key.kind ?? 'hmac';
}

/** Whether `bytes` is a plausible seal of this kind (RSA 2048–4096 for signatures). */
export function sealLengthOk(kind: SealKind, bytes: number): boolean {
  if (kind === 'hmac') return bytes === MAC_BYTES;
  if (kind === 'cmac') return bytes === 16;
  return bytes >= 256 && bytes <= 512;
}

/** The reference as written to disk: `kind` only when it is not HMAC (the format before kinds). */
export function keyRefOut(key: AuditKeyHandle): AuditKeyHandle {
  const kind = sealKindOf(key);
  return kind === 'hmac' ? { id: key.id, kcv: key.kcv } : { id: key.id, kcv: key.kcv, kind };
}

export interface AuditSealer {
  readonly keyRef: AuditKeyHandle;
  /** The seal of each message, in order (its size by kind). Rejects when the token is logged out. */
  macBatch(messages: Buffer[]): Promise<Buffer[]>;
  /**
   * Whether each MAC is right. Optional for MACs: without it verify recomputes with `macBatch`
   * and compares in constant time (a MAC is deterministic, so the two are equivalent). A
   * signature sealer must have it.
   */
  verifyBatch?(messages: Buffer[], macs: Buffer[]): Promise<boolean[]>;
  /**
   * Keeps the newest seal outside the data folder (the token's audit head, anchor.nodejs.ts).
   * Called once the seal line is on disk, so the anchor is never ahead of the log.
   */
  recordHead?(head: SealedHead): Promise<void>;
}

export interface SealedHead {
  /** SHA-256 of line 1: which segment the seal belongs to. */
  start: string;
  /** seq of the seal line, the last seq it covers, and its MAC (hex). */
  seq: number;
  through: number;
  mac: string;
  key: AuditKeyHandle;
  time: string;
}

export const MAC_BYTES = 32;

export function sameKey(a: AuditKeyHandle, b: AuditKeyHandle): boolean {
  return (
    a.id.toLowerCase() === b.id.toLowerCase() &&
    a.kcv.toLowerCase() === b.kcv.toLowerCase() &&
    sealKindOf(a) === sealKindOf(b)
  );
}
