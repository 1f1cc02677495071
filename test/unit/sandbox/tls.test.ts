import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureTlsMaterial, spkiPinOfCert } from '../../../electron/gateway/sandbox/tls.nodejs';

const dir = mkdtempSync(join(tmpdir(), 'mkm-sb-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ensureTlsMaterial', () => {
  it('makes a self-signed localhost certificate once and reuses it; a renewal keeps the key and so the pin', async () => {
    const first = await ensureTlsMaterial(dir);
    const cert = new X509Certificate(first.certPem);
    expect(cert.subject).toContain('CN=localhost');
    expect(cert.subjectAltName).toContain('DNS:localhost');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.verify(cert.publicKey)).toBe(true); // self-signed
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(first.pin).toBe(spkiPinOfCert(first.certPem));
    expect(first.pin).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(join(dir, 'tls-key.pem')).mode & 0o777).toBe(0o600);

    const again = await ensureTlsMaterial(dir);
    expect(again.certPem).toBe(first.certPem);

    // Three years on, the certificate has lapsed: a new one, same key, same pin.
    const later = await ensureTlsMaterial(dir, new Date(Date.now() + 3 * 365 * 86_400_000));
    expect(later.certPem).not.toBe(first.certPem);
    expect(later.pin).toBe(first.pin);
  });
});
