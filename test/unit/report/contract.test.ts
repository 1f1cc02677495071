import { describe, expect, it } from 'vitest';
import { reportContract } from '../../../shared/contract/report.std';

const ack = reportContract.acknowledge.request;

describe('report.* requests', () => {
  it('an acknowledgement needs a name, a role, the text version and an explicit yes', () => {
    expect(ack.parse({ name: ' Ann Lee ', role: 'Key custodian', textVersion: '1', confirm: true })).toEqual({
      name: 'Ann Lee',
      role: 'Key custodian',
      textVersion: '1',
      confirm: true,
    });
    expect(ack.safeParse({ name: 'Ann', role: 'r', textVersion: '1' }).success).toBe(false);
    expect(ack.safeParse({ name: 'Ann', role: 'r', textVersion: '1', confirm: false }).success).toBe(false);
    expect(ack.safeParse({ name: '   ', role: 'r', textVersion: '1', confirm: true }).success).toBe(false);
  });

  it('refuses names that would break the printed report or are too long, and unknown fields', () => {
    for (const name of ['Ann\nLee', 'Ann\u0000', 'Ann\u202eeeL', 'x'.repeat(129)]) {
      expect(
        ack.safeParse({ name, role: 'r', textVersion: '1', confirm: true }).success,
        JSON.stringify(name),
      ).toBe(false);
    }
    expect(
      ack.safeParse({ name: 'Ann', role: 'r', textVersion: '1', confirm: true, admin: true }).success,
    ).toBe(false);
  });

  it('exports only as html or pdf; revoking needs a custodian id and a yes', () => {
    expect(reportContract.exportPci.request.safeParse({ format: 'docx' }).success).toBe(false);
    expect(reportContract.exportPci.request.safeParse({ format: 'pdf' }).success).toBe(true);
    const revoke = reportContract.revokeCustodian.request;
    expect(revoke.safeParse({ id: 'not-an-id', confirm: true }).success).toBe(false);
    expect(revoke.safeParse({ id: '6f1c1a52-7d1e-4a52-9a55-0d4c5b0e8a11', confirm: true }).success).toBe(
      true,
    );
    expect(revoke.safeParse({ id: '6f1c1a52-7d1e-4a52-9a55-0d4c5b0e8a11' }).success).toBe(false);
  });
});
