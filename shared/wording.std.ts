/**
 * The words a person reads for the app's state and its keys, in one place, so the UI, the CLI,
 * exports and the report say the same thing the same way (issue 15: "words that agree").
 */

/** A key check value as payment HSMs print it: upper-case hex. */
export function formatKcv(kcv: string): string {
  return kcv.toUpperCase();
}

/** A PKCS#11 key type as a person names it (CKK_GENERIC_SECRET keys are mkm's HMAC keys). */
export function keyTypeName(keyType: string | null | undefined): string {
  if (!keyType) return '—';
  const known: Record<string, string> = {
    aes: 'AES',
    'generic-secret': 'HMAC',
    'sha256-hmac': 'HMAC',
    rsa: 'RSA',
    ec: 'EC',
    des3: 'DES3',
  };
  return known[keyType] ?? keyType.toUpperCase();
}

/** A key type with its size: `AES-256`, `HMAC-256`, `RSA-2048`. */
export function keyTypeText(keyType: string | null | undefined, bits?: number | null): string {
  const name = keyTypeName(keyType);
  return bits && keyType ? `${name}-${bits}` : name;
}

/** A managed key's version as a person names it (the internal label stays for machines). */
export function versionName(keyName: string, version: number): string {
  return `${keyName} v${version}`;
}

export interface SealWords {
  tone: 'ok' | 'warn' | 'danger';
  label: string;
  note: string | null;
}

/**
 * The audit log's seal as it really is: sealed only while a sealer is attached and its last
 * seal worked; never "sealed" while logged out or after a failed seal.
 */
export function sealWords(status: { sealing: boolean; sealError?: string | null | undefined }): SealWords {
  if (!status.sealing) {
    return { tone: 'warn', label: 'Not sealing', note: 'New entries are sealed after the next login.' };
  }
  if (status.sealError) {
    return {
      tone: 'danger',
      label: 'Seal failed',
      note: `The last seal failed (${status.sealError}): new entries stay unsealed until it works again.`,
    };
  }
  return { tone: 'ok', label: 'Sealed on the token', note: null };
}
