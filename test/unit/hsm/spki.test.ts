import { createHash, createSign, generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { csrAssemble, csrToBeSigned } from '../../../electron/hsm/pkcs11/csr.nodejs';
import { rsaPublicFromComponents } from '../../../electron/hsm/pkcs11/spki.nodejs';

// One small software key for all cases: the conversions do not depend on the size.
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
const jwk = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
const modulus = Buffer.from(jwk.n, 'base64url');
const exponent = Buffer.from(jwk.e, 'base64url');

describe('public key formats from token components', () => {
  it('builds the same SPKI, PEM and fingerprint node:crypto does', () => {
    const pub = rsaPublicFromComponents(modulus, exponent);
    const der = publicKey.export({ type: 'spki', format: 'der' });
    expect(pub.spkiDer.equals(der)).toBe(true);
    expect(pub.pem).toBe(publicKey.export({ type: 'spki', format: 'pem' }));
    expect(pub.spkiSha256).toBe(createHash('sha256').update(der).digest('hex'));
    expect(pub.jwk).toEqual({ kty: 'RSA', n: jwk.n, e: jwk.e });
    expect(pub.bits).toBe(1024);
  });

  it('ignores leading zero bytes some tokens put in front of the modulus', () => {
    const pub = rsaPublicFromComponents(Buffer.concat([Buffer.alloc(1), modulus]), Buffer.from([0, 1, 0, 1]));
    expect(pub.jwk.n).toBe(jwk.n);
    expect(pub.jwk.e).toBe('AQAB');
  });
});

describe('CSR assembly', () => {
  it('produces a PKCS#10 request whose signature verifies over the signed bytes', () => {
    const pub = rsaPublicFromComponents(modulus, exponent);
    const { cri, toBeSigned } = csrToBeSigned(pub, {
      commonName: 'Müller Shop',
      country: 'DE',
      organization: 'Example',
      email: 'keys@example.com',
    });
    // What the token does with CKM_SHA256_RSA_PKCS.
    const signature = createSign('sha256').update(toBeSigned).sign(privateKey);
    const pem = csrAssemble(cri, signature);
    const csr = forge.pki.certificationRequestFromPem(pem);
    expect(csr.verify()).toBe(true);
    // forge hands back the UTF8String bytes as a binary string.
    expect(forge.util.decodeUtf8(csr.subject.getField('CN').value)).toBe('Müller Shop');
    expect(csr.subject.attributes.find((a) => a.name === 'emailAddress')?.value).toBe('keys@example.com');
    expect(csr.subject.getField('C').value).toBe('DE');
    // A signature over anything else does not verify.
    const bad = Buffer.from(signature);
    bad[10]! ^= 1;
    const tampered = forge.pki.certificationRequestFromPem(csrAssemble(cri, bad));
    let ok: boolean;
    try {
      ok = tampered.verify();
    } catch {
      ok = false; // forge throws on a bad PKCS#1 block
    }
    expect(ok).toBe(false);
  });
});
