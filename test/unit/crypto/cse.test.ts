import { beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import forge from 'node-forge';
import {
  buildPaytraceBody,
  buildVerifyRequest,
  decryptField,
  encryptField,
  maxFieldBytes,
  verifyRequestSchema,
  type CsePadding,
} from '../../../electron/crypto/cse.nodejs';
import { parseRsaPublicKey, type RsaPublicKey } from '../../../electron/crypto/pem.nodejs';
import { MkmError } from '../../../shared/errors.std';
import { makeRsaFixture, openssl, opensslAccepts, writeTemp, type RsaFixture } from './fixtures';

let fx: RsaFixture;
let gatewayKey: RsaPublicKey;
let forgePrivate: forge.pki.rsa.PrivateKey;
let forgePublic: forge.pki.rsa.PublicKey;

beforeAll(() => {
  fx = makeRsaFixture();
  gatewayKey = parseRsaPublicKey(fx.publicPem);
  forgePrivate = forge.pki.privateKeyFromPem(fx.privatePem);
  forgePublic = forge.pki.publicKeyFromPem(fx.publicPem);
});

const PKCS1: CsePadding = 'RSAES-PKCS1-V1_5';
const OAEP: CsePadding = 'RSAES-OAEP-SHA256';

function opensslDecrypt(b64: string, options: string[]): Buffer {
  const file = writeTemp(fx.dir, `f-${randomBytes(4).toString('hex')}`, Buffer.from(b64, 'base64'));
  const args = ['pkeyutl', '-decrypt', '-inkey', fx.privatePemPath, '-in', file];
  for (const o of options) args.push('-pkeyopt', o);
  return openssl(args);
}

const OAEP_SHA256 = ['rsa_padding_mode:oaep', 'rsa_oaep_md:sha256', 'rsa_mgf1_md:sha256'];

function forgeDecrypt(b64: string): string {
  return forgePrivate.decrypt(forge.util.decode64(b64), 'RSAES-PKCS1-V1_5');
}

function typedError(fn: () => unknown): MkmError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MkmError);
    return e as MkmError;
  }
  throw new Error('expected an error');
}

describe('encryptField', () => {
  it('PKCS#1 v1.5: standard base64 of exactly the modulus length, decrypted by openssl and node-forge', () => {
    for (const value of ['4111111111111111', '999', '0426']) {
      const b64 = encryptField(gatewayKey, value, PKCS1);
      expect(b64).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
      expect(b64).toHaveLength(344);
      expect(Buffer.from(b64, 'base64')).toHaveLength(256);
      expect(forge.util.decode64(b64)).toHaveLength(256);
      expect(forgeDecrypt(b64)).toBe(value);
      expect(opensslDecrypt(b64, ['rsa_padding_mode:pkcs1']).toString('utf8')).toBe(value);
    }
  });

  it('OAEP-SHA256 with MGF1-SHA256: openssl decrypts it, and refuses it as OAEP-SHA1', () => {
    const b64 = encryptField(fx.publicPem, '5555555555554444', OAEP);
    expect(Buffer.from(b64, 'base64')).toHaveLength(256);
    expect(opensslDecrypt(b64, OAEP_SHA256).toString('utf8')).toBe('5555555555554444');
    const file = writeTemp(fx.dir, 'oaep.bin', Buffer.from(b64, 'base64'));
    const sha1 = [
      'pkeyutl',
      '-decrypt',
      '-inkey',
      fx.privatePemPath,
      '-in',
      file,
      '-pkeyopt',
      'rsa_padding_mode:oaep',
    ];
    expect(opensslAccepts(sha1)).toBe(false);
    const mgf1Sha1 = [...sha1, '-pkeyopt', 'rsa_oaep_md:sha256', '-pkeyopt', 'rsa_mgf1_md:sha1'];
    expect(opensslAccepts(mgf1Sha1)).toBe(false);
  });

  it('is randomised: the same value never encrypts the same way twice', () => {
    const a = encryptField(gatewayKey, '4111111111111111', PKCS1);
    const b = encryptField(gatewayKey, '4111111111111111', PKCS1);
    expect(a).not.toBe(b);
  });

  it('carries UTF-8, and accepts a KeyObject, a PEM or DER', () => {
    for (const key of [fx.publicKey, fx.publicPem, gatewayKey.spkiDer]) {
      expect(forgeDecrypt(encryptField(key, 'Zoë Ünal', PKCS1))).toBe(
        Buffer.from('Zoë Ünal').toString('binary'),
      );
    }
  });

  it('stops at one RSA block: k-11 bytes for v1.5, k-66 for OAEP-SHA256', () => {
    expect(maxFieldBytes(256, PKCS1)).toBe(245);
    expect(maxFieldBytes(256, OAEP)).toBe(190);
    expect(forgeDecrypt(encryptField(gatewayKey, 'a'.repeat(245), PKCS1))).toBe('a'.repeat(245));
    expect(opensslDecrypt(encryptField(gatewayKey, 'a'.repeat(190), OAEP), OAEP_SHA256).toString()).toBe(
      'a'.repeat(190),
    );
    const e = typedError(() => encryptField(gatewayKey, 'a'.repeat(246), PKCS1));
    expect(e.code).toBe('DATA_LEN_RANGE');
    expect(e.details).toEqual({ bytes: 246, max: 245 });
    expect(typedError(() => encryptField(gatewayKey, 'a'.repeat(191), OAEP)).code).toBe('DATA_LEN_RANGE');
    expect(typedError(() => encryptField(gatewayKey, '', PKCS1)).code).toBe('VALIDATION');
  });
});

