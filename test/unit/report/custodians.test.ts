import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CURRENT_CUSTODIAN_TEXT } from '../../../electron/report/custodian-text.std';
import { CUSTODIANS_FILE, CustodianStore } from '../../../electron/report/custodians.nodejs';

let dir: string;
let now: Date;
const store = () => new CustodianStore({ dir, osUser: 'ann', clock: () => now });
const v = CURRENT_CUSTODIAN_TEXT.version;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mkm-custodians-'));
  now = new Date('2026-02-01T10:00:00.000Z');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('key custodian acknowledgements', () => {
  it('records name, role, text version, date and who recorded it; it survives a new store', () => {
    const c = store().acknowledge({ name: ' Ann Lee ', role: 'Key custodian', textVersion: v });
    expect(c).toMatchObject({
      name: 'Ann Lee',
      role: 'Key custodian',
      textVersion: v,
      acknowledgedAt: '2026-02-01T10:00:00.000Z',
      recordedBy: 'ann',
      revokedAt: null,
      current: true,
    });
    expect(store().list()).toEqual([c]);
  });

  it('refuses a text version the person was not shown, and a second acknowledgement of the same text', () => {
    expect(() => store().acknowledge({ name: 'Bo', role: 'r', textVersion: '0' })).toThrow(
      expect.objectContaining({ code: 'CONFLICT' }),
    );
    store().acknowledge({ name: 'Bo', role: 'r', textVersion: v });
    expect(() => store().acknowledge({ name: 'bo', role: 'r', textVersion: v })).toThrow(
      /already acknowledged/,
    );
    expect(store().list()).toHaveLength(1);
  });

  it('revoking keeps the record, with the date and the reason; revoking twice is refused', () => {
    const c = store().acknowledge({ name: 'Cy', role: 'r', textVersion: v });
    now = new Date('2026-03-01T00:00:00.000Z');
    const revoked = store().revoke(c.id, 'left the company');
    expect(revoked).toMatchObject({
      id: c.id,
      revokedAt: '2026-03-01T00:00:00.000Z',
      revokedReason: 'left the company',
      current: false,
    });
    expect(() => store().revoke(c.id)).toThrow(expect.objectContaining({ code: 'CONFLICT' }));
    expect(() => store().revoke('6f1c1a52-7d1e-4a52-9a55-0d4c5b0e8a11')).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND' }),
    );
    // Revoked people may acknowledge again later (a new record).
    expect(store().acknowledge({ name: 'Cy', role: 'r', textVersion: v }).current).toBe(true);
    expect(store().list()).toHaveLength(2);
  });

  it('an acknowledgement of an older text is superseded, not deleted, when the person acknowledges the new one', () => {
    writeFileSync(
      join(dir, CUSTODIANS_FILE),
      JSON.stringify({
        schema: 1,
        custodians: [
          {
            id: '6f1c1a52-7d1e-4a52-9a55-0d4c5b0e8a11',
            name: 'Di',
            role: 'r',
            textVersion: '0',
            acknowledgedAt: '2025-01-01T00:00:00.000Z',
            recordedBy: 'di',
            revokedAt: null,
            revokedReason: null,
          },
        ],
      }),
    );
    expect(store().list()[0]).toMatchObject({ current: false, revokedAt: null });
    store().acknowledge({ name: 'Di', role: 'r', textVersion: v });
    const [old, fresh] = store().list();
    expect(old).toMatchObject({ revokedAt: '2026-02-01T10:00:00.000Z', current: false });
    expect(old!.revokedReason).toMatch(/superseded/);
    expect(fresh).toMatchObject({ current: true, textVersion: v });
  });

  it('a damaged or hand-edited file is refused with STORE_CORRUPT and left as it was', () => {
    const file = join(dir, CUSTODIANS_FILE);
    writeFileSync(file, '{"schema":1,"custodians":[{"name":"x"}]}');
    expect(() => store().list()).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
    expect(() => store().acknowledge({ name: 'E', role: 'r', textVersion: v })).toThrow(
      expect.objectContaining({ code: 'STORE_CORRUPT' }),
    );
    expect(readFileSync(file, 'utf8')).toBe('{"schema":1,"custodians":[{"name":"x"}]}');
    writeFileSync(file, 'not json');
    expect(() => store().list()).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
  });
});
