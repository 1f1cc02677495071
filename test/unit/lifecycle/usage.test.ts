import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StateSeals } from '../../../electron/audit/state-seal.nodejs';
import { sealCounter } from '../../../electron/lifecycle/usage-seals.nodejs';
import type { AuditAppend } from '../../../electron/audit/audit-log.nodejs';
import {
  KeyUsageService,
  USAGE_FILE,
  USAGE_LOCK,
  USAGE_LOCK_TRIES,
} from '../../../electron/lifecycle/usage.nodejs';
import {
  addUses,
  auditKeyName,
  daysSince,
  mergeEntries,
  USAGE_DAYS_KEPT,
  useLevel,
} from '../../../electron/lifecycle/usage.std';

const DAY = 86_400_000;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

describe('use history (pure)', () => {
  it('keeps a bounded number of days, the total and the last use intact', () => {
    let e = addUses(undefined, 'encrypt', 1, new Date(T0).toISOString());
    for (let d = 1; d < USAGE_DAYS_KEPT + 100; d++) {
      e = mergeEntries(
        e,
        addUses(undefined, d % 2 ? 'sign' : 'encrypt', 2, new Date(T0 + d * DAY).toISOString()),
      );
    }
    expect(Object.keys(e.days)).toHaveLength(USAGE_DAYS_KEPT);
    expect(e.total).toBe(1 + 2 * (USAGE_DAYS_KEPT + 99));
    const last = new Date(T0 + (USAGE_DAYS_KEPT + 99) * DAY).toISOString();
    expect(e).toMatchObject({ lastAt: last, lastOperation: 'sign' });
    expect(daysSince(e, last.slice(0, 10))).toEqual([{ day: last.slice(0, 10), uses: 2 }]);
  });

  it('levels: warning from the fraction, reached at the limit, none without one', () => {
    expect(useLevel(79, 100, 0.8)).toBe('ok');
    expect(useLevel(80, 100, 0.8)).toBe('warning');
    expect(useLevel(100, 100, 0.8)).toBe('reached');
    expect(useLevel(10 ** 9, null, 0.8)).toBe('ok');
  });
});

describe('KeyUsageService', () => {
  let dir: string;
  let tick: () => void;
  let audit: AuditAppend[];
  let now: number;
  let waits: number[];
  const open = (inventoryDir = dir) =>
    new KeyUsageService({
      inventoryDir,
      audit: (e) => audit.push(e),
      clock: () => new Date(now),
      flushMs: 5_000,
      timers: {
        setInterval: (fn) => ((tick = fn), 1),
        clearInterval: () => {},
        sleep: (ms) => waits.push(ms),
      },
    });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mkm-usage-unit-'));
    audit = [];
    now = T0;
    waits = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes nothing per use; each timer tick writes what waits, as one audit entry (none when idle)', () => {
    const usage = open();
    usage.record({ gatewayKey: 'ab'.repeat(32) }, 'cse-encrypt', 3);
    usage.record({ versionId: 'v-1' }, 'sign');
    expect(() => readFileSync(join(dir, USAGE_FILE))).toThrow();
    expect(audit).toEqual([]);
    tick();
    const file = JSON.parse(readFileSync(join(dir, USAGE_FILE), 'utf8')) as {
      versions: Record<string, { total: number }>;
      gatewayKeys: Record<string, { total: number }>;
    };
    expect(file.versions['v-1']!.total).toBe(1);
    expect(file.gatewayKeys['ab'.repeat(32)]!.total).toBe(3);
    expect(audit).toEqual([
      {
        action: 'key.usage.flush',
        result: 'ok',
        details: {
          versions: [{ versionId: 'v-1', uses: 1, operations: { sign: 1 } }],
          gatewayKeys: [{ fingerprint: 'ab'.repeat(32), uses: 3, operations: { 'cse-encrypt': 3 } }],
        },
      },
    ]);
    tick();
    expect(audit).toHaveLength(1);
    // A second process (or a restart) adds to the file rather than replacing it.
    const other = open();
    other.record({ versionId: 'v-1' }, 'sign', 2);
    other.close();
    expect(open().entryOf({ versionId: 'v-1' })!.total).toBe(3);
  });

  it('a write that fails keeps the counts for the next flush', () => {
    writeFileSync(join(dir, 'not-a-folder'), '');
    const usage = open(join(dir, 'not-a-folder'));
    usage.record({ gatewayKey: 'cd'.repeat(32) }, 'cse-encrypt', 2);
    expect(() => usage.flush()).toThrow();
    expect(usage.entryOf({ gatewayKey: 'cd'.repeat(32) })!.total).toBe(2);
    expect(audit).toEqual([]);
  });

  it('a counts lock held by a live process: bounded tries, then USAGE_COUNTS_BUSY with the counts kept', () => {
    // The parent of this test process is alive and is not this process.
    writeFileSync(join(dir, USAGE_LOCK), `${process.ppid}\n`);
    const usage = open();
    usage.record({ versionId: 'v-1' }, 'encrypt', 4);
    expect(() => usage.flush()).toThrow(expect.objectContaining({ code: 'USAGE_COUNTS_BUSY' }));
    expect(waits).toHaveLength(USAGE_LOCK_TRIES - 1);
    expect(usage.entryOf({ versionId: 'v-1' })!.total).toBe(4);
    expect(existsSync(join(dir, USAGE_FILE))).toBe(false);
    expect(audit).toEqual([]);
    // The holder is done: the next flush writes what waited.
    rmSync(join(dir, USAGE_LOCK));
    usage.record({ versionId: 'v-1' }, 'encrypt', 1);
    usage.flush();
    expect(open().entryOf({ versionId: 'v-1' })!.total).toBe(5);
    expect(existsSync(join(dir, USAGE_LOCK))).toBe(false);
  });

  it('a counts lock left by a process that is gone is taken over at once', () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(join(dir, USAGE_LOCK), `${dead}\n`);
    const usage = open();
    usage.record({ versionId: 'v-1' }, 'mac', 2);
    usage.flush();
    expect(waits).toEqual([]);
    expect(open().entryOf({ versionId: 'v-1' })!.total).toBe(2);
    expect(existsSync(join(dir, USAGE_LOCK))).toBe(false);
  });

  it('a damaged counts file is STORE_CORRUPT, never zero uses', () => {
    writeFileSync(join(dir, USAGE_FILE), '{"format":"mkm-key-usage","schemaVersion":1,"versions":{"x":{}}}');
    expect(() => open().entryOf({ versionId: 'x' })).toThrow(
      expect.objectContaining({ code: 'STORE_CORRUPT' }),
    );
  });
});

