import { describe, expect, it } from 'vitest';
import {
  confirmationMismatch,
  formatKcv,
  keyTypeName,
  keyTypeText,
  managedTypeText,
  sealWords,
  usageNames,
  versionName,
} from '../../../shared/wording.std';

describe('the words every surface uses for keys and state', () => {
  it('prints a KCV in upper-case hex, as payment HSMs do', () => {
    expect(formatKcv('a1b2c3')).toBe('A1B2C3');
  });

  it('names HMAC keys HMAC, never generic-secret, with their size', () => {
    expect(keyTypeName('generic-secret')).toBe('HMAC');
    expect(keyTypeText('generic-secret', 256)).toBe('HMAC-256');
    expect(keyTypeText('aes', 256)).toBe('AES-256');
    expect(keyTypeText('rsa', null)).toBe('RSA');
    expect(keyTypeText(null, 256)).toBe('—');
    expect(managedTypeText('hmac-256')).toBe('HMAC-256');
    expect(managedTypeText('rsa-2048')).toBe('RSA-2048');
  });

  it('names a managed version NAME vN', () => {
    expect(versionName('card data', 2)).toBe('card data v2');
  });

  it('does not list an AES key’s KCV-only CKA_SIGN as sign', () => {
    expect(usageNames(['encrypt', 'decrypt', 'sign'], 'aes')).toEqual(['encrypt', 'decrypt', 'kcv']);
    expect(usageNames(['sign', 'verify'], 'generic-secret')).toEqual(['sign', 'verify']);
  });

  it('says what differs in a typed confirmation', () => {
    expect(confirmationMismatch('card data v2', 'card data v2')).toBeNull();
    expect(confirmationMismatch('card data v2', 'card data v3')).toBe(
      'The version differs: this is v2, you typed v3.',
    );
    expect(confirmationMismatch('card data v2', 'card data')).toBe('Add the version: “card data v2”.');
    expect(confirmationMismatch('card data v2', 'Card Data v2')).toBe(
      'Upper and lower case differ: type “card data v2” exactly.',
    );
    expect(confirmationMismatch('card data v2', ' card data v2 ')).toBe(
      'Remove the spaces before or after the name.',
    );
    expect(confirmationMismatch('card data v2', 'cards v2')).toBe('The key name differs: it is “card data”.');
    expect(confirmationMismatch('card data v2', 'mkm/c71fd653/v2/e6e58b4c')).toBe(
      'That is not “card data v2”.',
    );
  });

  it('never says sealed while not sealing or after a failed seal', () => {
    expect(sealWords({ sealing: true, sealError: null })).toMatchObject({
      tone: 'ok',
      label: 'Sealed on the token',
    });
    expect(sealWords({ sealing: false, sealError: null }).label).toBe('Not sealing');
    const failed = sealWords({ sealing: true, sealError: 'KEY_NOT_FOUND' });
    expect(failed).toMatchObject({ tone: 'danger', label: 'Seal failed' });
    expect(failed.note).toContain('KEY_NOT_FOUND');
  });
});