describe('decryptField (the gateway side, for the sandbox and tests)', () => {
  it('decrypts node-forge PKCS#1 v1.5 fields through the explicit padding check', () => {
    const b64 = forge.util.encode64(forgePublic.encrypt('6011111111111117', 'RSAES-PKCS1-V1_5'));
    expect(decryptField(fx.privateKey, b64, PKCS1)).toBe('6011111111111117');
  });

  it('round-trips both paddings', () => {
    for (const padding of [PKCS1, OAEP]) {
      expect(decryptField(fx.privateKey, encryptField(gatewayKey, '021000021', padding), padding)).toBe(
        '021000021',
      );
    }
  });

  it('answers every failure with the same generic error', () => {
    const pkcs1 = encryptField(gatewayKey, '123', PKCS1);
    const cases: [string, CsePadding][] = [
      [pkcs1, OAEP],
      [encryptField(gatewayKey, '123', OAEP), PKCS1],
      [pkcs1.slice(0, -4), PKCS1],
      [randomBytes(256).toString('base64url'), PKCS1],
      [Buffer.alloc(256, 0xff).toString('base64'), PKCS1],
      ['', OAEP],
    ];
    for (const [b64, padding] of cases) {
      expect(typedError(() => decryptField(fx.privateKey, b64, padding)).toShape()).toEqual({
        code: 'ENCRYPTED_DATA_INVALID',
        message: 'The encrypted data could not be decrypted.',
      });
    }
  });
});

describe('PayTrace JSON API body', () => {
  it('puts the encrypted number in credit_card, the CSC at the top, the expiration in clear', () => {
    const body = buildPaytraceBody(gatewayKey, {
      number: '4111 1111 1111 1111',
      csc: '999',
      expiration: '12/29',
      extra: {
        amount: 19.99,
        billing_address: { name: 'Steve Smith', zip: '99201' },
        integrator_id: 'abc123',
      },
    });
    expect(Object.keys(body).sort()).toEqual([
      'amount',
      'billing_address',
      'credit_card',
      'encrypted_csc',
      'integrator_id',
    ]);
    expect(Object.keys(body.credit_card).sort()).toEqual([
      'encrypted_number',
      'expiration_month',
      'expiration_year',
    ]);
    expect(body.credit_card.expiration_month).toBe('12');
    expect(body.credit_card.expiration_year).toBe('2029');
    expect(forgeDecrypt(body.credit_card.encrypted_number!)).toBe('4111111111111111');
    expect(forgeDecrypt(body.encrypted_csc!)).toBe('999');
    expect(JSON.stringify(body)).not.toContain('4111');
  });

  it('encrypts a swipe inside credit_card and takes an Expiration object', () => {
    const swipe = '%B4111111111111111^SMITH/STEVE^2912101000000000000?';
    const body = buildPaytraceBody(gatewayKey, { swipe });
    expect(Object.keys(body.credit_card)).toEqual(['encrypted_swipe']);
    expect(forgeDecrypt(body.credit_card.encrypted_swipe!)).toBe(swipe);
    const keyed = buildPaytraceBody(
      gatewayKey,
      { number: '378282246310005', expiration: { month: 3, year: 2031 } },
      OAEP,
    );
    expect(keyed.credit_card).toMatchObject({ expiration_month: '03', expiration_year: '2031' });
    expect(decryptField(fx.privateKey, keyed.credit_card.encrypted_number!, OAEP)).toBe('378282246310005');
  });

  it.each([
    [{}, 'Give a card number or a swipe.'],
    [{ number: '4111111111111111', swipe: 'x', expiration: '12/29' }, 'not both'],
    [{ number: '4111111111111111' }, 'needs its expiration'],
    [{ number: '4111111111111111', expiration: '13/29' }, 'month must be 01 to 12'],
    [{ number: '4111-1111-1111-111x', expiration: '12/29' }, 'must be digits'],
    [{ number: '4111111111111111', expiration: '12/29', csc: '12' }, '3 or 4 digits'],
    [{ number: '4111111111111111', expiration: '12/29', extra: { csc: '999' } }, 'own fields'],
  ])('refuses %j without echoing it', (input, message) => {
    const e = typedError(() => buildPaytraceBody(gatewayKey, input));
    expect(e.code).toBe('VALIDATION');
    expect(e.message).toContain(message);
    expect(JSON.stringify(e.toShape())).not.toMatch(/4111|999/);
  });
});