describe('seals counted as uses of the audit key', () => {
  let dir: string;
  const key = { id: 'A1B2', kcv: 'C3D4E5' };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mkm-usage-seals-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const sealer = {
    ready: async () => {},
    current: () => key,
    mac: async () => Buffer.alloc(32, 7),
    verify: async (_k: unknown, _m: Buffer, mac: Buffer) => mac.equals(Buffer.alloc(32, 7)),
  };

  it('a state seal counts once per seal, under the key id and KCV; seal counts alone make no audit entry', async () => {
    const audit: AuditAppend[] = [];
    const usage = new KeyUsageService({ inventoryDir: dir, audit: (e) => audit.push(e), flushMs: 0 });
    const seals = new StateSeals();
    seals.use({ ...sealer, countSeal: sealCounter(usage) });
    const file = join(dir, 'pinned.json');
    for (const n of [1, 2]) {
      writeFileSync(file, `{"n":${n}}`);
      seals.written(file);
      await seals.settled();
    }
    expect(existsSync(`${file}.seal`)).toBe(true);
    usage.flush();
    expect(usage.auditKeys()).toEqual(['a1b2:c3d4e5']);
    expect(
      new KeyUsageService({ inventoryDir: dir, audit: () => {}, flushMs: 0 }).entryOf({
        auditKey: auditKeyName(key),
      }),
    ).toMatchObject({ total: 2, operations: { 'state-seal': 2 }, lastOperation: 'state-seal' });
    expect(audit).toEqual([]);
  });

  it('a count that fails never stops the seal', async () => {
    const usage = new KeyUsageService({ inventoryDir: dir, audit: () => {}, flushMs: 0 });
    vi.spyOn(usage, 'record').mockImplementation(() => {
      throw new Error('counting broke');
    });
    const seals = new StateSeals();
    seals.use({ ...sealer, countSeal: sealCounter(usage) });
    const file = join(dir, 'pinned.json');
    writeFileSync(file, '{}');
    seals.written(file);
    await seals.settled();
    expect(JSON.parse(readFileSync(`${file}.seal`, 'utf8'))).toMatchObject({ key, mac: '07'.repeat(32) });
  });
});
