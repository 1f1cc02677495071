import { beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  modulusBits,
  parseRsaPublicKey,
  publicKeyFromJwk,
  rsaJwk,
  rsaPublicKeyFromKeyObject,
  spkiDer,
  spkiPem,
  spkiSha256,
} from '../../../electron/crypto/pem.nodejs';
import { MkmError } from '../../../shared/errors.std';
import { makeRsaFixture, openssl, type RsaFixture } from './fixtures';

let fx: RsaFixture;
let opensslSha: string;
let pkcs1Pem: string;
let certPem: string;
let derPath: string;

function refusal(fn: () => unknown): MkmError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MkmError);
    return e as MkmError;
  }
  throw new Error('expected a refusal');
}

beforeAll(() => {
  fx = makeRsaFixture();
  derPath = join(fx.dir, 'public.der');
  openssl(['pkey', '-pubin', '-in', fx.publicPemPath, '-outform', 'DER', '-out', derPath]);
  opensslSha = openssl(['dgst', '-sha256', '-r', derPath]).toString().split(' ')[0]!;
  pkcs1Pem = openssl(['rsa', '-pubin', '-in', fx.publicPemPath, '-RSAPublicKey_out']).toString();
  certPem = openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    fx.privatePemPath,
    '-subj',
    '/CN=mkm-test-gateway',
    '-days',
    '1',
    '-sha256',
  ]).toString();
});

describe('RSA public keys in every shape a gateway hands out', () => {
  it('spkiSha256 equals openssl pkey -pubin -outform DER | openssl dgst -sha256', () => {
    expect(opensslSha).toMatch(/^[0-9a-f]{64}$/);
    expect(spkiSha256(fx.publicPem)).toBe(opensslSha);
  });

  it('gives the same SPKI for SPKI PEM, PKCS#1 PEM, a certificate, DER and base64 DER', () => {
    expect(pkcs1Pem).toContain('BEGIN RSA PUBLIC KEY');
    const der = readFileSync(derPath);
    const inputs = [
      [fx.publicPem, 'spki'],
      [pkcs1Pem, 'pkcs1'],
      [certPem, 'certificate'],
      [der, 'der-spki'],
      [der.toString('base64'), 'der-spki'],
      [`  \r\n${fx.publicPem.replace(/\n/g, '\r\n')}\n\n`, 'spki'],
    ] as const;
    for (const [input, source] of inputs) {
      const key = parseRsaPublicKey(input);
      expect(key.source).toBe(source);
      expect(key.spkiSha256).toBe(opensslSha);
      expect(key.spkiDer.equals(der)).toBe(true);
      expect(key.modulusBits).toBe(2048);
    }
  });

  it('takes the leaf (first) certificate of a chain', () => {
    const ecKeyPath = join(fx.dir, 'ec.pem');
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', ecKeyPath]);
    const ecCert = openssl([
      'req',
      '-x509',
      '-new',
      '-key',
      ecKeyPath,
      '-subj',
      '/CN=intermediate',
      '-days',
      '1',
    ]).toString();
    expect(parseRsaPublicKey(certPem + ecCert).spkiSha256).toBe(opensslSha);
    expect(refusal(() => parseRsaPublicKey(ecCert + certPem)).message).toContain('ec key');
  });

  it('writes the SPKI PEM exactly as openssl does, from PKCS#1', () => {
    expect(spkiPem(pkcs1Pem)).toBe(fx.publicPem);
    expect(spkiDer(certPem).equals(readFileSync(derPath))).toBe(true);
    expect(modulusBits(fx.publicPem)).toBe(2048);
  });

  it('JWK round trip: n and e match openssl and come back to the same SPKI', () => {
    const jwk = rsaJwk(fx.publicPem);
    expect(Object.keys(jwk).sort()).toEqual(['e', 'kty', 'n']);
    expect(jwk.e).toBe('AQAB');
    const modulus = openssl(['rsa', '-pubin', '-in', fx.publicPemPath, '-noout', '-modulus'])
      .toString()
      .trim()
      .replace('Modulus=', '');
    expect(Buffer.from(jwk.n, 'base64url').toString('hex').toUpperCase()).toBe(modulus);
    expect(publicKeyFromJwk({ ...jwk }).spkiSha256).toBe(opensslSha);
    expect(parseRsaPublicKey(JSON.stringify(jwk)).source).toBe('jwk');
  });

  it('KeyObject round trip: from the node key and back out to the same SPKI', () => {
    const key = rsaPublicKeyFromKeyObject(fx.publicKey);
    expect(key.spkiSha256).toBe(opensslSha);
    expect(parseRsaPublicKey(fx.publicPem).keyObject.equals(fx.publicKey)).toBe(true);
    expect(refusal(() => rsaPublicKeyFromKeyObject(fx.privateKey)).code).toBe('PUBLIC_KEY_INVALID');
  });
});