describe('/v1/encryption/verify request', () => {
  it('names the six fields as the contract does and every one decrypts to its value', () => {
    const salt = randomBytes(16);
    const request = buildVerifyRequest(
      gatewayKey,
      {
        number: '4111111111111111',
        csc: '123',
        swipe: ';4111111111111111=29121010000000000000?',
        expiration: { month: 9, year: 2030 },
        accountNumber: '000123456789',
        routingNumber: '021000021',
      },
      { padding: PKCS1, keyId: 'gw-2026-11', salt },
    );
    expect(request.padding).toBe(PKCS1);
    expect(request.key_id).toBe('gw-2026-11');
    expect(request.salt).toBe(salt.toString('base64'));
    expect(Object.keys(request.fields).sort()).toEqual([
      'encrypted_account_number',
      'encrypted_csc',
      'encrypted_expiration',
      'encrypted_number',
      'encrypted_routing_number',
      'encrypted_swipe',
    ]);
    const clear = Object.fromEntries(
      Object.entries(request.fields).map(([k, v]) => [k, decryptField(fx.privateKey, v, PKCS1)]),
    );
    expect(clear).toEqual({
      encrypted_number: '4111111111111111',
      encrypted_csc: '123',
      encrypted_swipe: ';4111111111111111=29121010000000000000?',
      encrypted_expiration: '09/30',
      encrypted_account_number: '000123456789',
      encrypted_routing_number: '021000021',
    });
    const parsed = verifyRequestSchema.parse(request);
    expect(parsed.salt).toHaveLength(16);
  });

  it('makes a fresh 16-byte salt, encrypts bad values as typed, and the schema checks the shape', () => {
    const a = buildVerifyRequest(gatewayKey, { number: '4111111111111112' }, { padding: OAEP });
    const b = buildVerifyRequest(gatewayKey, { number: '4111111111111112' }, { padding: OAEP });
    expect(Buffer.from(a.salt, 'base64')).toHaveLength(16);
    expect(a.salt).not.toBe(b.salt);
    expect(a).not.toHaveProperty('key_id');
    expect(decryptField(fx.privateKey, a.fields.encrypted_number!, OAEP)).toBe('4111111111111112');
    expect(verifyRequestSchema.safeParse({ ...a, fields: {} }).success).toBe(false);
    expect(verifyRequestSchema.safeParse({ ...a, fields: { encrypted_pin: 'x' } }).success).toBe(false);
    expect(verifyRequestSchema.safeParse({ ...a, salt: randomBytes(8).toString('base64') }).success).toBe(
      false,
    );
    expect(verifyRequestSchema.safeParse({ ...a, padding: 'RSAES-OAEP-SHA1' }).success).toBe(false);
    expect(typedError(() => buildVerifyRequest(gatewayKey, {}, { padding: OAEP })).code).toBe('VALIDATION');
  });
});
