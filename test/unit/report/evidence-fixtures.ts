import type { PciEvidence } from '../../../shared/contract/report.std';
import { inventoryEvidence } from '../../../electron/report/inventory-evidence.std';
import { policyFor, type InventoryData } from '../../../electron/lifecycle/model.std';
import { buildPciReport } from '../../../electron/report/report.std';

/**
 * Evidence as collectEvidence would make it, from hand-made inventory data at an injected time:
 * a logged-in hardware token whose keys are all sensitive and non-extractable, an intact sealed
 * audit log, one pinned gateway, one custodian of the current text. Tests change one thing.
 */
export function evidenceFor(
  data: InventoryData,
  now: Date,
  overrides: Partial<PciEvidence> = {},
): PciEvidence {
  return {
    inventory: inventoryEvidence(data, now, { policyOf: (k) => policyFor(k) }),
    token: {
      checked: true,
      tokens: [
        { serial: 'serial-1', label: 'payments', manufacturer: 'Acme HSM', model: 'H1', software: false },
      ],
      keys: data.versions.length,
      sensitive: data.versions.length,
      nonExtractable: data.versions.length,
      neverExtractable: data.versions.length,
      generatedOnToken: data.versions.length,
      exposed: [],
      managedFound: data.versions.length,
      managedMissing: 0,
    },
    audit: {
      ok: true,
      entries: 40,
      seals: 3,
      sealsVerified: true,
      unsealed: 0,
      firstBad: null,
      error: null,
    },
    custodians: {
      textVersion: '1',
      current: 1,
      stale: 0,
      revoked: 0,
      error: null,
      list: [
        {
          id: '6f1c1a52-7d1e-4a52-9a55-0d4c5b0e8a11',
          name: 'Ann Lee',
          role: 'Key custodian',
          textVersion: '1',
          acknowledgedAt: '2026-01-02T09:00:00.000Z',
          recordedBy: 'ann',
          revokedAt: null,
          revokedReason: null,
          current: true,
        },
      ],
    },
    gateway: {
      profiles: [
        {
          id: 'sandbox',
          name: 'Sandbox',
          pinnedFingerprint: 'ab'.repeat(32),
          keyStatus: 'pinned',
          pins: [
            {
              key: 'encryption',
              fingerprint: 'ab'.repeat(32),
              confirmed: { by: 'Ann', role: 'key custodian', at: '2026-01-02T09:05:00.000Z' },
            },
          ],
          merchantKeysActive: 1,
          lastSync: { at: '2026-01-02T09:00:00.000Z', ok: true },
        },
      ],
      transport: { registered: 0, pending: 0, failed: 0, skipped: 0 },
      error: null,
    },
    ceremonies: { verified: [], refused: [], inProgress: [], error: null },
    ...overrides,
  };
}

export function reportFor(evidence: PciEvidence, generatedAt = '2026-06-01T00:00:00.000Z') {
  return buildPciReport(evidence, {
    generatedAt,
    installation: {
      id: '0b7e4a4c-1f7e-4d0e-9b1e-2f6c3f3a9d10',
      dataDir: '/home/ann/.config/Merchant Key Manager',
      appVersion: '0.1.0',
      mode: 'cli',
      osUser: 'ann',
    },
  });
}
