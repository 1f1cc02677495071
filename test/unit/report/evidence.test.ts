import { describe, expect, it } from 'vitest';
import type { ObjectInfo, SlotSummary } from '../../../shared/tokens.std';
import { MkmError } from '../../../shared/errors.std';
import { policyFor, type InventoryData } from '../../../electron/lifecycle/model.std';
import {
  collectEvidence,
  isSoftwareToken,
  type EvidenceSources,
} from '../../../electron/report/evidence.nodejs';
import { oneKey } from '../lifecycle/fixtures';

/**
 * collectEvidence with its boundaries faked: each source that fails is said in the evidence
 * (the report still comes out), and token facts are attributes only.
 */
const NOW = new Date('2026-06-01T00:00:00.000Z');

function slot(loggedIn: boolean, model = 'H1'): SlotSummary {
  return {
    slotId: 7,
    description: 'slot',
    manufacturer: 'Acme',
    firmware: '1.0',
    hardware: '1.0',
    flags: {} as SlotSummary['flags'],
    removable: false,
    token: {
      label: 'payments        ',
      manufacturer: 'Acme HSM',
      model,
      serial: 'serial-1        ',
    } as NonNullable<SlotSummary['token']>,
    session: { open: true, loggedIn, userType: loggedIn ? 'user' : null },
  };
}

function object(id: string, overrides: Partial<ObjectInfo> = {}): ObjectInfo {
  return {
    id,
    class: 'secret',
    label: `key-${id}`,
    keyType: 'aes',
    bits: 256,
    token: true,
    private: true,
    local: true,
    sensitive: true,
    extractable: false,
    alwaysSensitive: true,
    neverExtractable: true,
    usages: ['encrypt', 'decrypt'],
    ...overrides,
  };
}

function sources(data: InventoryData, overrides: Partial<EvidenceSources> = {}): EvidenceSources {
  return {
    now: () => NOW,
    lifecycle: () => ({
      list: () => structuredClone(data),
      due: () => ({ due: [], graceExpired: [] }),
      policy: (id: string) => policyFor(data.logicalKeys.find((k) => k.id === id)!),
      flushUsage: () => {},
      usesOf: (v) => v.useCount,
    }),
    tokens: {
      slots: async () => [slot(true)],
      call: (async () => []) as NonNullable<EvidenceSources['tokens']>['call'],
    },
    audit: {
      query: async () => ({ entries: [] }),
      verify: async () => ({
        ok: true,
        entries: 3,
        lines: 3,
        seals: 1,
        sealsVerified: true,
        sealedThrough: 3,
        unsealed: 0,
        unconfirmed: 0,
      }),
    },
    gateway: { listProfiles: () => [], status: async () => Promise.reject(new Error('unused')) },
    custodians: { list: () => [] },
    ceremonyFolder: '/nonexistent/mkm-ceremonies',
    ...overrides,
  };
}

describe('collecting the evidence', () => {
  it('reads the token attributes of every secret and private key, and matches managed versions by CKA_ID', async () => {
    const { data, v1 } = oneKey();
    const listed = [
      object(v1.ckaId!),
      object('aa01', { extractable: true, sensitive: false, neverExtractable: false, label: 'legacy' }),
      object('aa02', { class: 'public', sensitive: null, extractable: true }),
      object('aa03', { class: 'private', local: false, neverExtractable: false }),
    ];
    const e = await collectEvidence(
      sources(data, {
        tokens: {
          slots: async () => [slot(true)],
          call: (async (method: string, params: { slotId: number }) => {
            expect(method).toBe('listObjects');
            expect(params.slotId).toBe(7);
            return listed;
          }) as NonNullable<EvidenceSources['tokens']>['call'],
        },
      }),
    );
    expect(e.token).toEqual({
      checked: true,
      tokens: [
        { serial: 'serial-1', label: 'payments', manufacturer: 'Acme HSM', model: 'H1', software: false },
      ],
      keys: 3,
      sensitive: 2,
      nonExtractable: 2,
      neverExtractable: 1,
      generatedOnToken: 2,
      exposed: [{ label: 'legacy', class: 'secret', serial: 'serial-1' }],
      managedFound: 1,
      managedMissing: 0,
    });
  });

  it('says the token was not checked when nobody is logged in, or when no token can be reached', async () => {
    const { data } = oneKey();
    const out = await collectEvidence(
      sources(data, {
        tokens: {
          slots: async () => [slot(false)],
          call: (async () => []) as NonNullable<EvidenceSources['tokens']>['call'],
        },
      }),
    );
    expect(out.token).toEqual({ checked: false, reason: 'token not logged in' });
    // A caller that knows nothing is logged in (a CLI run without a PIN) does not ask at all.
    const skipped = await collectEvidence(sources(data, { tokens: null }));
    expect(skipped.token).toEqual({ checked: false, reason: 'token not logged in' });
    const none = await collectEvidence(
      sources(data, {
        tokens: {
          slots: async () => Promise.reject(new MkmError('NO_MODULE')),
          call: (async () => []) as NonNullable<EvidenceSources['tokens']>['call'],
        },
      }),
    );
    expect(none.token).toEqual({
      checked: false,
      reason: 'no token reachable: No PKCS#11 library is configured. [NO_MODULE]',
    });
  });

  it('a source that fails is named in the evidence; the rest is still collected', async () => {
    const { data } = oneKey();
    const e = await collectEvidence(
      sources(data, {
        lifecycle: () => {
          throw new MkmError('CONFLICT', 'Another mkm process holds the key inventory.');
        },
        audit: {
          verify: async () => Promise.reject(new MkmError('AUDIT_TAMPERED')),
          query: async () => Promise.reject(new MkmError('AUDIT_TAMPERED')),
        },
        custodians: {
          list: () => {
            throw new MkmError('STORE_CORRUPT', 'The key custodian file is damaged.');
          },
        },
      }),
    );
    expect(e.inventory).toEqual({
      ok: false,
      reason: 'Another mkm process holds the key inventory. [CONFLICT]',
    });
    expect(e.audit).toMatchObject({ ok: false, error: expect.stringContaining('[AUDIT_TAMPERED]') });
    expect(e.custodians).toMatchObject({
      current: 0,
      error: 'The key custodian file is damaged. [STORE_CORRUPT]',
    });
    expect(e.token.checked).toBe(true);
  });

  it('recognises SoftHSM2 as a software token', () => {
    expect(isSoftwareToken({ manufacturer: 'SoftHSM project', model: 'SoftHSM v2' })).toBe(true);
    expect(isSoftwareToken({ manufacturer: 'Acme HSM', model: 'H1' })).toBe(false);
  });
});
