import forge from 'node-forge';
import type { RsaPublic } from './spki.nodejs';
import type { CsrSubject } from '../../../shared/tokens.std';

/**
 * PKCS#10 requests through node-forge, apart from spki.nodejs.ts so the host loads forge (about
 * 600 KB of JavaScript) only when a CSR is asked for, not at every start.
 */

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
