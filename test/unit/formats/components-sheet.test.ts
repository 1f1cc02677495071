import { describe, expect, it } from 'vitest';
import { kcv } from '../../../electron/crypto/kcv.nodejs';
import {
  componentSheet,
  formKeySummary,
  type ComponentSheetInput,
  type FormKeySummaryInput,
} from '../../../shared/formats/component-sheet.std';
import { componentChecksum } from '../../../shared/formats/component-entry.std';
import { formKey } from '../../../shared/formats/components.std';
import { bytesOf, expectNoSecretIn, hexOf, oddParity, thrown } from './components-fixtures';

const KEY = '0123456789ABCDEFFEDCBA9876543210';
// Two odd-parity components of the TDES key above: the second completes the first.
const C1 = bytesOf('F7F7 F7F7 F7F7 F7F7 0101 0101 0101 0101');
const C2 = oddParity(bytesOf(KEY).map((b, i) => b ^ C1[i]!));
const date = new Date('2026-12-07T14:30:00Z');

function sheetInput(overrides: Partial<ComponentSheetInput> = {}): ComponentSheetInput {
  return {
    ceremonyId: 'cer-2026-12-07-01',
    keyLabel: 'Gateway BDK',
    keyType: 'tdes-2key',
    component: C1,
    index: 1,
    count: 2,
    componentKcvs: [kcv('tdes-2key', C1, 'legacy')],
    keyKcvs: [kcv('tdes-2key', bytesOf(KEY), 'legacy'), kcv('tdes-2key', bytesOf(KEY), 'cmac', 5)],
    custodian: { name: 'Ana Ruiz', role: 'Key custodian A' },
    witness: { name: 'Sam Lee', role: 'Witness' },
    date,
    ...overrides,
  };
}

describe('the component sheet', () => {
  it('the two components form the key of the known answer', () => {
    expect(hexOf(formKey('tdes-2key', [C1, C2])).toUpperCase()).toBe(KEY);
  });

  it('holds the ceremony, the key, the component grouped with its checksum and KCV, and signature lines', () => {
    const sheet = componentSheet(sheetInput());
    expect(sheet).toMatchObject({
      kind: 'component-sheet',
      secret: true,
      title: 'Key component 1 of 2',
      ceremonyId: 'cer-2026-12-07-01',
      date: '2026-12-07',
      key: {
        label: 'Gateway BDK',
        type: 'tdes-2key',
        typeText: 'TDES (2-key)',
        kcvs: [
          { value: '08D7B4', method: 'legacy', methodText: expect.stringContaining('X9.24-1') },
          { value: expect.stringMatching(/^[0-9A-F]{10}$/), method: 'cmac' },
        ],
      },
      component: {
        index: 1,
        count: 2,
        groups: ['F7F7', 'F7F7', 'F7F7', 'F7F7', '0101', '0101', '0101', '0101'],
        checksum: componentChecksum(C1),
        kcvs: [{ value: kcv('tdes-2key', C1, 'legacy').kcv.toUpperCase(), method: 'legacy' }],
      },
      custodian: { name: 'Ana Ruiz', role: 'Key custodian A' },
    });
    expect(sheet.signatures).toEqual([
      { role: 'custodian', caption: 'Custodian of component 1: received and sealed', name: 'Ana Ruiz' },
      { role: 'witness', caption: 'Witness', name: 'Sam Lee' },
      { role: 'administrator', caption: 'Ceremony administrator', name: null },
    ]);
  });

  it('takes the token’s own check value for the key, never for a component', () => {
    const sheet = componentSheet(sheetInput({ keyKcvs: [{ kcv: '08d7b4', method: 'token' }] }));
    expect(sheet.key.kcvs[0]).toMatchObject({ value: '08D7B4', method: 'token' });
    const error = thrown(() =>
      componentSheet(sheetInput({ componentKcvs: [{ kcv: 'abcdef', method: 'token' }] })),
    );
    expect(error.code).toBe('KCV_METHOD_NOT_APPLICABLE');
  });

  it.each([
    [{ componentKcvs: [{ kcv: 'abcdef', method: 'hmac' as const }] }, 'KCV_METHOD_NOT_APPLICABLE'],
    [{ componentKcvs: [{ kcv: 'abcd', method: 'legacy' as const }] }, 'KCV_LENGTH_INVALID'],
    [{ keyKcvs: [{ kcv: 'abcdef0123ab', method: 'cmac' as const }] }, 'KCV_LENGTH_INVALID'],
    [{ keyKcvs: [{ kcv: 'abcdex', method: 'legacy' as const }] }, 'KCV_LENGTH_INVALID'],
    [{ keyKcvs: [] }, 'VALIDATION'],
    [
      {
        keyKcvs: [
          { kcv: 'abcdef', method: 'legacy' as const },
          { kcv: '123456', method: 'legacy' as const },
        ],
      },
      'VALIDATION',
    ],
    [{ index: 3 }, 'VALIDATION'],
    [{ count: 10, index: 1 }, 'COMPONENT_COUNT_INVALID'],
    [{ component: 'first half' }, 'COMPONENT_LENGTH_INVALID'],
    [{ component: 'byte 5 of even parity' }, 'COMPONENT_PARITY_INVALID'],
    [{ ceremonyId: '  ' }, 'VALIDATION'],
    [{ custodian: { name: 'Ana\nRuiz', role: 'A' } }, 'VALIDATION'],
    [{ date: new Date('not a date') }, 'VALIDATION'],
  ])('refuses %j with %s', (overrides, code) => {
    // Named in the test's title, built here: a component's bytes stay out of the report.
    const component = {
      'first half': C1.subarray(0, 8),
      'byte 5 of even parity': C1.map((b, i) => (i === 4 ? b ^ 1 : b)),
    }[(overrides as { component?: string }).component ?? ''];
    const input = { ...overrides, ...(component ? { component } : {}) } as Partial<ComponentSheetInput>;
    const error = thrown(() => componentSheet(sheetInput(input)));
    expect(error.code).toBe(code);
    expectNoSecretIn(error, hexOf(C1));
  });
});

