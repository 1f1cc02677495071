import { describe, expect, it } from 'vitest';
import { MkmError } from '../../../shared/errors.std';
import {
  PURPOSES,
  checkWrapTrust,
  keyPairTemplates,
  purposeRule,
  rsaBits,
  secretKeyTemplate,
  unwrapPurpose,
} from '../../../electron/hsm/pkcs11/templates.std';
import { KeyPurposeSchema, KeyTypeSchema } from '../../../shared/tokens.std';

const SECRET_USAGES = ['encrypt', 'decrypt', 'wrap', 'unwrap', 'sign', 'verify', 'derive'];
const granted = (t: Record<string, boolean | undefined>) =>
  Object.entries(t)
    .filter(([k, v]) => v === true && SECRET_USAGES.includes(k))
    .map(([k]) => k)
    .sort();

describe('key templates', () => {
  it('defines a rule for every purpose and allows every key type for some purpose', () => {
    expect(Object.keys(PURPOSES).sort()).toEqual([...KeyPurposeSchema.options].sort());
    for (const type of KeyTypeSchema.options) {
      expect(
        Object.values(PURPOSES).some((r) => r.keyTypes.includes(type)),
        type,
      ).toBe(true);
    }
  });

  it('makes secret keys token, private, sensitive and not extractable, naming every usage explicitly', () => {
    const t = secretKeyTemplate('aes-256', 'data');
    expect(t).toEqual({
      token: true,
      private: true,
      sensitive: true,
      extractable: false,
      encrypt: true,
      decrypt: true,
      wrap: false,
      unwrap: false,
      sign: true,
      verify: false,
      derive: false,
    });
  });

  it.each([
    ['aes-256', 'data', ['decrypt', 'encrypt', 'sign']],
    ['aes-256', 'kek', ['sign', 'unwrap', 'wrap']],
    ['hmac-256', 'hmac', ['sign', 'verify']],
    ['hmac-256', 'audit', ['sign', 'verify']],
  ] as const)('%s for %s gets exactly %j', (type, purpose, usages) => {
    expect(granted(secretKeyTemplate(type, purpose))).toEqual(usages);
  });

  it('gives RSA halves only the usages of their side', () => {
    const transport = keyPairTemplates('rsa-2048', 'gateway-transport');
    expect(transport.privateKey).toEqual({
      token: true,
      private: true,
      sensitive: true,
      extractable: false,
      decrypt: false,
      unwrap: true,
      sign: false,
      derive: false,
    });
    expect(transport.publicKey).toEqual({
      token: true,
      private: false,
      // The gateway wraps under the exported PEM, off the token: on the token it does nothing.
      encrypt: false,
      wrap: false,
      verify: false,
      derive: false,
    });
    const signing = keyPairTemplates('rsa-4096', 'signing');
    expect(granted(signing.privateKey)).toEqual(['sign']);
    expect(granted(signing.publicKey)).toEqual(['verify']);
    // A private key template never names public-only attributes, and vice versa.
    expect(Object.keys(signing.privateKey)).not.toContain('encrypt');
    expect(Object.keys(signing.publicKey)).not.toContain('decrypt');
  });

  it('refuses a key type that does not fit the purpose', () => {
    expect(() => purposeRule('aes-256', 'gateway-transport')).toThrow(MkmError);
    expect(() => secretKeyTemplate('hmac-256', 'data')).toThrow(/cannot be used for data/);
    expect(() => keyPairTemplates('aes-256', 'signing')).toThrow(MkmError);
  });

  it('allows wrapped export only where the purpose permits, keeps such keys sensitive, and only under a trusted KEK', () => {
    expect(secretKeyTemplate('aes-256', 'data', { exportable: true })).toMatchObject({
      extractable: true,
      sensitive: true,
      wrapWithTrusted: true,
    });
    expect(secretKeyTemplate('hmac-256', 'hmac', { exportable: true })).toMatchObject({
      extractable: true,
      wrapWithTrusted: true,
    });
    // Only a key that can leave carries the restriction: C_WrapKey refuses a non-extractable key
    // anyway, and tokens that do not know the attribute (openCryptoki) still make those keys.
    for (const t of [
      secretKeyTemplate('aes-256', 'data'),
      secretKeyTemplate('aes-256', 'kek'),
      secretKeyTemplate('hmac-256', 'audit'),
      keyPairTemplates('rsa-2048', 'gateway-transport').privateKey,
      keyPairTemplates('rsa-2048', 'signing').privateKey,
    ]) {
      expect(t).toMatchObject({ extractable: false });
      expect(t).not.toHaveProperty('wrapWithTrusted');
    }
    expect(() => secretKeyTemplate('aes-256', 'kek', { exportable: true })).toThrow(MkmError);
    expect(() => secretKeyTemplate('hmac-256', 'audit', { exportable: true })).toThrow(MkmError);
  });

  it('refuses to wrap a wrap-with-trusted key under a KEK that is not trusted, or whose trust is unknown', () => {
    const f = { keyId: 'aa', wrappingKeyId: 'bb' };
    expect(() => checkWrapTrust({ ...f, wrapWithTrusted: true, trusted: false })).toThrow(
      expect.objectContaining({ code: 'KEY_WRAP_UNTRUSTED' }),
    );
    expect(() => checkWrapTrust({ ...f, wrapWithTrusted: true, trusted: null })).toThrow(MkmError);
    expect(() => checkWrapTrust({ ...f, wrapWithTrusted: true, trusted: true })).not.toThrow();
    // A key made elsewhere without the restriction is the token's decision (CKA_EXTRACTABLE).
    expect(() => checkWrapTrust({ ...f, wrapWithTrusted: false, trusted: false })).not.toThrow();
  });

  it('makes session objects on request (one-use gateway keys)', () => {
    expect(secretKeyTemplate('aes-256', unwrapPurpose('aes-256'), { token: false }).token).toBe(false);
    expect(unwrapPurpose('hmac-256')).toBe('hmac');
  });

  it('reads RSA sizes from the type', () => {
    expect(rsaBits('rsa-3072')).toBe(3072);
    expect(rsaBits('aes-256')).toBeNull();
  });
});
