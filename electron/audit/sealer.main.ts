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
  /** Key check value (`hmac` method: first 3 bytes of HMAC(key, 16 zero bytes)), lowercase hex. */
  kcv: string;
}

export interface AuditSealer {
  readonly keyRef: AuditKeyHandle;
  /** HMAC-SHA256 of each message, in order; 32 bytes each. Rejects when the token is logged out. */
  macBatch(messages: Buffer[]): Promise<Buffer[]>;
  /**
   * Whether each MAC is right. Optional: without it verify recomputes with `macBatch` and
   * compares in constant time (HMAC is deterministic, so the two are equivalent).
   */
  verifyBatch?(messages: Buffer[], macs: Buffer[]): Promise<boolean[]>;
  /**
   * Keeps the newest seal outside the data folder (the token's audit head, anchor.main.ts).
   * Called once the seal line is on disk, so the anchor is never ahead of the log.
   */
  recordHead?(head: SealedHead): Promise<void>;
}

export interface SealedHead {
  /** SHA-256 of line 1: which segment the seal belongs to. */
  start: string;
  seq: number;
  through: number;
  mac: string;
  key: AuditKeyHandle;
  time: string;
}

export const MAC_BYTES = 32;

export function sameKey(a: AuditKeyHandle, b: AuditKeyHandle): boolean {
  return a.id.toLowerCase() === b.id.toLowerCase() && a.kcv.toLowerCase() === b.kcv.toLowerCase();
}
