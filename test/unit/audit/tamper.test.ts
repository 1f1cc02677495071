import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HmacSealer } from '../../../electron/audit/software-sealer.nodejs';
import { sealMessage, serializeSeal, verifyAuditLog } from '../../../electron/audit/audit-log.nodejs';
import type { AuditSealRecord } from '../../../electron/audit/audit-log.nodejs';
import {
  logLines,
  readStateFile,
  relink,
  restate,
  sha256,
  tempDir,
  writeLogLines,
  writeSampleLog,
  writeStateFile,
} from './fixtures';

const sealer = new HmacSealer({ id: 'a0d170' });

async function sample(count = 20) {
  const dir = tempDir();
  await writeSampleLog(dir, sealer, count);
  const lines = logLines(dir);
  return { dir, lines, last: lines.length };
}

function edit(line: string, change: (r: Record<string, unknown>) => void): string {
  const r = JSON.parse(line) as Record<string, unknown>;
  change(r);
  return JSON.stringify(r);
}

describe('verify on an intact log', () => {
  it('accepts it, every entry sealed, with and without the token', async () => {
    const { dir, lines } = await sample();
    const withToken = await verifyAuditLog({ dir, sealer });
    expect(withToken).toMatchObject({ ok: true, sealsVerified: true, unsealed: 0, lines: lines.length });
    expect(withToken.entries).toBe(22); // start + 20 + stop
    expect(withToken.firstBad).toBeUndefined();
    const withoutToken = await verifyAuditLog({ dir });
    expect(withoutToken).toMatchObject({ ok: true, sealsVerified: false });
    expect(await verifyAuditLog({ dir, sealer, deep: true })).toMatchObject({ ok: true });
  });
});

