import { describe, expect, it } from 'vitest';
import { tokenUsages } from '../../../electron/hsm/pkcs11/tr31-ops.host';
import { attributesForHeader } from '../../../shared/formats/tr31/policy.std';
import type { KeyBlockHeader } from '../../../shared/formats/tr31/header.std';

const header = (usage: string, algorithm: string, modeOfUse: string, exportability: string) =>
  ({
    version: 'D',
    length: 0,
    usage,
    algorithm,
    modeOfUse,
    keyVersion: '00',
    exportability,
    optionalBlocks: [],
    text: '',
  }) as KeyBlockHeader;

/**
 * What a key read from a block becomes on the token: the policy's grant, with a KBPK's
 * directions as CKA_WRAP (makes blocks) and CKA_UNWRAP (reads them) and CKA_SIGN for the PRF.
 */
describe('tokenUsages', () => {
  it('a data key keeps exactly the policy grant', () => {
    expect(tokenUsages(attributesForHeader(header('D0', 'A', 'E', 'N')))).toEqual({
      extractable: false,
      wrapWithTrusted: false,
      encrypt: true,
      decrypt: false,
      wrap: false,
      unwrap: false,
      sign: false,
      verify: false,
      derive: false,
    });
  });

  it.each([
    ['B', true, true],
    ['E', true, false],
    ['D', false, true],
  ])('a K1 key of mode %s: wrap %s, unwrap %s, sign, no derive', (mode, wrap, unwrap) => {
    expect(tokenUsages(attributesForHeader(header('K1', 'A', mode, 'E')))).toMatchObject({
      wrap,
      unwrap,
      sign: true,
      derive: false,
      encrypt: false,
      extractable: true,
      wrapWithTrusted: true,
    });
  });

  it('a K0 key wraps and unwraps as its mode says, and signs nothing', () => {
    expect(tokenUsages(attributesForHeader(header('K0', 'T', 'D', 'S')))).toMatchObject({
      wrap: false,
      unwrap: true,
      sign: false,
    });
  });
});
