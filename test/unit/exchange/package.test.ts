import { constants, createHash, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ExchangePackage, UnsignedExchangePackage } from '../../../shared/contract/exchange.std';
import { MkmError } from '../../../shared/errors.std';
import {
  checkContents,
  checkKinds,
  checkSignature,
  packageText,
  parsePackage,
  signedBytes,
} from '../../../electron/gateway/exchange/package.main';

/**
 * The format on its own, with keys made by node:crypto (the token is the integration tests'
 * business): each check refuses with its own code, and a signature made by a plain RSA
 * implementation over the canonical bytes is accepted.
 */
const pair = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
const signerKeys = pair();
const itemKeys = pair();
const pemOf = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }) as string;
const fpr = (k: KeyObject) =>
  createHash('sha256')
    .update(k.export({ type: 'spki', format: 'der' }))
    .digest('hex');

function unsigned(overrides: Partial<UnsignedExchangePackage> = {}): UnsignedExchangePackage {
  return {
    format: 'mkm-exchange',
    version: 1,
    id: randomUUID(),
    purpose: 'registration-request',
    created: new Date().toISOString(),
    producer: { app: 'mkm', appVersion: '0.0.0-test', osUser: 'tester', token: { serial: '1', label: 't' } },
    items: [
      {
        kind: 'registration-request',
        keyId: 'aa01',
        label: 'transport',
        bits: 2048,
        publicKeyPem: pemOf(itemKeys.publicKey),
        spkiSha256: fpr(itemKeys.publicKey),
        wrapping: 'RSAES-OAEP-SHA1',
      },
    ],
    signer: {
      keyId: 'bb02',
      label: 'signer',
      spkiPem: pemOf(signerKeys.publicKey),
      spkiSha256: fpr(signerKeys.publicKey),
    },
    ...overrides,
  };
}

function signed(u: UnsignedExchangePackage, pss = true, key = signerKeys.privateKey): ExchangePackage {
  const value = sign(
    'sha256',
    signedBytes(u),
    pss ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : key,
  ).toString('base64');
  return { ...u, signature: { alg: pss ? 'RSASSA-PSS-SHA256' : 'RSASSA-PKCS1-v1_5-SHA256', value } };
}

function refusal(fn: () => unknown): MkmError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(MkmError);
    return error as MkmError;
  }
  throw new Error('expected a refusal');
}

const full = (text: string) => {
  const pkg = parsePackage(text);
  checkSignature(pkg);
  checkContents(pkg);
  return pkg;
};

describe('exchange package format', () => {
  it('accepts PSS and PKCS#1 v1.5 signatures made by node:crypto over the canonical bytes', () => {
    expect(full(packageText(signed(unsigned()))).purpose).toBe('registration-request');
    expect(full(packageText(signed(unsigned(), false))).signature.alg).toBe('RSASSA-PKCS1-v1_5-SHA256');
  });

  it('does not care about layout or member order, only content', () => {
    const pkg = signed(unsigned());
    const reordered = JSON.stringify(Object.fromEntries(Object.entries(pkg).reverse()));
    expect(() => full(reordered)).not.toThrow();
  });

  it('refuses, each with its own code: not JSON, wrong format, unknown version, unknown or missing member', () => {
    const text = packageText(signed(unsigned()));
    expect(refusal(() => parsePackage(text.slice(0, text.length / 2))).code).toBe('EXCHANGE_NOT_JSON');
    expect(refusal(() => parsePackage('{"format":"other"}')).code).toBe('EXCHANGE_FORMAT_INVALID');
    expect(refusal(() => parsePackage('[1]')).code).toBe('EXCHANGE_FORMAT_INVALID');
    expect(refusal(() => parsePackage(text.replace('"version": 1', '"version": 2'))).code).toBe(
      'EXCHANGE_VERSION_UNSUPPORTED',
    );
    const extra = { ...JSON.parse(text), comment: 'hi' };
    const e = refusal(() => parsePackage(JSON.stringify(extra)));
    expect(e.code).toBe('EXCHANGE_FORMAT_INVALID');
    expect(e.details?.reason).toBe('schema');
    const { signer: _s, ...missing } = JSON.parse(text);
    expect(refusal(() => parsePackage(JSON.stringify(missing))).code).toBe('EXCHANGE_FORMAT_INVALID');
    expect(refusal(() => parsePackage(' '.repeat(512 * 1024 + 1))).code).toBe('EXCHANGE_TOO_LARGE');
  });

  it('refuses a changed item, a flipped signature bit, and another key posing as the signer', () => {
    const pkg = signed(unsigned());
    const changed = structuredClone(pkg);
    (changed.items[0] as { label: string }).label = 'other';
    expect(refusal(() => full(packageText(changed))).code).toBe('EXCHANGE_SIGNATURE_INVALID');

    const flipped = structuredClone(pkg);
    const sig = Buffer.from(flipped.signature.value, 'base64');
    sig[10] = sig[10]! ^ 0x01;
    flipped.signature.value = sig.toString('base64');
    expect(refusal(() => full(packageText(flipped))).code).toBe('EXCHANGE_SIGNATURE_INVALID');

    const other = pair();
    const swapped = structuredClone(pkg);
    swapped.signer.spkiPem = pemOf(other.publicKey);
    swapped.signer.spkiSha256 = fpr(other.publicKey);
    expect(refusal(() => full(packageText(swapped))).code).toBe('EXCHANGE_SIGNATURE_INVALID');
    // Only the PEM swapped: the stated fingerprint no longer names it.
    const half = structuredClone(pkg);
    half.signer.spkiPem = pemOf(other.publicKey);
    expect(refusal(() => full(packageText(half))).code).toBe('EXCHANGE_ITEM_MISMATCH');
  });

  it('refuses a signed item whose fingerprint is not its PEM, an expired package, and stray item kinds', () => {
    const wrongFpr = unsigned();
    (wrongFpr.items[0] as { spkiSha256: string }).spkiSha256 = fpr(signerKeys.publicKey);
    const e = refusal(() => full(packageText(signed(wrongFpr))));
    expect(e.code).toBe('EXCHANGE_ITEM_MISMATCH');
    expect(e.details?.reason).toBe('item-fingerprint-mismatch');

    const expired = unsigned({ expires: new Date(Date.now() - 1000).toISOString() });
    expect(refusal(() => full(packageText(signed(expired)))).code).toBe('EXCHANGE_EXPIRED');

    const stray = unsigned({ purpose: 'key-announcement' });
    expect(refusal(() => full(packageText(signed(stray)))).code).toBe('EXCHANGE_KIND_REFUSED');

    const pkg = parsePackage(packageText(signed(unsigned())));
    expect(refusal(() => checkKinds(pkg, 'gateway-key')).details?.reason).toBe('unexpected-purpose');
  });

  it('refuses a signer key below 2048 bits', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const u = unsigned({
      signer: {
        keyId: 'cc03',
        label: 'weak',
        spkiPem: pemOf(small.publicKey),
        spkiSha256: fpr(small.publicKey),
      },
    });
    const e = refusal(() => full(packageText(signed(u, false, small.privateKey))));
    expect(e.code).toBe('EXCHANGE_FORMAT_INVALID');
    expect(e.details?.reason).toBe('public-key-invalid');
  });
});
