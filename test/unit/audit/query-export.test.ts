import { describe, expect, it } from 'vitest';
import {
  CSV_COLUMNS,
  csvCell,
  exportCsv,
  exportJson,
  queryAuditLog,
} from '../../../electron/audit/audit-log.nodejs';
import type { AuditEntryRecord } from '../../../electron/audit/audit-log.nodejs';
import { HmacSealer } from '../../../electron/audit/software-sealer.nodejs';
import { openLog, tempDir, tickingClock } from './fixtures';

/** RFC 4180 reader, written independently of the exporter so the round trip proves something. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  if (cell !== '' || row.length) throw new Error('CSV does not end with CRLF');
  return rows;
}

/** 2026-01-01T00:00:01Z is audit.start; then one entry per second. */
async function sampleDir() {
  const dir = tempDir();
  const log = await openLog(dir, new HmacSealer(), { clock: tickingClock() });
  log.append({
    action: 'key.generate',
    result: 'ok',
    key: { id: 'aa01', kcv: '111111' },
    details: { label: 'data 1' },
  });
  log.append({ action: 'key.rotate', result: 'ok', key: { id: 'aa01', kcv: '222222' } });
  log.append({ action: 'key.rotate', result: 'KEY_NOT_FOUND', key: { id: 'bb02' } });
  log.append({
    action: 'token.login',
    result: 'PIN_INCORRECT',
    actor: { token: { serial: '99', label: 'backup' } },
  });
  log.append({
    action: 'key.import',
    result: 'ok',
    key: { id: 'cc03', fingerprint: 'e'.repeat(64) },
    details: { comment: 'from "HQ", batch 7\nsecond line', owner: '=HYPERLINK("http://x")' },
    actor: { osUser: '@bob', token: { serial: '-1+1', label: '+SUM(A1:A9)' } },
  });
  await log.close();
  return dir;
}

describe('query', () => {
  it('filters by action, prefix, key, result, time range and free text', async () => {
    const dir = await sampleDir();
    const actions = async (filter: Parameters<typeof queryAuditLog>[0]['filter']) =>
      (await queryAuditLog({ dir, filter })).entries.map((e) => `${e.seq}:${e.action}`);

    expect(await actions({ action: 'key.rotate' })).toEqual(['3:key.rotate', '4:key.rotate']);
    expect(await actions({ action: 'key.' })).toEqual([
      '2:key.generate',
      '3:key.rotate',
      '4:key.rotate',
      '6:key.import',
    ]);
    expect(await actions({ keyId: 'AA01' })).toEqual(['2:key.generate', '3:key.rotate']);
    expect(await actions({ result: 'error' })).toEqual(['4:key.rotate', '5:token.login']);
    expect(await actions({ result: 'PIN_INCORRECT' })).toEqual(['5:token.login']);
    expect(
      await actions({ from: '2026-01-01T00:00:03.000Z', to: new Date('2026-01-01T00:00:04.000Z') }),
    ).toEqual(['3:key.rotate', '4:key.rotate']);
    expect(await actions({ text: 'BACKUP' })).toEqual(['5:token.login']);
    expect(await actions({ text: 'batch 7' })).toEqual(['6:key.import']);
    expect(await actions({ action: 'key.rotate', result: 'ok', keyId: 'aa01' })).toEqual(['3:key.rotate']);
    expect(await actions({ text: 'no such thing' })).toEqual([]);
    await expect(queryAuditLog({ dir, filter: { from: 'yesterday-ish' } })).rejects.toMatchObject({
      code: 'VALIDATION',
    });
  });

  it('pages newest first and never returns seal lines', async () => {
    const dir = await sampleDir();
    const newest = await queryAuditLog({ dir, limit: 2, newestFirst: true });
    expect(newest.entries.map((e) => e.action)).toEqual(['audit.stop', 'key.import']);
    expect(newest.matched).toBe(7);
    const oldest = await queryAuditLog({ dir, limit: 2 });
    expect(oldest.entries.map((e) => e.action)).toEqual(['audit.start', 'key.generate']);
    const all = await queryAuditLog({ dir });
    expect(all.entries.every((e) => e.type === 'entry')).toBe(true);
    expect(all.skipped).toBe(0);
  });
});

describe('export', () => {
  it('JSON export round-trips to the queried entries', async () => {
    const dir = await sampleDir();
    const filter = { action: 'key.' };
    const parsed = JSON.parse(await exportJson({ dir, filter })) as AuditEntryRecord[];
    expect(parsed).toEqual((await queryAuditLog({ dir, filter })).entries);
    expect(parsed).toHaveLength(4);
  });

  it('CSV export round-trips, with quotes, commas and newlines escaped', async () => {
    const dir = await sampleDir();
    const csv = await exportCsv({ dir });
    const rows = parseCsv(csv);
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    const { entries } = await queryAuditLog({ dir });
    expect(rows).toHaveLength(entries.length + 1);
    const byColumn = (row: string[]) => Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, row[i]]));
    const gen = byColumn(rows[2]!);
    expect(gen).toMatchObject({
      seq: '2',
      time: '2026-01-01T00:00:02.000Z',
      os_user: 'alice',
      token_serial: '8f3b2c1d9e0a4b5c',
      action: 'key.generate',
      key_id: 'aa01',
      key_kcv: '111111',
      result: 'ok',
    });
    expect(JSON.parse(gen.details!)).toEqual({ label: 'data 1' });
    const imp = byColumn(rows[6]!);
    expect(JSON.parse(imp.details!)).toEqual(entries[5]!.details);
    expect(imp.key_fingerprint).toBe('e'.repeat(64));
  });

  it('CSV cells that a spreadsheet would run as a formula are neutralised', async () => {
    const dir = await sampleDir();
    const rows = parseCsv(await exportCsv({ dir }));
    const imp = rows.find((r) => r[5] === 'key.import')!;
    expect(imp[2]).toBe("'@bob");
    expect(imp[3]).toBe("'-1+1");
    expect(imp[4]).toBe("'+SUM(A1:A9)");
    // No cell of the export starts with a formula character.
    for (const row of rows) for (const cell of row) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
    expect(csvCell('=1+1')).toBe("'=1+1");
    expect(csvCell('\t=cmd')).toBe("'\t=cmd");
    expect(csvCell('a,"b"')).toBe('"a,""b"""');
    expect(csvCell('plain')).toBe('plain');
  });
});
