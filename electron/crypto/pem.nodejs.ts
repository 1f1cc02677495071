import { createHash, createPrivateKey, createPublicKey, KeyObject, X509Certificate } from 'node:crypto';
import { MkmError } from '../../shared/errors.std';
import { parseBase64 } from '../../shared/formats/encoding.std';

/**
 * RSA public keys in the shapes gateways hand out: SPKI `PUBLIC KEY` PEM (PayTrace's
 * download), PKCS#1 `RSA PUBLIC KEY`, an X.509 certificate, DER of any of these, or a JWK.
 * Everything becomes one SPKI, because the contract names a key by SHA-256 of its DER SPKI.
 * A private key is refused before anything parses it: node's createPublicKey would happily
 * derive the public half from it, and the person who pasted it needs to hear that the
 * private key has been exposed, not that it "worked".
 */

export type PublicKeySource =
  'spki' | 'pkcs1' | 'certificate' | 'der-spki' | 'der-pkcs1' | 'der-certificate' | 'jwk' | 'key-object';

export interface RsaPublicKey {
  keyObject: KeyObject;
  spkiDer: Buffer;
  /** Lowercase hex SHA-256 of `spkiDer`. */
  spkiSha256: string;
  modulusBits: number;
  source: PublicKeySource;
}

export interface RsaJwk {
  kty: 'RSA';
  n: string;
  e: string;
}

export interface ParseOptions {
  /** Refuse smaller moduli; default 2048 (the contract's minimum). */
  minBits?: number;
}

const PRIVATE_LABEL = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----/;
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;
const JWK_PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'] as const;

function invalid(message: string, details?: Record<string, string | number>): MkmError {
  return new MkmError('PUBLIC_KEY_INVALID', message, details);
}

function refusePrivate(): MkmError {
  return new MkmError('PRIVATE_KEY_REFUSED');
}

function tryOr<T>(make: () => T): T | null {
  try {
    return make();
  } catch {
    return null;
  }
}

function fromDer(der: Buffer, kind: 'spki' | 'pkcs1' | 'certificate'): KeyObject | null {
  if (kind === 'certificate') return tryOr(() => new X509Certificate(der).publicKey);
  return tryOr(() => createPublicKey({ key: der, format: 'der', type: kind }));
}

function looksLikePrivateDer(der: Buffer): boolean {
  return (
    tryOr(() => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })) !== null ||
    tryOr(() => createPrivateKey({ key: der, format: 'der', type: 'pkcs1' })) !== null
  );
}

function describe(keyObject: KeyObject, source: PublicKeySource, options: ParseOptions): RsaPublicKey {
  if (keyObject.asymmetricKeyType !== 'rsa') {
    throw invalid(`This is an ${keyObject.asymmetricKeyType ?? 'unknown'} key; the gateway uses RSA.`, {
      keyType: keyObject.asymmetricKeyType ?? 'unknown',
    });
  }
  const modulusBits = keyObject.asymmetricKeyDetails?.modulusLength ?? 0;
  const minBits = options.minBits ?? 2048;
  if (modulusBits < minBits) {
    throw new MkmError(
      'KEY_SIZE_RANGE',
      `The RSA key has ${modulusBits} bits; at least ${minBits} are required.`,
      {
        modulusBits,
        minBits,
      },
    );
  }
  const spkiDer = keyObject.export({ type: 'spki', format: 'der' });
  return { keyObject, spkiDer, spkiSha256: sha256Hex(spkiDer), modulusBits, source };
}

function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function pemBody(label: string, body: string): Buffer {
  const compact = body.replace(/\s+/g, '');
  const parsed = parseBase64(compact);
  if (!parsed.ok) throw invalid(`The ${label} PEM body is not valid base64: ${parsed.message}.`);
  return Buffer.from(parsed.bytes);
}

const PEM_KINDS: Record<string, 'spki' | 'pkcs1' | 'certificate'> = {
  'PUBLIC KEY': 'spki',
  'RSA PUBLIC KEY': 'pkcs1',
  CERTIFICATE: 'certificate',
  'X509 CERTIFICATE': 'certificate',
};

const PEM_SOURCE = { spki: 'spki', pkcs1: 'pkcs1', certificate: 'certificate' } as const;
const DER_SOURCE = { spki: 'der-spki', pkcs1: 'der-pkcs1', certificate: 'der-certificate' } as const;

/** The first usable block; in a certificate chain that is the leaf, as TLS and PEM bundles order them. */
function parsePem(text: string, options: ParseOptions): RsaPublicKey {
  const labels: string[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    const [, begin, body, end] = m as unknown as [string, string, string, string];
    if (begin !== end) throw invalid(`The PEM block starts as ${begin} but ends as ${end}.`);
    const kind = PEM_KINDS[begin];
    labels.push(begin);
    if (!kind) continue;
    const der = pemBody(begin, body);
    if (looksLikePrivateDer(der)) throw refusePrivate();
    const keyObject = fromDer(der, kind);
    if (!keyObject) throw invalid(`The ${begin} PEM block does not hold a valid ${begin.toLowerCase()}.`);
    return describe(keyObject, PEM_SOURCE[kind], options);
  }
  if (labels.length === 0) throw invalid('The PEM has a BEGIN line but no matching END line (truncated?).');
  throw invalid(`A PEM labelled ${labels.join(', ')} is not a public key or certificate.`);
}