describe('verify names the first bad entry', () => {
  it('edit of a field in the middle: names the edited entry', async () => {
    const { dir, lines } = await sample();
    expect(lines[8]).toContain('"type":"entry"');
    lines[8] = edit(lines[8]!, (r) => (r.result = 'KEY_NOT_FOUND'));
    writeLogLines(dir, lines);
    const report = await verifyAuditLog({ dir, sealer });
    expect(report.ok).toBe(false);
    expect(report.firstBad).toMatchObject({ seq: 9, line: 9, kind: 'chain' });
  });

  it('edit of a seal line: named as the seal', async () => {
    const { dir, lines } = await sample();
    const s = lines.findIndex((l) => l.includes('"type":"seal"'));
    lines[s] = edit(lines[s]!, (r) => (r.time = '2030-01-01T00:00:00.000Z'));
    writeLogLines(dir, lines);
    expect((await verifyAuditLog({ dir, sealer })).firstBad).toMatchObject({ seq: s + 1, line: s + 1 });
  });

  it('edit of the last line: named from the state file and the seal MAC', async () => {
    const { dir, lines, last } = await sample();
    lines[last - 1] = edit(lines[last - 1]!, (r) => (r.time = '2020-01-01T00:00:00.000Z'));
    writeLogLines(dir, lines);
    const report = await verifyAuditLog({ dir, sealer });
    expect(report.firstBad).toMatchObject({ seq: last, line: last });
  });

  it('edit with the whole chain relinked and the state rewritten: the seal no longer matches', async () => {
    const { dir, lines } = await sample();
    lines[2] = edit(lines[2]!, (r) => (r.details = { i: 999 }));
    const forged = relink(lines, 3);
    writeLogLines(dir, forged);
    restate(dir, forged);
    writeStateFile(dir, { ...readStateFile(dir), sealed: null });
    const report = await verifyAuditLog({ dir, sealer });
    expect(report.ok).toBe(false);
    // The first seal after the edit is the first line that can no longer be right.
    const firstSeal = forged.findIndex((l) => l.includes('"type":"seal"')) + 1;
    expect(report.firstBad).toMatchObject({ seq: firstSeal, line: firstSeal, kind: 'seal' });
    expect(report.sealedThrough).toBe(0);
  });

  it('edit with the chain relinked and the seal head replaced: the MAC no longer matches', async () => {
    const { dir, lines } = await sample();
    lines[2] = edit(lines[2]!, (r) => (r.details = { i: 999 }));
    let forged = relink(lines, 3);
    const s = forged.findIndex((l) => l.includes('"type":"seal"'));
    const seal = JSON.parse(forged[s]!) as AuditSealRecord;
    forged[s] = serializeSeal({ ...seal, head: sha256(forged[seal.covers[1] - 1]!) });
    forged = relink(forged, s + 1);
    writeLogLines(dir, forged);
    restate(dir, forged);
    writeStateFile(dir, { ...readStateFile(dir), sealed: null });
    const report = await verifyAuditLog({ dir, sealer });
    expect(report.firstBad).toMatchObject({ seq: s + 1, kind: 'seal' });
    expect(report.firstBad?.reason).toMatch(/wrong MAC/);
  });

  it.each([
    ['first', 0],
    ['middle', 9],
  ])('deletion of the %s line: names the missing entry', async (_where, index) => {
    const { dir, lines } = await sample();
    lines.splice(index, 1);
    writeLogLines(dir, lines);
    const report = await verifyAuditLog({ dir, sealer });
    expect(report.firstBad).toMatchObject({ seq: index + 1, line: index + 1, kind: 'sequence' });
  });

  it('deletion of the last line: names it as truncated', async () => {
    const { dir, lines, last } = await sample();
    writeLogLines(dir, lines.slice(0, -1));
    const report = await verifyAuditLog({ dir, sealer });
    expect(report.firstBad).toMatchObject({ seq: last, line: last, kind: 'truncated' });
  });

  it('swap of two lines: names the first of them', async () => {
    const { dir, lines } = await sample();
    [lines[4], lines[5]] = [lines[5]!, lines[4]!];
    writeLogLines(dir, lines);
    const report = await verifyAuditLog({ dir, sealer });
    expect(report.firstBad).toMatchObject({ seq: 5, line: 5, kind: 'sequence' });
  });

  it('tail cut at a line boundary: names the first removed entry', async () => {
    const { dir, lines } = await sample();
    writeLogLines(dir, lines.slice(0, 12));
    const report = await verifyAuditLog({ dir, sealer });
    expect(report.firstBad).toMatchObject({ seq: 13, line: 13, kind: 'truncated' });
    expect(report.firstBad?.reason).toMatch(/removed/);
  });

  it('tail cut inside a line (torn line): names the incomplete line', async () => {
    const { dir, lines, last } = await sample();
    const torn = lines[last - 1]!.slice(0, 40);
    writeLogLines(dir, [...lines.slice(0, -1), torn], '');
    const report = await verifyAuditLog({ dir, sealer });
    expect(report.firstBad).toMatchObject({ seq: last, line: last, kind: 'torn' });
    expect(report.firstBad?.reason).toContain('40 bytes');
  });

  it('forged line appended with a correct hash but no seal: named as added after close', async () => {
    const { dir, lines, last } = await sample();
    const forged = edit(lines[1]!, (r) => {
      r.seq = last + 1;
      r.prev = sha256(lines[last - 1]!);
      r.action = 'key.export';
    });
    writeLogLines(dir, [...lines, forged]);
    const report = await verifyAuditLog({ dir, sealer });
    expect(report.firstBad).toMatchObject({ seq: last + 1, line: last + 1, kind: 'after-close' });
  });

  it('forged line appended while the writer was running: reported as the first unsealed entry', async () => {
    const { dir, lines, last } = await sample();
    const forged = edit(lines[1]!, (r) => {
      r.seq = last + 1;
      r.prev = sha256(lines[last - 1]!);
    });
    writeLogLines(dir, [...lines, forged]);
    writeStateFile(dir, { ...readStateFile(dir), closed: false });
    const report = await verifyAuditLog({ dir, sealer });
    expect(report.ok).toBe(true);
    expect(report).toMatchObject({ unsealed: 1, unconfirmed: 1, firstUnsealed: { seq: last + 1 } });
  });

  it('forged line plus a seal made with another key under the real key id: wrong MAC', async () => {
    const { dir, lines, last } = await sample();
    writeStateFile(dir, { ...readStateFile(dir), closed: false });
    const forged = edit(lines[1]!, (r) => {
      r.seq = last + 1;
      r.prev = sha256(lines[last - 1]!);
    });
    const attacker = new HmacSealer({ id: 'a0d170' });
    const sealKey = sealer.keyRef; // claims the real key
    const time = '2026-06-01T00:00:00.000Z';
    const prevSeal = JSON.parse(lines[last - 1]!) as AuditSealRecord;
    const covers: [number, number] = [prevSeal.covers[1] + 1, last + 1];
    const head = sha256(forged);
    const [mac] = await attacker.macBatch([sealMessage(covers[0], covers[1], head, time, sealKey)]);
    const seal = serializeSeal({
      v: 1,
      seq: last + 2,
      type: 'seal',
      time,
      covers,
      head,
      sealKey,
      mac: mac!.toString('hex'),
      prev: head,
    });
    writeLogLines(dir, [...lines, forged, seal]);
    const report = await verifyAuditLog({ dir, sealer });
    expect(report.firstBad).toMatchObject({ seq: last + 2, line: last + 2, kind: 'seal' });
    expect(report.firstBad?.reason).toMatch(/wrong MAC/);
    expect(report.sealedThrough).toBe(prevSeal.covers[1]);
  });

  it('a log rewritten wholesale with another key: the first seal is rejected', async () => {
    const dir = tempDir();
    const other = new HmacSealer({ id: 'a0d170' });
    await writeSampleLog(dir, other);
    const report = await verifyAuditLog({ dir, sealer });
    const first = logLines(dir).findIndex((l) => l.includes('"type":"seal"')) + 1;
    expect(report.firstBad).toMatchObject({ seq: first, kind: 'seal' });
    expect(report.firstBad?.reason).toMatch(/not the audit key/); // different KCV
    expect(report.sealedThrough).toBe(0);
  });

  it('a malformed line in the unsealed tail is named even when the frame looks right', async () => {
    const { dir, lines, last } = await sample();
    writeStateFile(dir, { ...readStateFile(dir), closed: false });
    const bad = edit(lines[1]!, (r) => {
      r.seq = last + 1;
      r.prev = sha256(lines[last - 1]!);
      r.extra = 'hidden';
    });
    // Keep the writer's framing (prev last), so only the full parse can tell.
    const reframed = bad
      .replace(/,"prev":"[0-9a-f]{64}"/, '')
      .replace(/\}$/, `,"prev":"${sha256(lines[last - 1]!)}"}`);
    writeLogLines(dir, [...lines, reframed]);
    const report = await verifyAuditLog({ dir, sealer });
    expect(report.firstBad).toMatchObject({ seq: last + 1, line: last + 1, kind: 'malformed' });
  });

  it('a duplicated seq key in the unsealed tail is named (the viewer would show another seq)', async () => {
    const { dir, lines, last } = await sample();
    writeStateFile(dir, { ...readStateFile(dir), closed: false });
    const prev = sha256(lines[last - 1]!);
    const appended = edit(lines[1]!, (r) => {
      r.seq = last + 1;
      r.prev = prev;
    }).replace('"action":', '"seq":4,"action":');
    writeLogLines(dir, [...lines, appended]);
    const report = await verifyAuditLog({ dir, sealer });
    expect(report.firstBad).toMatchObject({ seq: last + 1, line: last + 1, kind: 'malformed' });
  });

  it('an unfinished batch of a writer that is running in another process is in flight, not torn', async () => {
    const { dir, lines } = await sample();
    writeStateFile(dir, { ...readStateFile(dir), closed: false });
    writeLogLines(dir, [...lines, '{"v":1,"seq":'], '');
    // The parent of this test worker is alive and is not this process: it stands in for the app.
    writeFileSync(join(dir, 'audit.lock'), `${process.ppid}\n`);
    expect(await verifyAuditLog({ dir, sealer })).toMatchObject({ ok: true, unsealed: 0 });
    rmSync(join(dir, 'audit.lock'));
    expect((await verifyAuditLog({ dir, sealer })).firstBad).toMatchObject({ kind: 'torn' });
  });

  it('missing state file next to a non-empty log is reported', async () => {
    const { dir } = await sample(3);
    rmSync(`${dir}/audit.state.json`);
    const report = await verifyAuditLog({ dir, sealer });
    expect(report.firstBad).toMatchObject({ kind: 'state', seq: 0 });
  });
});
