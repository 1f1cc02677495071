import type { CapabilitiesResult, CapabilityName } from './tokens.std';

/**
 * Which token capabilities each feature needs, decided in one place: the main side refuses a
 * feature the probe found the token cannot do (CAPABILITY_MISSING, naming the capability), and
 * the renderer disables its control with the same sentence, so the two never disagree.
 */
export const CAPABILITY_LABELS: Record<CapabilityName, string> = {
  aes256Generate: 'Generate AES-256 keys',
  aesCbcPad: 'AES-CBC with padding',
  aesCmac: 'AES-CMAC (key check values)',
  aesKeyWrap: 'AES key wrap (RFC 3394)',
  aesKeyWrapPad: 'AES key wrap with padding (RFC 5649)',
  hmacSha256: 'HMAC-SHA256',
  wrapWithTrusted: 'Exportable keys restricted to trusted KEKs',
  rsa2048Generate: 'Generate RSA-2048 key pairs',
  rsa3072Generate: 'Generate RSA-3072 key pairs',
  rsa4096Generate: 'Generate RSA-4096 key pairs',
  rsaOaepSha1Encrypt: 'RSA-OAEP (SHA-1) encrypt',
  rsaOaepSha256Encrypt: 'RSA-OAEP (SHA-256) encrypt',
  rsaOaepSha1Unwrap: 'RSA-OAEP (SHA-1) unwrap',
  rsaOaepSha256Unwrap: 'RSA-OAEP (SHA-256) unwrap',
  rsaPkcs1Encrypt: 'RSA PKCS#1 v1.5 encrypt',
  rsaSha256Sign: 'RSA SHA-256 signatures (CSRs)',
  random: 'Random numbers',
};

/** One need: any of `anyOf` will do; `name` is what the refusal names (details.capability). */
interface Need {
  name: string;
  label: string;
  anyOf: readonly CapabilityName[];
}

const OAEP_UNWRAP: Need = {
  name: 'rsaOaepUnwrap',
  label: 'RSA-OAEP unwrap',
  anyOf: ['rsaOaepSha256Unwrap', 'rsaOaepSha1Unwrap'],
};
const one = (name: CapabilityName): Need => ({ name, label: CAPABILITY_LABELS[name], anyOf: [name] });

export const GATED_FEATURES = {
  'keyset-unwrap': { doing: 'receive gateway key sets', needs: [OAEP_UNWRAP] },
  'console-message': {
    doing: 'seal or open key-rolling messages',
    needs: [OAEP_UNWRAP, one('aesCbcPad'), one('hmacSha256')],
  },
  'exchange-sign': { doing: 'sign exchange packages', needs: [one('rsaSha256Sign')] },
  'kcv-aes': { doing: "compute an AES key's check value", needs: [one('aesCmac')] },
  'kcv-hmac': { doing: "compute an HMAC key's check value", needs: [one('hmacSha256')] },
} as const satisfies Record<string, { doing: string; needs: readonly Need[] }>;
export type GatedFeature = keyof typeof GATED_FEATURES;

/** The gate of a secret key's check value: AES keys need CMAC, HMAC keys HMAC-SHA256. */
export function kcvFeature(keyType: string | null): 'kcv-aes' | 'kcv-hmac' {
  return keyType === 'aes' || keyType === 'aes-256' ? 'kcv-aes' : 'kcv-hmac';
}

export interface MissingCapability {
  feature: GatedFeature;
  /** The capability the refusal names (a probe name, or rsaOaepUnwrap for either OAEP). */
  capability: string;
  /** Why not, in an admin's words, from the probe. */
  reason: string;
  /** The whole sentence: what cannot be done and why. */
  message: string;
}

/** What `feature` lacks on a token with these capabilities; null when it has everything. */
export function missingCapability(
  caps: Pick<CapabilitiesResult, 'capabilities'>,
  feature: GatedFeature,
): MissingCapability | null {
  const { doing, needs } = GATED_FEATURES[feature];
  for (const need of needs as readonly Need[]) {
    const answers = need.anyOf.map((n) => caps.capabilities[n]);
    if (answers.some((a) => a?.supported === true)) continue;
    const reasons = [...new Set(answers.map((a) => a?.reason).filter((r): r is string => !!r))];
    const reason = reasons.length ? reasons.join('; ') : 'the capability probe found it missing';
    return {
      feature,
      capability: need.name,
      reason,
      message: `This token cannot ${doing}: it lacks ${need.label} (${reason}).`,
    };
  }
  return null;
}
