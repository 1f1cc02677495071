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
    hmac: 'HMAC',
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

/**
 * A key's usages as a person reads them. An AES key's CKA_SIGN exists only for its AES-CMAC key
 * check value (a token computes CMAC with C_Sign): it is named `kcv`, so a data key does not read
 * as a signing key.
 */
export function usageNames(usages: readonly string[], keyType: string | null | undefined): string[] {
  return usages.map((u) => (u === 'sign' && keyType === 'aes' ? 'kcv' : u));
}

/** mkm's own key types (`aes-256`, `hmac-256`, `rsa-2048`) the same way: `AES-256`, `HMAC-256`. */
export function managedTypeText(type: string): string {
  const match = /^([a-z0-9]+?)-(\d+)$/.exec(type);
  return match ? `${keyTypeName(match[1])}-${match[2]}` : keyTypeName(type);
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
export function sealWords(status: {
  sealing: boolean;
  sealError?: string | null | undefined;
  /** What seals (its method) or why the logged-in token cannot seal at all. */
  seal?: { method: string | null; impossible: string | null; summary: string } | undefined;
}): SealWords {
  if (status.seal?.impossible) return { tone: 'danger', label: 'Not sealed', note: status.seal.summary };
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
  return { tone: 'ok', label: 'Sealed on the token', note: status.seal?.method ?? null };
}

/**
 * What differs between the confirmation a person typed and the one asked for (`data key v2`),
 * in one sentence; null when they match exactly.
 */
export function confirmationMismatch(expected: string, typed: string): string | null {
  if (typed === expected) return null;
  if (typed.length === 0) return `Type “${expected}” to confirm.`;
  if (typed.trim() === expected) return 'Remove the spaces before or after the name.';
  if (typed.toLowerCase() === expected.toLowerCase())
    return `Upper and lower case differ: type “${expected}” exactly.`;
  const want = /^(.*) v(\d+)$/.exec(expected);
  const got = /^(.*?)\s*v?(\d+)$/.exec(typed.trim());
  if (want && got && got[1] === want[1] && got[2] !== want[2])
    return `The version differs: this is v${want[2]}, you typed v${got[2]}.`;
  if (want && typed.trim() === want[1]) return `Add the version: “${expected}”.`;
  if (want && got && got[2] === want[2] && got[1] !== want[1])
    return `The key name differs: it is “${want[1]}”.`;
  return `That is not “${expected}”.`;
}