function parseDer(der: Buffer, options: ParseOptions): RsaPublicKey {
  // First: createPublicKey derives a public key from private DER too.
  if (looksLikePrivateDer(der)) throw refusePrivate();
  for (const kind of ['spki', 'pkcs1', 'certificate'] as const) {
    const keyObject = fromDer(der, kind);
    if (keyObject) return describe(keyObject, DER_SOURCE[kind], options);
  }
  throw invalid('The bytes are not a DER public key, RSA public key or certificate.');
}

function parseJwkText(text: string, options: ParseOptions): RsaPublicKey {
  const json = tryOr(() => JSON.parse(text) as unknown);
  if (typeof json !== 'object' || json === null) throw invalid('The text starts like JSON but is not a JWK.');
  return publicKeyFromJwk(json as Record<string, unknown>, options);
}

/** Any accepted input to one RSA public key; see the module comment for what is accepted. */
export function parseRsaPublicKey(input: string | Uint8Array, options: ParseOptions = {}): RsaPublicKey {
  if (typeof input !== 'string') return parseDer(Buffer.from(input), options);
  if (PRIVATE_LABEL.test(input) || /PRIVATE KEY BLOCK/.test(input)) throw refusePrivate();
  const text = input.trim();
  if (text.includes('-----BEGIN ')) return parsePem(text, options);
  if (text.startsWith('{')) return parseJwkText(text, options);
  if (/^ssh-(rsa|ed25519|dss)\s/.test(text)) {
    throw invalid('This is an OpenSSH public key; export it as PEM (ssh-keygen -e -m PKCS8).');
  }
  const b64 = parseBase64(text.replace(/\s+/g, ''));
  if (b64.ok) return parseDer(Buffer.from(b64.bytes), options);
  throw invalid('The text is not a PEM, a JWK or base64 DER.');
}

/** A JWK with kty RSA and n, e; a JWK carrying private members is refused. */
export function publicKeyFromJwk(jwk: Record<string, unknown>, options: ParseOptions = {}): RsaPublicKey {
  if (JWK_PRIVATE_MEMBERS.some((m) => m in jwk)) throw refusePrivate();
  if (jwk.kty !== 'RSA') throw invalid('The JWK is not an RSA key (kty must be "RSA").');
  const { n, e } = jwk;
  const b64url = /^[A-Za-z0-9_-]+$/;
  if (typeof n !== 'string' || !b64url.test(n) || typeof e !== 'string' || !b64url.test(e)) {
    throw invalid('The JWK needs n and e as base64url without padding.');
  }
  const keyObject = tryOr(() => createPublicKey({ key: { kty: 'RSA', n, e }, format: 'jwk' }));
  if (!keyObject) throw invalid('The JWK n and e do not form an RSA public key.');
  return describe(keyObject, 'jwk', options);
}

/** A node KeyObject; only a public one (a private KeyObject here means a caller mixed up halves). */
export function rsaPublicKeyFromKeyObject(keyObject: KeyObject, options: ParseOptions = {}): RsaPublicKey {
  if (keyObject.type !== 'public')
    throw invalid(`Expected a public key object, got a ${keyObject.type} one.`);
  return describe(keyObject, 'key-object', options);
}

/** `key` as parsed, or parsed from PEM/DER/KeyObject; minimum size is not enforced for keys already parsed. */
export function toRsaPublicKey(
  key: RsaPublicKey | KeyObject | string | Uint8Array,
  options: ParseOptions = {},
): RsaPublicKey {
  if (key instanceof KeyObject) return rsaPublicKeyFromKeyObject(key, options);
  return typeof key === 'string' || key instanceof Uint8Array ? parseRsaPublicKey(key, options) : key;
}

/** Lowercase hex SHA-256 of the DER SubjectPublicKeyInfo (the contract's `spki_sha256`). */
export function spkiSha256(pemOrDer: string | Uint8Array): string {
  return parseRsaPublicKey(pemOrDer, { minBits: 0 }).spkiSha256;
}

export function spkiDer(pemOrDer: string | Uint8Array): Buffer {
  return parseRsaPublicKey(pemOrDer, { minBits: 0 }).spkiDer;
}

/** SPKI `PUBLIC KEY` PEM, 64-character lines, trailing newline (what openssl writes). */
export function spkiPem(pemOrDer: string | Uint8Array): string {
  const lines =
    spkiDer(pemOrDer)
      .toString('base64')
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join('\n')}\n-----END PUBLIC KEY-----\n`;
}

export function modulusBits(pemOrDer: string | Uint8Array): number {
  return parseRsaPublicKey(pemOrDer, { minBits: 0 }).modulusBits;
}

export function rsaJwk(pemOrDer: string | Uint8Array): RsaJwk {
  const jwk = parseRsaPublicKey(pemOrDer, { minBits: 0 }).keyObject.export({ format: 'jwk' });
  return { kty: 'RSA', n: String(jwk.n), e: String(jwk.e) };
}
