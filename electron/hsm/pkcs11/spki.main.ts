import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import type { CsrSubject, RsaJwk } from './types.std';

/**
 * Public-key formats from the raw RSA components a token gives (CKA_MODULUS, CKA_PUBLIC_EXPONENT).
 * node:crypto builds the SubjectPublicKeyInfo from a JWK, so the DER is the same one the
 * gateway hashes for `spki_sha256`.
 */

const b64url = (buf: Buffer): string => buf.toString('base64url');

/** Big-endian unsigned integer bytes without leading zeros (JWK and DER INTEGER both want this). */
function stripLeadingZeros(buf: Buffer): Buffer {
  let i = 0;
  while (i < buf.length - 1 && buf[i] === 0) i++;
  return buf.subarray(i);
}

export interface RsaPublic {
  keyObject: KeyObject;
  spkiDer: Buffer;
  pem: string;
  jwk: RsaJwk;
  spkiSha256: string;
  bits: number;
}

export function rsaPublicFromComponents(modulus: Buffer, exponent: Buffer): RsaPublic {
  const n = stripLeadingZeros(modulus);
  const e = stripLeadingZeros(exponent);
  const jwk: RsaJwk = { kty: 'RSA', n: b64url(n), e: b64url(e) };
  const keyObject = createPublicKey({ key: { ...jwk }, format: 'jwk' });
  const spkiDer = keyObject.export({ type: 'spki', format: 'der' });
  const pem = keyObject.export({ type: 'spki', format: 'pem' }).toString();
  const bits = n.length * 8 - Math.clz32(n[0]!) + 24;
  return { keyObject, spkiDer, pem, jwk, spkiSha256: sha256Hex(spkiDer), bits };
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

const SUBJECT_FIELDS: [keyof CsrSubject, string][] = [
  ['country', 'countryName'],
  ['state', 'stateOrProvinceName'],
  ['locality', 'localityName'],
  ['organization', 'organizationName'],
  ['organizationalUnit', 'organizationalUnitName'],
  ['commonName', 'commonName'],
  ['email', 'emailAddress'],
];

const SHA256_WITH_RSA = forge.pki.oids.sha256WithRSAEncryption!;

/**
 * A PKCS#10 request in two steps, because the private key stays on the token: `toBeSigned` is
 * the DER CertificationRequestInfo the token signs (CKM_SHA256_RSA_PKCS hashes it itself), and
 * `assemble` wraps it with the signature.
 */
export function csrToBeSigned(
  pub: RsaPublic,
  subject: CsrSubject,
): { cri: forge.asn1.Asn1; toBeSigned: Buffer } {
  const csr = forge.pki.createCertificationRequest();
  const n = new forge.jsbn.BigInteger(Buffer.from(pub.jwk.n, 'base64url').toString('hex'), 16);
  const e = new forge.jsbn.BigInteger(Buffer.from(pub.jwk.e, 'base64url').toString('hex'), 16);
  csr.publicKey = forge.pki.setRsaPublicKey(n, e);
  const attrs: forge.pki.CertificateField[] = [];
  for (const [key, name] of SUBJECT_FIELDS) {
    const value = subject[key];
    if (value !== undefined && value !== '') {
      // UTF8String (forge encodes the JS string) except where X.520/PKCS#9 fix the type:
      // countryName is a PrintableString, emailAddress an IA5String.
      const tag = name === 'countryName' ? 19 : name === 'emailAddress' ? 22 : 12;
      attrs.push({ name, value, valueTagClass: tag } as unknown as forge.pki.CertificateField);
    }
  }
  csr.setSubject(attrs);
  // Typed in @types/node-forge only partly; present in node-forge since 0.6.
  const cri = (
    forge.pki as unknown as {
      getCertificationRequestInfo(c: forge.pki.CertificateSigningRequest): forge.asn1.Asn1;
    }
  ).getCertificationRequestInfo(csr);
  return { cri, toBeSigned: Buffer.from(forge.asn1.toDer(cri).getBytes(), 'binary') };
}

export function csrAssemble(cri: forge.asn1.Asn1, signature: Buffer): string {
  const { asn1 } = forge;
  const der = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    cri,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(SHA256_WITH_RSA).getBytes()),
      asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, ''),
    ]),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, '\x00' + signature.toString('binary')),
  ]);
  const body = Buffer.from(asn1.toDer(der).getBytes(), 'binary').toString('base64');
  const lines = body.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE REQUEST-----\n${lines.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
}
