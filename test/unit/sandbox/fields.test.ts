import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  abaOk,
  decodeBase64Strict,
  describeField,
  luhnOk,
} from '../../../electron/gateway/sandbox/fields.nodejs';

describe('luhnOk', () => {
  it.each(['4111111111111111', '5555555555554444', '378282246310005', '6011111111111117'])(
    'accepts %s',
    (pan) => {
      expect(luhnOk(pan)).toBe(true);
    },
  );
  it.each(['4111111111111112', '4111 1111 1111 1111', '41111111111', '00000000000000000000', ''])(
    'refuses %j',
    (v) => {
      expect(luhnOk(v)).toBe(false);
    },
  );
});

describe('abaOk', () => {
  it('accepts valid routing numbers and refuses a changed digit or wrong length', () => {
    expect(abaOk('021000021')).toBe(true);
    expect(abaOk('011000015')).toBe(true);
    expect(abaOk('021000022')).toBe(false);
    expect(abaOk('02100002')).toBe(false);
  });
});

describe('describeField', () => {
  const salt = Buffer.alloc(16, 7);
  const tag = (v: string) => createHmac('sha256', salt).update(v).digest('hex');

  it('gives last4 and tag for card and account numbers of 8 or more characters', () => {
    expect(describeField('card', '4111111111111111', salt)).toEqual({
      length: 16,
      last4: '1111',
      tag: tag('4111111111111111'),
      luhn_ok: true,
    });
    expect(describeField('account', '12345678', salt)).toEqual({
      length: 8,
      last4: '5678',
      tag: tag('12345678'),
    });
    expect(describeField('account', '1234567', salt)).toEqual({ length: 7, tag: tag('1234567') });
  });

  it('gives CVV, expiration and swipe data only a length', () => {
    expect(describeField('cvv', '123', salt)).toEqual({ length: 3 });
    expect(describeField('expiration', '12/29', salt)).toEqual({ length: 5 });
    expect(describeField('swipe', '%B4111111111111111^X?', salt)).toEqual({ length: 21 });
  });

  it('counts characters, not UTF-16 units', () => {
    expect(describeField('cvv', '1😀3', salt).length).toBe(3);
  });
});

describe('decodeBase64Strict', () => {
  it('takes standard padded base64 only', () => {
    expect(decodeBase64Strict('aGVsbG8=')?.toString()).toBe('hello');
    expect(decodeBase64Strict('aGVsbG8')).toBeNull();
    expect(decodeBase64Strict('aGV-bG8=')).toBeNull();
    expect(decodeBase64Strict('aGVsbG9=')).toBeNull(); // non-canonical trailing bits
    expect(decodeBase64Strict('')).toBeNull();
  });
});