describe('the form-key summary', () => {
  const input: FormKeySummaryInput = {
    ceremonyId: 'cer-2026-12-07-01',
    keyLabel: 'Gateway BDK',
    keyType: 'tdes-2key',
    components: [
      { custodian: { name: 'Ana Ruiz', role: 'Custodian A' }, kcvs: [kcv('tdes-2key', C1, 'legacy')] },
      { custodian: { name: 'Bo Chen', role: 'Custodian B' }, kcvs: [kcv('tdes-2key', C2, 'legacy')] },
    ],
    keyKcvs: [kcv('tdes-2key', bytesOf(KEY), 'legacy')],
    date,
  };

  it('lists each component’s KCV and the formed key’s, by method, and notes the parity setting', () => {
    const summary = formKeySummary(input);
    expect(summary.key.kcvs).toEqual([{ value: '08D7B4', method: 'legacy', methodText: expect.any(String) }]);
    expect(summary.components.map((c) => [c.index, c.custodian?.name, c.kcvs[0]!.method])).toEqual([
      [1, 'Ana Ruiz', 'legacy'],
      [2, 'Bo Chen', 'legacy'],
    ]);
    expect(summary.notes).toEqual([
      'Formed from 2 components by XOR.',
      'The formed TDES key was set to odd parity.',
    ]);
    expect(
      formKeySummary({ ...input, keyType: 'aes-128', keyKcvs: [{ kcv: 'abcdef', method: 'cmac' }] }).notes,
    ).toEqual(['Formed from 2 components by XOR.']);
  });

  it('carries no component, even when a caller passes one along', () => {
    const leaky = input.components.map((c, i) => ({
      ...c,
      bytes: i === 0 ? C1 : C2,
      hex: hexOf(i === 0 ? C1 : C2),
    }));
    const text = JSON.stringify(formKeySummary({ ...input, components: leaky }));
    for (const c of [C1, C2]) {
      expect(text.toLowerCase()).not.toContain(hexOf(c).slice(0, 8));
      expect(text).not.toContain(hexOf(c).toUpperCase().slice(0, 4) + hexOf(c).toUpperCase().slice(4, 8));
    }
    expect(text).not.toContain('"bytes"');
  });

  it('refuses fewer than 2 or more than 9 components', () => {
    expect(thrown(() => formKeySummary({ ...input, components: input.components.slice(0, 1) })).code).toBe(
      'COMPONENT_COUNT_INVALID',
    );
  });
});
