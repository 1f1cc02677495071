/**
 * SHA-256 fingerprints as people compare them: read out over the phone by a gateway's operator,
 * typed back with spaces or colons, shown in groups of four hex digits (issue 15 point 5).
 */

/** A SHA-256 fingerprint in groups of four hex digits, so two can be compared by eye. */
export function groupFingerprint(hex: string): string {
  return (hex.toLowerCase().match(/.{1,4}/g) ?? []).join(' ');
}

/**
 * The 64 lower-case hex digits of a fingerprint typed by a person (spaces, colons, dashes and
 * a `sha256:` prefix allowed), or null when it is not one.
 */
export function normalizeFingerprint(text: string): string | null {
  const hex = text
    .trim()
    .replace(/^sha-?256:/i, '')
    .replace(/[\s:-]+/g, '')
    .toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : null;
}
