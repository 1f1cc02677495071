import { describe, expect, it } from 'vitest';
import { buildScript } from '../../../shared/ceremony/script.std';
import type { CeremonyView } from '../../../shared/contract/ceremony.std';
import type { ObjectInfo } from '../../../shared/tokens.std';
import {
  actorsFor,
  confirmersFor,
  custodiansNeeded,
  detailRows,
  EMPTY_PARAMS,
  hashWords,
  hexGroups,
  missingRoles,
  paramRows,
  paramsFromForm,
  signingKeys,
} from '../../../renderer/src/ceremony/ceremonyModel.dom';
import { decryptReply, encryptTo, makeRevealKey } from '../../../renderer/src/ceremony/transport.dom';

function viewOf(participants: CeremonyView['participants']): CeremonyView {
  const script = buildScript({
    template: 'form-key',
    keyType: 'aes-128',
    components: 2,
    label: 'k',
    purpose: 'data',
  });
  return {
    id: '00000000-0000-4000-8000-000000000000',
    template: 'form-key',
    title: script.title,
    scriptHash: 'ab'.repeat(32),
    state: 'running',
    startedAt: '2026-12-07T00:00:00.000Z',
    closedAt: null,
    token: { serial: 's', model: 'm', manufacturer: 'x', label: 'l' },
    steps: script.steps.map((s) => ({
      id: s.id,
      kind: s.kind,
      title: s.title,
      roles: s.roles,
      dualControl: s.dualControl,
      done: false,
      by: [],
    })),
    current: 'preflight',
    participants,
    facts: {},
    transcriptEntries: 1,
    transcriptHead: null,
    params: script.params,
  };
}
const person = (
  id: string,
  role: 'administrator' | 'witness' | 'custodian',
  custodian: number | null = null,
) => ({
  id,
  name: id,
  role,
  custodian,
  signedOff: false,
});

describe('the Ceremony screen’s model', () => {
  it('reads a hash aloud as hex in groups of four and as PGP words', () => {
    expect(hexGroups('e58294f2e9a227486e8b061b31cc528fd7fa3f19')).toBe(
      'E582 94F2 E9A2 2748 6E8B 061B 31CC 528F D7FA 3F19',
    );
    // The PGP word list's own example fingerprint.
    expect(hashWords('E582')).toBe('topmost Istanbul');
  });

  it('makes a template’s params from the form through the contract’s schema, naming a bad field', () => {
    const ok = paramsFromForm({ ...EMPTY_PARAMS, label: 'zmk', components: '3' });
    expect(ok).toEqual({
      ok: true,
      params: { template: 'form-key', keyType: 'aes-256', components: 3, label: 'zmk', purpose: 'data' },
    });
    expect(paramsFromForm({ ...EMPTY_PARAMS, label: 'zmk', components: '10' })).toEqual({
      ok: false,
      message: 'A key is formed from 2 to 9 components.',
    });
    expect(paramsFromForm({ ...EMPTY_PARAMS, label: '' })).toMatchObject({ ok: false });
    expect(
      paramsFromForm({ ...EMPTY_PARAMS, template: 'kek-backup', keyId: 'AB01', shares: '2', threshold: '3' }),
    ).toEqual({ ok: false, message: 'The threshold cannot exceed the number of shares.' });
    expect(
      paramsFromForm({ ...EMPTY_PARAMS, template: 'kek-backup', keyId: 'AB01', shares: '3', threshold: '2' }),
    ).toEqual({ ok: true, params: { template: 'kek-backup', keyId: 'ab01', shares: 3, threshold: 2 } });
  });

  it('offers only RSA private keys that sign and do nothing else as transcript signers', () => {
    const key = (o: Partial<ObjectInfo>) =>
      ({ class: 'private', keyType: 'rsa', usages: ['sign'], ...o }) as ObjectInfo;
    const keys = [
      key({ id: '01' }),
      key({ id: '02', usages: ['sign', 'decrypt'] }),
      key({ id: '03', keyType: 'ec' }),
    ];
    expect(signingKeys(keys).map((k) => k.id)).toEqual(['01']);
  });

  it('names who may act and confirm: the step’s own custodian, and a confirmer other than the actor', () => {
    const view = viewOf([
      person('p-1', 'administrator'),
      person('p-2', 'witness'),
      person('p-3', 'custodian', 1),
      person('p-4', 'custodian', 2),
    ]);
    const second = view.steps.find((s) => s.id === 'enter-component-2')!;
    expect(actorsFor(view, second).map((p) => p.id)).toEqual(['p-4']);
    expect(actorsFor(view, view.steps[0]!).map((p) => p.id)).toEqual(['p-1', 'p-2']);
    expect(confirmersFor(view, 'p-1').map((p) => p.id)).toEqual(['p-2']);
    expect(custodiansNeeded(view)).toBe(2);
    expect(missingRoles(view, 2)).toEqual([]);
    expect(missingRoles(viewOf([person('p-1', 'witness')]), 2)).toEqual([
      { role: 'administrator', count: 1 },
      { role: 'custodian', count: 2 },
    ]);
  });

  it('shows the script’s parameters by name, whatever the template', () => {
    expect(
      paramRows({ template: 'form-key', keyType: 'tdes-2key', components: 3, label: 'zmk', purpose: 'kek' }),
    ).toEqual([
      ['Key type', 'TDES (2-key)'],
      ['Components', '3'],
      ['Label', 'zmk'],
      ['Purpose', 'Key encryption (KEK)'],
    ]);
    expect(paramRows({ template: 'kek-backup', keyId: 'ab01', shares: 5, threshold: 3 })).toEqual([
      ['Key', 'ab01'],
      ['Shares', 'any 3 of 5'],
    ]);
    expect(paramRows({ template: 'tr31-import', kbpkId: 'cd02', label: 'imported' })).toEqual([
      ['Key block protection key', 'cd02'],
      ['Label', 'imported'],
    ]);
  });
});

describe('components cross main only encrypted', () => {
  it('round-trips through a page-made reveal key whose private half cannot be exported', async () => {
    const { publicPem, privateKey } = await makeRevealKey();
    expect(publicPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(privateKey.extractable).toBe(false);
    const component = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
    const sealed = await encryptTo(publicPem, component);
    expect(Buffer.from(sealed, 'base64')).toHaveLength(384);
    expect(Buffer.from(sealed, 'base64').includes(Buffer.from(component))).toBe(false);
    expect([...(await decryptReply(privateKey, sealed))]).toEqual([...component]);
  });
});

describe('what a step recorded, as the screen lists it', () => {
  it('shows check values first and upper case, as every KCV in mkm, other facts as written', () => {
    const rows = detailRows({
      transportKey: 'a3415c3e',
      component1Kcv: '08d7b4',
      component1KcvCmac: '0a8245',
      tokenKcv: null,
    });
    expect(rows).toEqual([
      ['component1Kcv', '08D7B4'],
      ['component1KcvCmac', '0A8245'],
      ['transportKey', 'a3415c3e'],
    ]);
  });
});
