/**
 * A component crosses main only as ciphertext (CEREMONY.md, "Secrets travel end to end"): into
 * the host it is encrypted in the page with RSA-OAEP SHA-256 to the token's session transport
 * key; out of the host it comes encrypted to a key pair the page makes for one custodian, whose
 * private half cannot leave WebCrypto.
 */

const OAEP = { name: 'RSA-OAEP', hash: 'SHA-256' } as const;

export function pemToDer(pem: string): Uint8Array<ArrayBuffer> {
  const body = pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, '');
  const binary = atob(body);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export function derToPem(der: Uint8Array): string {
  let binary = '';
  for (const b of der) binary += String.fromCharCode(b);
  const lines = btoa(binary).match(/.{1,64}/g) ?? [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join('\n')}\n-----END PUBLIC KEY-----\n`;
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** `bytes` encrypted to the SPKI (RSA-OAEP SHA-256), as base64. The caller wipes `bytes`. */
export async function encryptTo(spkiPem: string, bytes: Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey('spki', pemToDer(spkiPem), OAEP, false, ['encrypt']);
  return toBase64(new Uint8Array(await crypto.subtle.encrypt(OAEP, key, bytes as Uint8Array<ArrayBuffer>)));
}

/** A key pair for one reveal: the public half as PEM to send, the private half never extractable. */
export async function makeRevealKey(): Promise<{ publicPem: string; privateKey: CryptoKey }> {
  const pair = await crypto.subtle.generateKey(
    { ...OAEP, modulusLength: 3072, publicExponent: new Uint8Array([1, 0, 1]) },
    false,
    ['encrypt', 'decrypt'],
  );
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey));
  return { publicPem: derToPem(spki), privateKey: pair.privateKey };
}

/** The revealed component's bytes (the caller shows, then wipes them). */
export async function decryptReply(privateKey: CryptoKey, ciphertext: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.decrypt(OAEP, privateKey, fromBase64(ciphertext)));
}
