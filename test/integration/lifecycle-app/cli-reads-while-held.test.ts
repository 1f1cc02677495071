import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../../electron/core/app.nodejs';
import type { TokensService } from '../../../electron/hsm/tokens.nodejs';
import { INVENTORY_FILE, INVENTORY_LOCK } from '../../../electron/lifecycle/inventory.nodejs';
import { KeyLifecycleService } from '../../../electron/lifecycle/lifecycle.nodejs';
import { MkmError } from '../../../shared/errors.std';
import type { LifecycleKeyView } from '../../../shared/contract.std';
import type { LifecycleDueReport } from '../../../shared/contract/lifecycle.std';
import { mkmOn } from '../../helpers/mkm-cli';
import { createSoftHsmToken, softHsmAvailable, type SoftHsmToken } from '../../helpers/softhsm';
import { openTokens } from '../lifecycle/setup';
import { openApp } from '../../helpers/app';

/**
 * The managed-key reads of the real `mkm` (issue 15 point 7) while another process holds the key
 * inventory's lock: they answer from the file as last written (no lock, no write, no recovery)
 * and show what the holder shows; a write is still KEYS_BUSY naming the holder; a damaged file is
 * the writer's STORE_CORRUPT.
 */

/**
 * Every file of the inventory folder with its content: a read must leave it as it was. The key-use
 * counts beside it are another store: the CLI's own audit seals are counted there (issue 12).
 */
const snapshot = (dir: string) =>
  Object.fromEntries(
    readdirSync(dir)
      .filter((n) => !n.startsWith('key-usage.'))
      .map((n) => [n, readFileSync(join(dir, n), 'utf8')]),
  );

async function dispatch<T>(app: App, channel: string, args?: unknown): Promise<T> {
  const r = await app.registry.dispatch(channel as never, args as never, { transport: 'cli' });
  if (!r.ok) throw new Error(`${channel}: ${r.error.code} ${r.error.message}`);
  return r.result as T;
}

