import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, privateDecrypt, constants } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decryptField } from '../../../electron/crypto/cse.nodejs';
import { buildMerchantBody, curlCommand, shellQuote } from '../../../electron/console/merchant-body.nodejs';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

describe('merchant body', () => {
  it("PayTrace's layout: amount, credit_card.encrypted_number and expiration, encrypted_csc at the top", () => {
    const built = buildMerchantBody(
      publicKey,
      { number: '4111 1111 1111 1111', expiration: '03/29', csc: '123' },
      'RSAES-PKCS1-V1_5',
      '2.00',
    );
    expect(Object.keys(built.body)).toEqual(['amount', 'credit_card', 'encrypted_csc']);
    expect(built.path).toBe('/v1/transactions/sale/keyed');
    const card = built.body.credit_card as Record<string, string>;
    expect(card.expiration_month).toBe('03');
    expect(card.expiration_year).toBe('2029');
    expect(decryptField(privateKey, card.encrypted_number!, 'RSAES-PKCS1-V1_5')).toBe('4111111111111111');
    expect(decryptField(privateKey, built.body.encrypted_csc as string, 'RSAES-PKCS1-V1_5')).toBe('123');
  });

  it('bank fields go under check, encrypted; a half bank payload and card+bank are refused', () => {
    const built = buildMerchantBody(
      publicKey,
      { accountNumber: '000123456789', routingNumber: '011000015' },
      'RSAES-OAEP-SHA256',
      '1.00',
    );
    expect(built.path).toBe('/v1/checks/sale/by_account');
    const check = built.body.check as Record<string, string>;
    const open = (b64: string) =>
      privateDecrypt(
        { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        Buffer.from(b64, 'base64'),
      ).toString();
    expect(open(check.encrypted_account_number!)).toBe('000123456789');
    expect(open(check.encrypted_routing_number!)).toBe('011000015');
    expect(built.fields.map((f) => f.bytes)).toEqual([256, 256]);
    expect(() => buildMerchantBody(publicKey, { accountNumber: '1234' }, 'RSAES-OAEP-SHA256', '1')).toThrow(
      /both/,
    );
    expect(() =>
      buildMerchantBody(
        publicKey,
        { number: '4111111111111111', expiration: '1/29', accountNumber: '1' },
        'RSAES-OAEP-SHA256',
        '1',
      ),
    ).toThrow(/not both/);
  });

  it('the curl line survives a shell: quotes are escaped and the body comes back byte for byte', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    const body = JSON.stringify({ note: "o'clock", x: '$HOME `id`' });
    const line = curlCommand('https://gw.example/v1/x', body);
    expect(line).toContain('Authorization: Bearer <ACCESS_TOKEN>');
    // Ask a real shell what the --data-raw argument is.
    const arg = line.slice(line.indexOf('--data-raw ') + 11);
    expect(execFileSync('sh', ['-c', `printf %s ${arg}`]).toString()).toBe(body);
  });
});
