import {
  existsSync,
  mkdirSync,
  readFileSync,
  appendFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MkmError } from '../../../shared/errors.std';
import {
  AuditLog,
  LOCK_FILE,
  LOCK_STALE_MS,
  LOG_FILE,
  queryAuditLog,
  verifyAuditLog,
} from '../../../electron/audit/audit-log.nodejs';
import type { AuditSealer } from '../../../electron/audit/audit-log.nodejs';
import { HmacSealer } from '../../../electron/audit/software-sealer.nodejs';
import { ACTOR, logLines, openLog, readStateFile, tempDir, tickingClock, writeSampleLog } from './fixtures';

const sealer = new HmacSealer({ id: 'a0d170' });

/** A token that is logged out: every MAC call fails the way TokenEngine reports it. */
const loggedOut: AuditSealer = {
  keyRef: sealer.keyRef,
  macBatch: async () => {
    throw new MkmError('NOT_LOGGED_IN');
  },
};

async function thrown(run: () => unknown): Promise<MkmError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof MkmError) return error;
    throw error;
  }
  throw new Error('expected an MkmError');
}

describe('AuditLog append and verify', () => {
  it('round trip: what is appended is written as one chained line each and verifies', async () => {
    const dir = tempDir();
    const log = await openLog(dir, sealer, { clock: tickingClock() });
    const a = log.append({
      action: 'key.generate',
      result: 'ok',
      key: { id: 'AB01', kcv: 'A1B2C3' },
      details: { purpose: 'data', label: 'gw-data-2026' },
    });
    const b = log.append({
      action: 'key.rotate',
      result: 'KEY_NOT_FOUND',
      key: { id: 'ab02', fingerprint: 'f'.repeat(64) },
      actor: { token: null },
    });
    expect(b.seq).toBe(a.seq + 1);
    await log.close();

    const lines = logLines(dir).map((l) => JSON.parse(l) as Record<string, unknown>);
    const gen = lines.find((l) => l.action === 'key.generate')!;
    expect(gen).toMatchObject({
      v: 1,
      seq: a.seq,
      type: 'entry',
      time: '2026-01-01T00:00:02.000Z',
      actor: ACTOR,
      key: { id: 'ab01', kcv: 'a1b2c3' },
      result: 'ok',
      details: { purpose: 'data', label: 'gw-data-2026' },
    });
    const rot = lines.find((l) => l.action === 'key.rotate')!;
    expect(rot).toMatchObject({ result: 'KEY_NOT_FOUND', actor: { osUser: 'alice', token: null } });
    const entries = lines.filter((l) => l.type === 'entry');
    expect(entries.map((l) => l.action)).toEqual(['audit.start', 'key.generate', 'key.rotate', 'audit.stop']);
    expect(lines[lines.length - 1]).toMatchObject({ type: 'seal', covers: [1, 4] });

    const report = await verifyAuditLog({ dir, sealer });
    expect(report).toMatchObject({ ok: true, entries: 4, unsealed: 0, sealsVerified: true });
    expect(report.sealedThrough).toBe(4);
    expect(readStateFile(dir)).toMatchObject({ closed: true, written: { seq: report.lines } });
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('reopens and continues the same chain; audit.start says the last run closed cleanly', async () => {
    const dir = tempDir();
    await writeSampleLog(dir, sealer, 3);
    const log = await openLog(dir, sealer);
    expect(log.openReport).toEqual({ created: false, cleanShutdown: true, unconfirmed: 0 });
    log.append({ action: 'key.use', result: 'ok' });
    await log.close();
    const report = await verifyAuditLog({ dir, sealer });
    expect(report).toMatchObject({ ok: true, unsealed: 0 });
    const starts = (await queryAuditLog({ dir, filter: { action: 'audit.start' } })).entries;
    expect(starts.map((e) => e.details)).toEqual([
      { created: true, cleanShutdown: true, unconfirmedLines: 0, pid: process.pid },
      { created: false, cleanShutdown: true, unconfirmedLines: 0, pid: process.pid },
    ]);
  });

  it('without a token entries are written unsealed, and sealed once the token is back', async () => {
    const dir = tempDir();
    const log = await openLog(dir, null);
    for (let i = 0; i < 10; i++) log.append({ action: 'key.use', result: 'ok', details: { i } });
    await log.flush();
    const before = await verifyAuditLog({ dir, sealer });
    expect(before).toMatchObject({
      ok: true,
      sealedThrough: 0,
      unsealed: 11,
      firstUnsealed: { seq: 1, line: 1 },
    });
    expect(log.status()).toMatchObject({ unsealed: 11, sealedThrough: 0, sealer: null });

    log.setSealer(sealer);
    const through = await log.seal();
    expect(through).toBe(12); // 11 entries + audit.sealer-attached
    const after = await log.verify();
    expect(after).toMatchObject({ ok: true, sealedThrough: 12, unsealed: 0, sealsVerified: true });

    log.setSealer(null);
    log.append({ action: 'key.use', result: 'ok' });
    const detached = await log.verify([sealer]);
    expect(detached).toMatchObject({ ok: true, sealedThrough: 12, unsealed: 2, firstUnsealed: { seq: 14 } });
    await log.close();
  });

  it('a token that refuses (logged out) leaves entries unsealed and sealing resumes on login', async () => {
    const dir = tempDir();
    const log = await openLog(dir, loggedOut, { sealEvery: { entries: 2, ms: 20 } });
    for (let i = 0; i < 5; i++) log.append({ action: 'key.use', result: 'ok' });
    await expect(log.seal()).rejects.toMatchObject({ code: 'NOT_LOGGED_IN' });
    expect(log.status()).toMatchObject({ sealedThrough: 0, lastSealError: 'NOT_LOGGED_IN' });
    expect(log.status().unsealed).toBeGreaterThanOrEqual(6);

    log.setSealer(sealer);
    // The background loop (not an explicit seal()) must pick it up.
    for (let i = 0; i < 100 && log.status().unsealed > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(log.status().unsealed).toBe(0);
    expect(log.status().lastSealError).toBeUndefined();
    await log.close();
    expect(await verifyAuditLog({ dir, sealer })).toMatchObject({ ok: true, unsealed: 0 });
  });

  it('audit key rotation: seals by the old and the new key verify when both keys are given', async () => {
    const dir = tempDir();
    const newKey = new HmacSealer({ id: 'a0d171' });
    const log = await openLog(dir, sealer);
    log.append({ action: 'key.use', result: 'ok' });
    await log.seal();
    log.setSealer(newKey);
    log.append({ action: 'key.use', result: 'ok' });
    await log.close();
    expect(await verifyAuditLog({ dir, sealer: [sealer, newKey] })).toMatchObject({ ok: true, unsealed: 0 });
    const onlyNew = await verifyAuditLog({ dir, sealer: newKey });
    expect(onlyNew.firstBad).toMatchObject({ kind: 'seal' });
    expect(onlyNew.firstBad?.reason).toMatch(/not the audit key/);
    const rotation = (await queryAuditLog({ dir, filter: { action: 'audit.sealer-attached' } })).entries;
    expect(rotation.map((e) => e.key)).toEqual([{ id: 'a0d171', kcv: newKey.keyRef.kcv }]);
  });

  it('close with the token logged out still closes; verify names the unsealed tail', async () => {
    const dir = tempDir();
    const log = await openLog(dir, loggedOut);
    log.append({ action: 'key.use', result: 'ok' });
    await log.close();
    expect(readStateFile(dir)).toMatchObject({ closed: true });
    expect(await verifyAuditLog({ dir, sealer })).toMatchObject({
      ok: true,
      unsealed: 3,
      firstUnsealed: { seq: 1 },
    });
  });

  it('concurrent appends from many async callers keep their order, with seals and flushes interleaved', async () => {
    const dir = tempDir();
    const log = await openLog(dir, sealer, { sealEvery: { entries: 7, ms: 5 } });
    const order: number[] = [];
    const worker = async (w: number) => {
      for (let i = 0; i < 40; i++) {
        const { seq } = log.append({ action: 'key.use', result: 'ok', details: { w, i } });
        order.push(seq);
        if (i % 3 === 0) await new Promise((r) => setImmediate(r));
        if (i % 11 === 0) await log.flush();
        if (i % 17 === 0) void log.seal();
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
    await log.close();
    const report = await verifyAuditLog({ dir, sealer });
    expect(report).toMatchObject({ ok: true, unsealed: 0 });
    expect(report.entries).toBe(8 * 40 + 2);
    const rows = logLines(dir).map(
      (l) => JSON.parse(l) as { seq: number; details?: { w: number; i: number } },
    );
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, k) => k + 1));
    // Each caller's entries appear in the order it appended them.
    for (let w = 0; w < 8; w++) {
      const mine = rows.filter((r) => r.details?.w === w).map((r) => r.details!.i);
      expect(mine).toEqual(Array.from({ length: 40 }, (_, i) => i));
    }
    expect([...order].sort((x, y) => x - y)).toEqual(order);
  });

  it('never writes secrets: details are redacted before they reach the file', async () => {
    const dir = tempDir();
    const log = await openLog(dir, sealer);
    const secrets = {
      pin: '482913',
      cvv: '737',
      pan: '4111111111111111',
      accountNumber: '000123456789',
      clearKey: '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff',
      note: 'customer card 5500 0000 0000 0004 failed, pin=9876',
      pem: '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----',
    };
    log.append({ action: 'key.import', result: 'ok', key: { id: 'ab01', kcv: 'a1b2c3' }, details: secrets });
    log.append({
      action: 'key.import',
      result: 'ok',
      details: { nested: { keyMaterial: Buffer.from('secret-bytes') } },
    });
    await log.close();
    const text = readFileSync(join(dir, LOG_FILE), 'utf8');
    // Short secrets are looked for where they could leak (the details), not in hashes and
    // timestamps, where three digits turn up by chance.
    const detailsText = text
      .trim()
      .split('\n')
      .map((line) => JSON.stringify((JSON.parse(line) as { details?: unknown }).details ?? {}))
      .join('\n');
    for (const short of ['737', '9876']) expect(detailsText).not.toContain(short);
    for (const s of ['482913', '4111111111111111', '000123456789', '00112233445566778899aabb', '5500 0000']) {
      expect(text).not.toContain(s);
    }
    expect(text).not.toContain('MIIEvQ');
    expect(text).not.toContain('secret-bytes');
    expect(text).toContain('[redacted]');
    expect(await verifyAuditLog({ dir, sealer })).toMatchObject({ ok: true });
  });

  it('rejects entries that are not audit facts', async () => {
    const dir = tempDir();
    const log = await openLog(dir, sealer);
    expect((await thrown(() => log.append({ action: 'Key Generate', result: 'ok' }))).code).toBe(
      'VALIDATION',
    );
    expect((await thrown(() => log.append({ action: 'key.use', result: 'fine' as never }))).code).toBe(
      'VALIDATION',
    );
    const notHex = await thrown(() => log.append({ action: 'key.use', result: 'ok', key: { id: 'key-1' } }));
    expect(notHex.code).toBe('VALIDATION');
    const dump = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`field${i}`, 'some text']));
    const big = await thrown(() => log.append({ action: 'key.use', result: 'ok', details: dump }));
    expect(big.code).toBe('VALIDATION');
    await log.close();
    expect((await thrown(() => log.append({ action: 'key.use', result: 'ok' }))).code).toBe('INTERNAL');
    expect(await verifyAuditLog({ dir, sealer })).toMatchObject({ ok: true, entries: 2 });
  });

  it('a failed write is retried in order and flush only resolves once it is really durable', async () => {
    const dir = tempDir();
    const log = await openLog(dir, sealer);
    // The state cannot be replaced while a directory sits where its temp file goes.
    mkdirSync(join(dir, 'audit.state.json.tmp'));
    log.append({ action: 'key.use', result: 'ok', details: { n: 1 } });
    await expect(log.flush()).rejects.toMatchObject({ code: 'IO_ERROR' });
    log.append({ action: 'key.use', result: 'ok', details: { n: 2 } });
    expect(log.status().durableSeq).toBeLessThan(log.status().lastSeq);
    rmSync(join(dir, 'audit.state.json.tmp'), { recursive: true });
    await log.flush();
    expect(log.status().durableSeq).toBe(log.status().lastSeq);
    await log.close();
    const report = await verifyAuditLog({ dir, sealer });
    expect(report).toMatchObject({ ok: true, unsealed: 0 });
    const ns = (await queryAuditLog({ dir, filter: { action: 'key.use' } })).entries.map((e) => e.details?.n);
    expect(ns).toEqual([1, 2]);
  });

  it('allows one writer per folder', async () => {
    const dir = tempDir();
    const log = await openLog(dir, sealer);
    const second = await thrown(() => openLog(dir, sealer));
    expect(second.code).toBe('CONFLICT');
    await log.close();
    const again = await openLog(dir, sealer);
    await again.close();
  });

  it('a writer whose lock was taken over stops writing instead of forking the chain', async () => {
    const dir = tempDir();
    const log = await openLog(dir, sealer);
    log.append({ action: 'key.use', result: 'ok', details: { n: 1 } });
    await log.flush();
    // Another process decided the lock was stale (say this one slept with the laptop).
    writeFileSync(join(dir, LOCK_FILE), `${process.ppid}\nother\n`);
    log.append({ action: 'key.use', result: 'ok', details: { n: 2 } });
    await expect(log.flush()).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(log.close()).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.ppid}\nother\n`);
    const ns = (await queryAuditLog({ dir, filter: { action: 'key.use' } })).entries.map((e) => e.details?.n);
    expect(ns).toEqual([1]);
  });

  it('takes over a stale lock left by a process that died', async () => {
    const dir = tempDir();
    await writeSampleLog(dir, sealer, 1);
    writeFileSync(join(dir, LOCK_FILE), '2147483646\n');
    const log = await openLog(dir, sealer);
    await log.close();
    expect(await verifyAuditLog({ dir, sealer })).toMatchObject({ ok: true });
  });

  it('takes over a lock whose pid was reused by a live process but whose heartbeat stopped', async () => {
    const dir = tempDir();
    await writeSampleLog(dir, sealer, 1);
    const lock = join(dir, LOCK_FILE);
    writeFileSync(lock, `${process.ppid}\n`);
    expect((await thrown(() => openLog(dir, sealer))).code).toBe('CONFLICT');
    const old = new Date(Date.now() - LOCK_STALE_MS - 1000);
    utimesSync(lock, old, old);
    const log = await openLog(dir, sealer);
    await log.close();
  });
});

describe('AuditLog open after a crash or tampering', () => {
  /** A run that wrote entries and was killed: the lock stays, close() never ran. */
  async function crashedRun(dir: string): Promise<void> {
    const log = await openLog(dir, sealer);
    for (let i = 0; i < 4; i++) log.append({ action: 'key.use', result: 'ok' });
    await log.seal();
    log.append({ action: 'key.use', result: 'ok' });
    await log.flush();
    rmSync(join(dir, LOCK_FILE)); // a dead pid's lock is taken over; tested above
  }

  it('a torn last line is saved aside, cut off, and recorded in audit.start', async () => {
    const dir = tempDir();
    await crashedRun(dir);
    const last = logLines(dir).length;
    const torn = `{"v":1,"seq":${last + 1},"type":"entry","time":"2026-`;
    appendFileSync(join(dir, LOG_FILE), torn);
    const report = await verifyAuditLog({ dir, sealer });
    expect(report.firstBad).toMatchObject({ kind: 'torn', seq: last + 1, line: last + 1 });

    const log = await openLog(dir, sealer);
    expect(log.openReport).toMatchObject({
      cleanShutdown: false,
      torn: { bytes: torn.length, afterSeq: last },
    });
    const saved = readFileSync(join(dir, log.openReport.torn!.savedAs), 'utf8');
    expect(saved).toBe(torn);
    await log.close();
    expect(await verifyAuditLog({ dir, sealer })).toMatchObject({ ok: true, unsealed: 0 });
    const start = (await queryAuditLog({ dir, filter: { action: 'audit.start' }, newestFirst: true }))
      .entries[0]!;
    expect(start.details).toMatchObject({ cleanShutdown: false, tornBytes: torn.length });
  });

  it('lines written after the last state update (crash in between) are kept and counted', async () => {
    const dir = tempDir();
    await crashedRun(dir);
    const state = readStateFile(dir);
    const log1 = logLines(dir);
    // Roll the state back one line, as if the process died between the log write and the state write.
    const prevLine = log1[log1.length - 2]!;
    const end = Buffer.byteLength(log1.slice(0, -1).join('\n') + '\n');
    writeFileSync(
      join(dir, 'audit.state.json'),
      JSON.stringify({
        ...state,
        written: {
          seq: log1.length - 1,
          hash: (await import('./fixtures')).sha256(prevLine),
          offset: end - Buffer.byteLength(prevLine) - 1,
          end,
        },
      }),
    );
    expect(await verifyAuditLog({ dir, sealer })).toMatchObject({ ok: true, unconfirmed: 1 });
    const log = await openLog(dir, sealer);
    expect(log.openReport).toMatchObject({ cleanShutdown: false, unconfirmed: 1 });
    await log.close();
    expect(await verifyAuditLog({ dir, sealer })).toMatchObject({ ok: true, unconfirmed: 0, unsealed: 0 });
  });

  it.each([
    [
      'the tail was cut',
      (dir: string) => writeFileSync(join(dir, LOG_FILE), logLines(dir).slice(0, -2).join('\n') + '\n'),
    ],
    [
      'a line was added after close',
      (dir: string) => appendFileSync(join(dir, LOG_FILE), logLines(dir)[1] + '\n'),
    ],
    [
      'the last line was edited',
      (dir: string) => {
        const lines = logLines(dir);
        lines[lines.length - 1] = lines[lines.length - 1]!.replace(
          /"time":"[^"]*"/,
          '"time":"2020-01-01T00:00:00.000Z"',
        );
        writeFileSync(join(dir, LOG_FILE), lines.join('\n') + '\n');
      },
    ],
    ['the state file was deleted', (dir: string) => rmSync(join(dir, 'audit.state.json'))],
    ['the log was deleted', (dir: string) => rmSync(join(dir, LOG_FILE))],
  ])('refuses to continue a log when %s', async (_what, tamper) => {
    const dir = tempDir();
    await writeSampleLog(dir, sealer, 6);
    tamper(dir);
    const error = await thrown(() => openLog(dir, sealer));
    expect(error.code).toBe('AUDIT_TAMPERED');
    expect(error.details?.reason).toEqual(expect.any(String));
    // Refusing must not leave the folder locked.
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('quarantine keeps a tampered log aside untouched and starts a new chain that says so', async () => {
    const dir = tempDir();
    await writeSampleLog(dir, sealer, 4);
    writeFileSync(join(dir, LOG_FILE), logLines(dir).slice(0, -1).join('\n') + '\n');
    const damaged = readFileSync(join(dir, LOG_FILE));
    const refusal = await thrown(() => openLog(dir, sealer));
    expect(refusal.code).toBe('AUDIT_TAMPERED');

    const movedTo = await AuditLog.quarantine(dir, String(refusal.details?.reason));
    expect(readFileSync(join(dir, movedTo, LOG_FILE))).toEqual(damaged);
    const log = await openLog(dir, sealer);
    expect(log.openReport).toMatchObject({ created: true, quarantine: { movedTo } });
    await log.close();
    expect(await verifyAuditLog({ dir, sealer })).toMatchObject({ ok: true });
    const start = (await queryAuditLog({ dir, filter: { action: 'audit.start' } })).entries[0]!;
    expect(start.details).toMatchObject({
      quarantinedTo: movedTo,
      quarantineReason: expect.stringMatching(/shorter/),
    });
    // The quarantined copy still fails verification the same way: the evidence is intact.
    expect((await verifyAuditLog({ dir: join(dir, movedTo), sealer })).firstBad).toMatchObject({
      kind: 'truncated',
    });
  });

  it('verify on an open log holds the writer, so a concurrent batch is never read half-written', async () => {
    const dir = tempDir();
    const log = await AuditLog.open({ dir, actor: ACTOR, sealer, durable: false, flushMs: 0 });
    let stop = false;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        log.append({ action: 'key.use', result: 'ok', details: { i, pad: 'p'.repeat(200) } });
        if (i % 50 === 0) await new Promise((r) => setImmediate(r));
      }
    })();
    for (let k = 0; k < 5; k++) {
      const [a, b] = await Promise.all([log.verify(), log.verify()]);
      expect(a.ok && b.ok).toBe(true);
      // The offline check from the same process (the viewer) does not hold the writer: a batch
      // caught mid-write is in flight, not a torn line.
      const offline = await verifyAuditLog({ dir, sealer });
      expect(offline.firstBad).toBeUndefined();
    }
    stop = true;
    await writer;
    await log.close();
    expect(await verifyAuditLog({ dir, sealer })).toMatchObject({ ok: true, unsealed: 0 });
  });
});
