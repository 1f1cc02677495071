import { X509Certificate, createHash, createPublicKey, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { writeFileAtomic } from '../../core/atomic-file.nodejs';
import { generateRsaKey } from './rsa.nodejs';

/**
 * The sandbox's TLS identity: a self-signed certificate made on first start and reused, so a
 * client's pin survives restarts. Clients trust it by pin (or by the certificate as their only
 * CA), never through the system store.
 */

export const TLS_KEY_FILE = 'tls-key.pem';
export const TLS_CERT_FILE = 'tls-cert.pem';
const VALIDITY_DAYS = 825;

export interface TlsMaterial {
  keyPem: string;
  certPem: string;
  /** Lowercase hex SHA-256 of the certificate's DER SubjectPublicKeyInfo. */
  pin: string;
}

export function spkiPinOfCert(certPem: string | Buffer): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('hex');
}

function makeCertificate(keyPem: string, publicPem: string, now: Date): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  // Positive 128-bit serial: a leading 0x01 byte keeps the DER integer from reading negative.
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + VALIDITY_DAYS * 86_400_000);
  const name = [
    { name: 'commonName', value: 'localhost' },
    { name: 'organizationName', value: 'Merchant Key Manager sandbox gateway' },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 2, value: 'localhost' },
        { type: 7, ip: '127.0.0.1' },
      ],
    },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

function usable(certPem: string, now: Date): boolean {
  try {
    const cert = new X509Certificate(certPem);
    return new Date(cert.validTo).getTime() > now.getTime() + 86_400_000;
  } catch {
    return false;
  }
}

/**
 * Reuse what the data dir holds; make a key and certificate when there is none, and a new
 * certificate (same key, so the same pin) when the old one is about to lapse.
 */
export async function ensureTlsMaterial(dataDir: string, now = new Date()): Promise<TlsMaterial> {
  const keyFile = join(dataDir, TLS_KEY_FILE);
  const certFile = join(dataDir, TLS_CERT_FILE);
  let keyPem: string;
  if (existsSync(keyFile)) {
    keyPem = readFileSync(keyFile, 'utf8');
  } else {
    // forge reads PKCS#8 "PRIVATE KEY" as well as PKCS#1.
    keyPem = (await generateRsaKey(2048)).privatePem;
    writeFileAtomic(keyFile, keyPem, 0o600);
  }
  let certPem = existsSync(certFile) ? readFileSync(certFile, 'utf8') : '';
  if (!usable(certPem, now)) {
    const publicPem = createPublicKey(keyPem).export({ type: 'spki', format: 'pem' }) as string;
    certPem = makeCertificate(keyPem, publicPem, now);
    writeFileAtomic(certFile, certPem, 0o644);
  }
  return { keyPem, certPem, pin: spkiPinOfCert(certPem) };
}
