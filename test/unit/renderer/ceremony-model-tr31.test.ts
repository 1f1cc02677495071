import { describe, expect, it } from 'vitest';
import { EMPTY_PARAMS, paramsFromForm } from '../../../renderer/src/ceremony/ceremonyModel.dom';

/** The Ceremony screen's form for the TR-31 templates (issue 11 point 4). */
describe('TR-31 ceremony parameters from the form', () => {
  const base = { ...EMPTY_PARAMS, keyId: '7531AA01', kbpkId: '7531aa02' };

  it('an export takes the header fields, upper-cased, and no KBPK type when left empty', () => {
    const r = paramsFromForm({
      ...base,
      template: 'tr31-export',
      usage: 'k0',
      modeOfUse: 'e',
      exportability: 'n',
    });
    expect(r).toEqual({
      ok: true,
      params: {
        template: 'tr31-export',
        keyId: '7531aa01',
        kbpkId: '7531aa02',
        usage: 'K0',
        modeOfUse: 'E',
        exportability: 'N',
      },
    });
  });

  it('an unknown usage or exportability is named, not guessed', () => {
    expect(paramsFromForm({ ...base, template: 'tr31-export', usage: 'Z9' })).toEqual({
      ok: false,
      message: 'The key usage is a TR-31 code such as D0, K0, K1, P0, B0 or M3.',
    });
    expect(paramsFromForm({ ...base, template: 'tr31-export', exportability: 'X' })).toMatchObject({
      ok: false,
    });
  });

  it('an import takes the KBPK type when given', () => {
    const r = paramsFromForm({ ...base, template: 'tr31-import', label: 'zpk', kbpkType: 'aes-256' });
    expect(r).toEqual({
      ok: true,
      params: { template: 'tr31-import', kbpkId: '7531aa02', label: 'zpk', kbpkType: 'aes-256' },
    });
  });
});