describe.runIf(softHsmAvailable())('mkm managed-key reads while the app is open', () => {
  let token: SoftHsmToken;
  let dataDir: string;
  let app: App;
  let keysDir: string;
  const mkm = mkmOn(() => ({ dataDir, token }));

  beforeAll(async () => {
    token = createSoftHsmToken({ label: 'reads-app-open' });
    dataDir = mkdtempSync(join(tmpdir(), 'mkm-reads-app-open-'));
    app = openApp(dataDir, token.modulePath);
    await app.audit.ready();
    await dispatch(app, 'tokens.login', { slotId: token.slotId, pin: token.userPin });
    // Two managed keys, one rotated, one due for rotation at once (warned 60 days before 30).
    await dispatch(app, 'lifecycle.create', { name: 'payments-data', purpose: 'data' });
    await dispatch(app, 'lifecycle.rotate', { ref: 'payments-data' });
    await dispatch(app, 'lifecycle.create', {
      name: 'short-lived',
      purpose: 'kek',
      policy: { cryptoPeriodDays: 30, warnDays: 60 },
    });
    keysDir = join(app.paths.root, 'keys');
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    token?.cleanup();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('the app holds the inventory lock', () => {
    expect(readFileSync(join(keysDir, INVENTORY_LOCK), 'utf8')).toBe(
      `${process.pid}\nthe Merchant Key Manager app (browser mode)\n`,
    );
  });

  it('lifecycle list, keys list --state and lifecycle due show what the app shows, writing nothing', async () => {
    const before = snapshot(keysDir);
    const list = await mkm(['--json', 'lifecycle', 'list']);
    expect(list.code, list.stderr).toBe(0);
    const keys = JSON.parse(list.stdout) as LifecycleKeyView[];
    expect(keys.map((k) => k.name)).toEqual(['payments-data', 'short-lived']);
    expect(keys[0]!.versions.map((v) => v.version)).toEqual([2, 1]);
    expect(keys).toEqual(await dispatch(app, 'lifecycle.list', {}));

    const active = await mkm(['--json', 'keys', 'list', '--state', 'active']);
    expect(active.code, active.stderr).toBe(0);
    expect(JSON.parse(active.stdout)).toEqual(await dispatch(app, 'lifecycle.list', { state: 'active' }));
    const text = await mkm(['keys', 'list', '--state', 'active']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^payments-data {2}\(data, AES-256\)/m);

    const due = await mkm(['--json', 'lifecycle', 'due']);
    expect(due.code, due.stderr).toBe(0);
    const report = JSON.parse(due.stdout) as LifecycleDueReport;
    expect(report.due.map((d) => [d.name, d.level])).toEqual([['short-lived', 'warning']]);
    expect(report.rotationsInFlight).toEqual([]);
    expect(report).toEqual(await dispatch(app, 'lifecycle.due'));
    const dueText = await mkm(['keys', 'due']);
    expect(dueText.code, dueText.stderr).toBe(0);
    expect(dueText.stdout).toMatch(/^warning +short-lived \(kek\)/m);

    // No lock taken, no migration, no last-good refresh: the folder is byte for byte as it was.
    expect(snapshot(keysDir)).toEqual(before);
  });

  it('a write (mkm rotate) is refused naming the app and its pid, and changes nothing', async () => {
    const before = snapshot(keysDir);
    const rotate = await mkm(['rotate', 'payments-data'], token.userPin);
    expect(rotate.code).toBe(1);
    // The app holds the audit log too, and the audit gate comes first (KEYS_BUSY: see below).
    expect(rotate.stderr).toContain(
      `the Merchant Key Manager app (browser mode) (pid ${process.pid}) holds open`,
    );
    expect(rotate.stderr).toMatch(/\[AUDIT_BUSY\]\n$/);
    expect(snapshot(keysDir)).toEqual(before);
    expect(await dispatch<LifecycleKeyView[]>(app, 'lifecycle.list', {})).toHaveLength(2);
  });
});

describe.runIf(softHsmAvailable())('mkm managed-key reads while another process holds the keys', () => {
  let token: SoftHsmToken;
  let dataDir: string;
  let keysDir: string;
  let tokens: TokensService;
  let holder: KeyLifecycleService | null = null;
  const mkm = mkmOn(() => ({ dataDir, token }));

  beforeAll(async () => {
    token = createSoftHsmToken({ label: 'reads-held' });
    dataDir = mkdtempSync(join(tmpdir(), 'mkm-reads-held-'));
    keysDir = join(dataDir, 'keys');
    tokens = await openTokens({
      dataDir,
      modulePath: token.modulePath,
      slotId: token.slotId,
      pin: token.userPin,
    });
  }, 60_000);
  afterAll(async () => {
    await holder?.close();
    await tokens?.close();
    token?.cleanup();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('reports a rotation in flight as it is, and neither finishes nor undoes it', async () => {
    let stopAt: string | null = null;
    holder = KeyLifecycleService.open({
      dir: keysDir,
      tokens,
      audit: () => {},
      usageFlushMs: 0,
      faults: (point) => {
        if (point === stopAt) throw new MkmError('CANCELLED', `stopped at ${point}`);
      },
    });
    const { logicalKey } = await holder.createKey({
      name: 'in-flight',
      purpose: 'data',
      tokenSerial: token.serial,
    });
    stopAt = 'generated';
    await expect(holder.rotateNow(logicalKey.id)).rejects.toMatchObject({ code: 'CANCELLED' });
    stopAt = null;
    const [rotation] = holder.list().rotations;
    expect(rotation).toMatchObject({ step: 'generated' });
    const before = snapshot(keysDir);

    const list = await mkm(['--json', 'lifecycle', 'list']);
    expect(list.code, list.stderr).toBe(0);
    const [key] = JSON.parse(list.stdout) as LifecycleKeyView[];
    expect(key).toMatchObject({ name: 'in-flight', rotating: true });
    expect(key!.versions.map((v) => [v.version, v.state])).toEqual([
      [2, 'pre-activation'],
      [1, 'active'],
    ]);
    const due = await mkm(['--json', 'lifecycle', 'due']);
    expect(due.code, due.stderr).toBe(0);
    expect((JSON.parse(due.stdout) as LifecycleDueReport).rotationsInFlight).toEqual([
      {
        logicalKeyId: logicalKey.id,
        name: 'in-flight',
        rotationId: rotation!.id,
        step: 'generated',
        startedAt: rotation!.startedAt,
      },
    ]);
    const dueText = await mkm(['keys', 'due']);
    expect(dueText.stdout).toContain(
      `rotating in-flight  ${logicalKey.id}: rotation in flight (step generated`,
    );

    const rotate = await mkm(['rotate', 'in-flight'], token.userPin);
    expect(rotate.code).toBe(1);
    expect(rotate.stderr).toContain(`(pid ${process.pid}) manages these keys`);
    expect(rotate.stderr).toMatch(/\[KEYS_BUSY\]\n$/);
    // The journal is as the holder left it: nobody else recovered it.
    expect(snapshot(keysDir)).toEqual(before);
    expect(holder.list().rotations).toEqual([rotation]);
  });

  it('a tampered inventory file gives the same STORE_CORRUPT as for the writer, never an empty list', async () => {
    const file = join(keysDir, INVENTORY_FILE);
    const parsed = JSON.parse(readFileSync(file, 'utf8'));
    parsed.data.logicalKeys[0].name = 'renamed by hand';
    writeFileSync(file, JSON.stringify(parsed));

    const whileHeld = await mkm(['lifecycle', 'list']);
    expect(whileHeld.code).toBe(1);
    expect(whileHeld.stderr).toMatch(/\[STORE_CORRUPT\]\n$/);
    expect(whileHeld.stdout).toBe('');

    // The holder goes: the same command now opens the inventory as its writer.
    await holder!.close();
    holder = null;
    const asWriter = await mkm(['lifecycle', 'list']);
    expect(asWriter.code).toBe(1);
    expect(asWriter.stderr).toMatch(/\[STORE_CORRUPT\]\n$/);
    expect(whileHeld.stderr).toBe(asWriter.stderr);
  });
});
