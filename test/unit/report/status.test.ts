import { describe, expect, it } from 'vitest';
import type { PciReport } from '../../../shared/contract/report.std';
import { logicalKey, oneKey, version } from '../lifecycle/fixtures';
import { evidenceFor, reportFor } from './evidence-fixtures';

const statusOf = (r: PciReport, id: string) => r.requirements.find((q) => q.id === id)!;

/** v1 of a data key activated 2026-01-01, crypto-period 365 days: it ends 2027-01-01. */
const BEFORE_END = new Date('2026-06-01T00:00:00.000Z');
const AFTER_END = new Date('2027-01-10T00:00:00.000Z');

describe('PCI statuses from the evidence, with an injected clock', () => {
  it('a key inside its crypto-period: 3.6.1 and 3.7.4 are met', () => {
    const { data } = oneKey();
    const r = reportFor(evidenceFor(data, BEFORE_END));
    expect(statusOf(r, '3.6.1').status).toBe('met');
    expect(statusOf(r, '3.7.4').status).toBe('met');
    expect(r.evidence.inventory).toMatchObject({ ok: true, pastCryptoPeriod: 0 });
  });

  it('the same key past its crypto-period: 3.6.1 and 3.7.4 need attention and say which key', () => {
    const { data } = oneKey();
    const r = reportFor(evidenceFor(data, AFTER_END));
    for (const id of ['3.6.1', '3.7.4']) {
      expect(statusOf(r, id).status, id).toBe('attention');
      expect(statusOf(r, id).why[0]).toMatch(/^1 key is past its crypto-period \(card data\)/);
    }
    expect(r.evidence.inventory).toMatchObject({ ok: true, pastCryptoPeriod: 1, overdue: 0 });
    expect(r.summary.attention).toBeGreaterThanOrEqual(2);
  });

  it('past the grace period as well, the key is counted overdue', () => {
    const { data } = oneKey();
    const r = reportFor(evidenceFor(data, new Date('2027-03-01T00:00:00.000Z')));
    expect(r.evidence.inventory).toMatchObject({ pastCryptoPeriod: 1, overdue: 1 });
    expect(statusOf(r, '3.7.4').why[0]).toMatch(/1 overdue beyond the grace period/);
  });

  it('within the warning window the key is due soon but 3.7.4 is still met', () => {
    const { data } = oneKey();
    const r = reportFor(evidenceFor(data, new Date('2026-12-15T00:00:00.000Z')));
    expect(statusOf(r, '3.7.4')).toMatchObject({ status: 'met' });
    expect(statusOf(r, '3.7.4').why[0]).toMatch(/1 key is due soon/);
  });

  it('last rotation per key comes from the rotation history', () => {
    const key = logicalKey({ name: 'rotated' });
    const v1 = version(key, { primary: false, graceUntil: '2026-04-01T00:00:00.000Z' });
    const v2 = version(key, { version: 2, activatedAt: '2026-03-01T00:00:00.000Z' });
    const data = {
      logicalKeys: [key],
      versions: [v1, v2],
      rotations: [],
      history: [
        {
          rotationId: crypto.randomUUID(),
          logicalKeyId: key.id,
          fromVersionId: v1.id,
          newVersionId: v2.id,
          reason: 'manual' as const,
          outcome: 'completed' as const,
          startedAt: '2026-03-01T00:00:00.000Z',
          finishedAt: '2026-03-01T00:00:01.000Z',
          resumed: false,
        },
      ],
    };
    const r = reportFor(evidenceFor(data, new Date('2026-03-15T00:00:00.000Z')));
    const inv = r.evidence.inventory;
    expect(inv.ok && inv.keys[0]).toMatchObject({
      lastRotation: '2026-03-01T00:00:01.000Z',
      primaryVersion: 2,
    });
    // After the grace period the replaced v1 is still active: 3.7.5 asks to deactivate it.
    const later = reportFor(evidenceFor(data, new Date('2026-04-02T00:00:00.000Z')));
    expect(statusOf(later, '3.7.5').status).toBe('attention');
    expect(statusOf(later, '3.7.5').why.join(' ')).toMatch(/1 replaced version is still active/);
    expect(statusOf(r, '3.7.5').status).toBe('met');
  });

  it('an extractable key on the token: 3.6.1, 3.6.1.2 and 3.7.3 need attention and name it', () => {
    const { data } = oneKey();
    const base = evidenceFor(data, BEFORE_END);
    const token = base.token.checked ? base.token : null;
    const r = reportFor({
      ...base,
      token: {
        ...token!,
        nonExtractable: 0,
        exposed: [{ label: 'old-des-key', class: 'secret', serial: 'serial-1' }],
      },
    });
    for (const id of ['3.6.1', '3.6.1.2', '3.7.3', '3.6.1.3']) {
      expect(statusOf(r, id).status, id).toBe('attention');
      expect(statusOf(r, id).why.join(' ')).toContain('old-des-key [secret]');
    }
  });

  it('a software token is not a secure cryptographic device: 3.6.1.2 says so', () => {
    const { data } = oneKey();
    const base = evidenceFor(data, BEFORE_END);
    const token = base.token.checked ? base.token : null;
    const r = reportFor({
      ...base,
      token: {
        ...token!,
        tokens: [
          {
            serial: 's',
            label: 'MKM Demo',
            manufacturer: 'SoftHSM project',
            model: 'SoftHSM v2',
            software: true,
          },
        ],
      },
    });
    expect(statusOf(r, '3.6.1.2').status).toBe('attention');
    expect(statusOf(r, '3.6.1.2').why[0]).toMatch(/software token .*not a secure cryptographic device/);
  });

  it('without a logged-in token the token-based requirements are manual, not met', () => {
    const { data } = oneKey();
    const r = reportFor(
      evidenceFor(data, BEFORE_END, { token: { checked: false, reason: 'token not logged in' } }),
    );
    expect(statusOf(r, '3.6.1.2')).toMatchObject({ status: 'manual' });
    expect(statusOf(r, '3.6.1.2').why[0]).toBe('Token attributes not checked: token not logged in.');
    expect(statusOf(r, '3.6.1.2').facts).toContainEqual({
      label: 'Token attributes',
      value: 'not checked: token not logged in',
    });
  });

  it('custodians: none, an older text only, or the current text', () => {
    const { data } = oneKey();
    const base = evidenceFor(data, BEFORE_END);
    const none = reportFor({ ...base, custodians: { ...base.custodians, current: 0, list: [] } });
    expect(statusOf(none, '3.7.8')).toMatchObject({
      status: 'attention',
      why: ['No key custodian has acknowledged their responsibilities yet.'],
    });
    const stale = reportFor({ ...base, custodians: { ...base.custodians, current: 0, stale: 2 } });
    expect(statusOf(stale, '3.7.8').why[0]).toMatch(/2 acknowledgements are for an older one/);
    expect(statusOf(reportFor(base), '3.7.8').status).toBe('met');
  });

  it('a tampered audit log makes 3.7.7 attention with the first bad entry', () => {
    const { data } = oneKey();
    const base = evidenceFor(data, BEFORE_END);
    const r = reportFor({
      ...base,
      audit: { ...base.audit, ok: false, firstBad: { seq: 17, line: 18, reason: 'hash chain broken' } },
    });
    expect(statusOf(r, '3.7.7').status).toBe('attention');
    expect(statusOf(r, '3.7.7').why[0]).toMatch(/entry 17 \(line 18\)/);
    expect(statusOf(reportFor(base), '3.7.7').status).toBe('met');
  });

  it('a compromised primary with no replacement: 3.7.5 needs attention', () => {
    const key = logicalKey();
    const v1 = version(key, {
      state: 'compromised',
      primary: false,
      compromisedAt: '2026-05-01T00:00:00.000Z',
    });
    const r = reportFor(
      evidenceFor({ logicalKeys: [key], versions: [v1], rotations: [], history: [] }, BEFORE_END),
    );
    expect(statusOf(r, '3.7.5').status).toBe('attention');
    expect(r.evidence.inventory).toMatchObject({ compromisedUnreplaced: 1 });
  });

  it('adopted keys leave generation, components and dual control to the organization’s records', () => {
    const key = logicalKey();
    const v1 = version(key, { origin: 'adopted' });
    const r = reportFor(
      evidenceFor({ logicalKeys: [key], versions: [v1], rotations: [], history: [] }, BEFORE_END),
    );
    for (const id of ['3.6.1.3', '3.7.1', '3.7.6']) expect(statusOf(r, id).status, id).toBe('manual');
    const generated = reportFor(evidenceFor(oneKey().data, BEFORE_END));
    expect(statusOf(generated, '3.7.6').status).toBe('n/a');
    expect(statusOf(generated, '3.7.1').status).toBe('met');
  });

  it('service-provider-only requirements are n/a whatever the evidence', () => {
    const r = reportFor(evidenceFor(oneKey().data, AFTER_END));
    expect(statusOf(r, '3.6.1.1').status).toBe('n/a');
    expect(statusOf(r, '3.7.9').status).toBe('n/a');
  });

  it('no keys yet: the key requirements ask for keys instead of claiming anything', () => {
    const r = reportFor(
      evidenceFor({ logicalKeys: [], versions: [], rotations: [], history: [] }, BEFORE_END),
    );
    for (const id of ['3.6.1', '3.7.1', '3.7.4', '3.7.5']) {
      expect(statusOf(r, id).status, id).toBe('manual');
      expect(statusOf(r, id).why[0]).toMatch(/No managed keys yet/);
    }
  });

  it('3.7.2 is met only when every pinned gateway key (encryption and signing) was confirmed by a named person', () => {
    const base = evidenceFor(oneKey().data, BEFORE_END);
    const profile = base.gateway.profiles[0]!;
    const confirmed = profile.pins[0]!;
    const withSigning = (signingConfirmed: boolean) =>
      reportFor({
        ...base,
        gateway: {
          ...base.gateway,
          profiles: [
            {
              ...profile,
              pins: [
                confirmed,
                {
                  key: 'signing',
                  fingerprint: 'cd'.repeat(32),
                  confirmed: signingConfirmed
                    ? { by: 'Bob', role: null, at: '2026-01-03T10:00:00.000Z' }
                    : null,
                },
              ],
            },
          ],
        },
      });
    expect(statusOf(withSigning(true), '3.7.2').status).toBe('met');
    const unconfirmed = statusOf(withSigning(false), '3.7.2');
    expect(unconfirmed.status).toBe('attention');
    expect(unconfirmed.why).toEqual([
      expect.stringMatching(
        /^Gateway “Sandbox”: its key-set signing key is pinned but unconfirmed .*--key signing/,
      ),
    ]);
    expect(unconfirmed.facts.find((f) => f.label === 'Gateway “Sandbox” key-set signing key')?.value).toBe(
      `SHA-256 ${'cd'.repeat(32)} pinned, unconfirmed`,
    );
  });
});
