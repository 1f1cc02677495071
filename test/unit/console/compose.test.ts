import { describe, expect, it } from 'vitest';
import { checkCompose, cscLength, maskField, swipePan } from '../../../shared/console/compose.std';

const NOW = new Date('2026-06-15T12:00:00Z');
const codes = (fields: Parameters<typeof checkCompose>[0]) =>
  checkCompose(fields, NOW).findings.map((f) => `${f.field}:${f.level}:${f.code}`);

describe('compose checks', () => {
  it('a published test card with its expiration and CVV is ok, and recognised as a test card', () => {
    const r = checkCompose({ number: '4111 1111 1111 1111', expiration: '12/28', csc: '123' }, NOW);
    expect(r.ok).toBe(true);
    expect(r).toMatchObject({ network: 'visa', networkName: 'Visa', testCard: true });
    expect(codes({ number: '4111111111111111', expiration: '12/28', csc: '123' })).toEqual([
      'number:ok:luhn',
      'csc:ok:length',
      'expiration:ok:valid',
    ]);
  });

  it('Luhn, length, non-digits and unknown networks are told apart', () => {
    expect(codes({ number: '4111111111111112' })).toContain('number:error:luhn');
    expect(codes({ number: '41111111111' })).toContain('number:error:length');
    expect(codes({ number: '4111-1111-1111-111x' })).toContain('number:error:non_digit');
    // 9999 99.. with a valid check digit: no network issues it.
    expect(codes({ number: '9999999999999995' })).toContain('number:warning:network');
  });

  it('the CVV length follows the network: 4 digits for American Express, 3 for the others', () => {
    expect(cscLength('amex')).toBe(4);
    expect(cscLength('visa')).toBe(3);
    expect(codes({ number: '378282246310005', csc: '123' })).toContain('csc:error:length');
    expect(codes({ number: '378282246310005', csc: '1234' })).toContain('csc:ok:length');
    expect(codes({ number: '5555555555554444', csc: '1234' })).toContain('csc:error:length');
    expect(codes({ csc: '12' })).toContain('csc:error:length');
  });

  it('expired and malformed expirations; a keyed number without one is warned', () => {
    expect(codes({ expiration: '01/26' })).toContain('expiration:warning:expired');
    expect(codes({ expiration: '13/28' })).toContain('expiration:error:month');
    expect(codes({ expiration: '1228' })).toContain('expiration:error:ambiguous');
    expect(codes({ number: '4111111111111111' })).toContain('expiration:warning:missing');
  });

  it('ABA routing numbers: checksum, length, unassigned prefix; an account needs its routing number', () => {
    expect(codes({ routingNumber: '011000015', accountNumber: '000123456789' })).toEqual([
      'accountNumber:ok:length',
      'routingNumber:ok:aba',
    ]);
    expect(codes({ routingNumber: '011000016' })).toContain('routingNumber:error:aba_checksum');
    expect(codes({ routingNumber: '01100001' })).toContain('routingNumber:error:aba_length');
    expect(codes({ routingNumber: '990000000' })).toContain('routingNumber:warning:aba_prefix');
    expect(codes({ accountNumber: '000123456789' })).toContain('routingNumber:warning:missing');
  });

  it('swipe data: track 1 and track 2 yield their PAN; anything else is a format error', () => {
    expect(swipePan('%B4111111111111111^DOE/JANE^2812101000000?')).toBe('4111111111111111');
    expect(swipePan(';4111111111111111=28121010000000000?')).toBe('4111111111111111');
    expect(swipePan('hello')).toBeNull();
    expect(codes({ swipe: 'hello' })).toContain('swipe:error:format');
    expect(codes({ swipe: ';4111111111111112=2812101?' })).toContain('swipe:warning:luhn');
  });

  it('masks show at most the first six and last four of a card, the last four of an account, nothing of a CVV', () => {
    expect(maskField('number', '4111111111111111')).toBe('411111••••••1111');
    expect(maskField('accountNumber', '000123456789')).toBe('••••••••6789');
    expect(maskField('csc', '1234')).toBe('••••');
    expect(maskField('expiration', '12/28')).toBe('••/••');
    expect(maskField('swipe', ';4111111111111111=2812?')).toBe('••• 23 characters');
    const report = checkCompose(
      { number: '4111111111111111', csc: '123', accountNumber: '000123456789' },
      NOW,
    );
    expect(JSON.stringify(report)).not.toMatch(/4111111111111111|000123456789|"123"/);
  });
});
