import { describe, expect, it } from 'vitest';
import { checkPan, detectNetwork, last4, maskPan, panDigits } from '../../../shared/formats/card.std';
import { luhnValid } from '../../../shared/formats/luhn.std';
import { isTestCard, TEST_CARDS, testCardsFor } from '../../../shared/formats/test-cards.std';

describe('card network detection', () => {
  it.each([
    ['4', 'visa'],
    ['5100', 'mastercard'],
    ['5599', 'mastercard'],
    ['2221', 'mastercard'],
    ['2720', 'mastercard'],
    ['34', 'amex'],
    ['37', 'amex'],
    ['6011', 'discover'],
    ['644', 'discover'],
    ['649', 'discover'],
    ['65', 'discover'],
    ['3528', 'jcb'],
    ['3589', 'jcb'],
    ['300', 'diners'],
    ['305', 'diners'],
    ['3095', 'diners'],
    ['36', 'diners'],
    ['38', 'diners'],
    ['39', 'diners'],
    ['62', 'unionpay'],
    ['622126', 'unionpay'],
  ] as const)('%s… is %s', (prefix, network) => {
    expect(detectNetwork(prefix.padEnd(16, '0'))).toBe(network);
  });

  it.each(['2220', '2721', '50', '56', '3527', '3590', '306', '3096', '6010', '643', '1', '7', '9'])(
    '%s… belongs to none of the seven networks',
    (prefix) => expect(detectNetwork(prefix.padEnd(16, '0'))).toBeNull(),
  );

  it('ignores spaces and dashes and refuses other characters', () => {
    expect(detectNetwork('4111 1111-1111 1111')).toBe('visa');
    expect(detectNetwork('4111x')).toBeNull();
    expect(panDigits('4111 1111')).toBe('41111111');
    expect(panDigits('4111.1111')).toBeNull();
  });

  it('checks length and Luhn per network', () => {
    expect(checkPan('378282246310005')).toEqual({
      network: 'amex',
      length: 15,
      lengthOk: true,
      luhnOk: true,
    });
    expect(checkPan('3782822463100050')).toMatchObject({ network: 'amex', lengthOk: false });
    expect(checkPan('4111111111111112')).toMatchObject({ network: 'visa', lengthOk: true, luhnOk: false });
    expect(checkPan('5555555555554444')).toMatchObject({
      network: 'mastercard',
      lengthOk: true,
      luhnOk: true,
    });
    expect(checkPan('')).toEqual({ network: null, length: 0, lengthOk: false, luhnOk: false });
  });
});

describe('published test cards', () => {
  it.each(TEST_CARDS.map((c) => [c.pan, c.network] as const))('%s is a valid %s PAN', (pan, network) => {
    expect(luhnValid(pan)).toBe(true);
    expect(detectNetwork(pan)).toBe(network);
    expect(checkPan(pan).lengthOk).toBe(true);
  });

  it('has presets for all seven networks, including Mastercard 2-series', () => {
    for (const n of ['visa', 'mastercard', 'amex', 'discover', 'jcb', 'diners', 'unionpay'] as const) {
      expect(testCardsFor(n).length).toBeGreaterThan(0);
    }
    expect(testCardsFor('mastercard').some((c) => c.pan.startsWith('2'))).toBe(true);
    expect(isTestCard('4111111111111111')).toBe(true);
    expect(isTestCard('4111111111111129')).toBe(false);
  });
});

describe('masking', () => {
  it('shows at most the first six and last four', () => {
    expect(maskPan('4111111111111111')).toBe('411111******1111');
    expect(maskPan('4111 1111 1111 1111')).toBe('411111******1111');
    expect(maskPan('378282246310005')).toBe('378282*****0005');
    expect(maskPan('6205500000000000004')).toBe('620550*********0004');
    expect(maskPan('4222222222222')).toBe('422222***2222');
  });

  it('can hide the BIN and use another mask character', () => {
    expect(maskPan('4111111111111111', { showBin: false, maskChar: '•' })).toBe('••••••••••••1111');
  });

  it('shows less of short values and nothing of non-digits', () => {
    expect(maskPan('123456789012')).toBe('********9012');
    expect(maskPan('1234567')).toBe('*******');
    expect(maskPan('hunter2-secret')).toBe('*************');
  });

  it('never shows more than ten digits of any PAN length', () => {
    for (let n = 1; n <= 19; n++) {
      const shown = maskPan('4'.repeat(n)).replace(/\*/g, '').length;
      expect(shown).toBeLessThanOrEqual(10);
      expect(n - shown).toBeGreaterThanOrEqual(n >= 8 ? 3 : n);
    }
  });

  it('gives last4 only for values of 8 characters or more', () => {
    expect(last4('4111111111111111')).toBe('1111');
    expect(last4('12345678')).toBe('5678');
    expect(last4('1234567')).toBeNull();
    expect(last4('1234 567')).toBeNull();
  });
});