describe('refusals', () => {
  const privateBody = () => fx.privatePem.split('\n')[3]!;

  it.each([
    ['PKCS#8 PRIVATE KEY', () => fx.privatePem],
    ['PKCS#1 RSA PRIVATE KEY', () => openssl(['rsa', '-in', fx.privatePemPath, '-traditional']).toString()],
    [
      'ENCRYPTED PRIVATE KEY',
      () =>
        openssl([
          'pkcs8',
          '-topk8',
          '-in',
          fx.privatePemPath,
          '-passout',
          'pass:secret-pass',
          '-v2',
          'aes-256-cbc',
        ]).toString(),
    ],
    ['a private key after a public one', () => fx.publicPem + fx.privatePem],
    [
      'an OpenSSH private key header',
      () =>
        '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----',
    ],
  ])('refuses %s with its own error and never echoes it', (_label, make) => {
    const text = make();
    const e = refusal(() => parseRsaPublicKey(text));
    expect(e.code).toBe('PRIVATE_KEY_REFUSED');
    const shown = JSON.stringify(e.toShape()) + String(e.stack);
    expect(shown).not.toContain(privateBody());
    expect(shown).not.toContain('BEGIN');
  });

  it('refuses a private key given as DER or as a JWK with private members', () => {
    const der = fx.privateKey.export({ type: 'pkcs8', format: 'der' });
    expect(refusal(() => parseRsaPublicKey(der)).code).toBe('PRIVATE_KEY_REFUSED');
    expect(refusal(() => parseRsaPublicKey(der.toString('base64'))).code).toBe('PRIVATE_KEY_REFUSED');
    const relabelled = fx.privatePem.replace(/PRIVATE KEY/g, 'PUBLIC KEY');
    expect(refusal(() => parseRsaPublicKey(relabelled)).code).toBe('PRIVATE_KEY_REFUSED');
    const jwk = fx.privateKey.export({ format: 'jwk' });
    expect(refusal(() => parseRsaPublicKey(JSON.stringify(jwk))).code).toBe('PRIVATE_KEY_REFUSED');
  });

  it('refuses non-RSA keys, small keys, broken PEMs and other PEM kinds with clear messages', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    expect(refusal(() => parseRsaPublicKey(ec.toString())).message).toContain('ec key; the gateway uses RSA');

    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    const e = refusal(() => parseRsaPublicKey(small.toString()));
    expect(e.code).toBe('KEY_SIZE_RANGE');
    expect(e.details).toEqual({ modulusBits: 1024, minBits: 2048 });
    expect(spkiSha256(small.toString())).toMatch(/^[0-9a-f]{64}$/);

    const lines = fx.publicPem.split('\n');
    lines[2] = lines[2]!.slice(0, 10) + '!' + lines[2]!.slice(11);
    const bad = refusal(() => parseRsaPublicKey(lines.join('\n')));
    expect(bad.code).toBe('PUBLIC_KEY_INVALID');
    expect(bad.message).toMatch(/not valid base64: bad character '!' \(U\+0021\) at position \d+/);

    const truncated = fx.publicPem.split('\n').slice(0, 4).join('\n');
    expect(refusal(() => parseRsaPublicKey(truncated)).message).toContain('no matching END line');

    const csr = openssl(['req', '-new', '-key', fx.privatePemPath, '-subj', '/CN=x']).toString();
    expect(refusal(() => parseRsaPublicKey(csr)).message).toContain(
      'CERTIFICATE REQUEST is not a public key',
    );

    const mismatched = fx.publicPem.replace('END PUBLIC KEY', 'END RSA PUBLIC KEY');
    expect(refusal(() => parseRsaPublicKey(mismatched)).message).toContain('ends as RSA PUBLIC KEY');

    expect(refusal(() => parseRsaPublicKey('ssh-rsa AAAAB3NzaC1yc2E user@host')).message).toContain(
      'OpenSSH',
    );
    expect(refusal(() => parseRsaPublicKey('hello world')).code).toBe('PUBLIC_KEY_INVALID');
    expect(refusal(() => parseRsaPublicKey(Buffer.from('not der'))).code).toBe('PUBLIC_KEY_INVALID');
    expect(refusal(() => publicKeyFromJwk({ kty: 'EC', x: 'a', y: 'b' })).code).toBe('PUBLIC_KEY_INVALID');
  });
});
