import { StateSeals } from '../../../electron/audit/state-seal.nodejs';
import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { LOG_FILE, STATE_FILE } from '../../../electron/audit/record.nodejs';
import { createApp, type App } from '../../../electron/core/app.nodejs';
import { silentLogger } from '../../../electron/core/logger.nodejs';
import { STORE_NAME } from '../../../electron/core/store.nodejs';
import { GatewayStateStore } from '../../../electron/gateway/client/state.nodejs';
import { INVENTORY_FILE, InventoryStore } from '../../../electron/lifecycle/inventory.nodejs';
import type { BatchSummary } from '../../../shared/contract/console.std';
import type { Envelope } from '../../../shared/contract-kit.std';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';

/**
 * Full disks and bad files (issue 14, point 4): every store × every fault, generated. Each
 * store lives in a folder that is a small tmpfs of its own, so the faults are real for root too:
 * the tmpfs filled to ENOSPC, remounted read-only (EROFS), or the store's file replaced by a
 * directory of the same name. After each: a typed error with the store's code, the previous file
 * byte-identical and parsing, no file left behind, and the next write succeeds once the fault is
 * gone. Prints `disk fault cases survived X/Y, files torn N`.
 */

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' });

function mountable(): boolean {
  const probe = mkdtempSync(join(tmpdir(), 'mkm-disk-probe-'));
  try {
    sh('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]);
    sh('umount', [probe]);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}
const canMount = mountable();
if (!canMount) console.log('disk faults skipped: mounting a tmpfs is not permitted here');

interface Case {
  /** The data folder (createApp's dataDir, or the service's folder). */
  root: string;
  /** The folder the store writes in: a tmpfs mount point. */
  folder: string;
  /** The store's file, whose previous content must survive. */
  file: string;
  write(): Promise<unknown>;
  close(): Promise<void>;
}

interface Store {
  name: string;
  /** Codes that say what happened for this store (never VALIDATION or INTERNAL). */
  codes: string[];
  /** Which of the folder's files the "replaced by a directory" fault takes. */
  replaced?: string;
  /** An append-only store keeps its previous content as a prefix rather than whole. */
  appendOnly?: boolean;
  /** Creates the store with a first good write; `mount` makes its folder a tmpfs. */
  open(mount: (folder: string) => void): Promise<Case>;
}

const appOver = (root: string): App =>
  createApp({ mode: 'browser', dataDir: root, isTrustedSender: () => true, logger: silentLogger });

async function dispatch(app: App, channel: string, request?: unknown): Promise<unknown> {
  const envelope: Envelope = await app.registry.dispatch(channel, request, { transport: 'cli' });
  if (!envelope.ok) throw Object.assign(new Error(envelope.error.message), { code: envelope.error.code });
  return envelope.result;
}

let idle = 5;
const nextIdle = () => (idle = (idle % 200) + 1);

const STORES: Store[] = [
  {
    name: 'audit log',
    codes: ['AUDIT_UNAVAILABLE'],
    replaced: STATE_FILE,
    appendOnly: true,
    async open(mount) {
      const root = mkdtempSync(join(tmpdir(), 'mkm-disk-audit-'));
      mount(join(root, 'audit'));
      const app = appOver(root);
      await dispatch(app, 'settings.update', { idleLogoutMinutes: nextIdle() });
      return {
        root,
        folder: join(root, 'audit'),
        file: join(root, 'audit', LOG_FILE),
        write: () => dispatch(app, 'settings.update', { idleLogoutMinutes: nextIdle() }),
        close: () => app.close(),
      };
    },
  },
  {
    name: 'settings',
    codes: ['IO_ERROR'],
    async open(mount) {
      const root = mkdtempSync(join(tmpdir(), 'mkm-disk-settings-'));
      mount(root);
      // The audit trail on a disk of its own: the fault is the settings file's alone.
      mkdirSync(join(root, 'audit'));
      const auditDisk = mkdtempSync(join(tmpdir(), 'mkm-disk-settings-audit-'));
      sh('mount', ['--bind', auditDisk, join(root, 'audit')]);
      const app = appOver(root);
      await dispatch(app, 'settings.update', { idleLogoutMinutes: nextIdle() });
      return {
        root,
        folder: root,
        file: join(root, `${STORE_NAME}.json`),
        write: () => dispatch(app, 'settings.update', { idleLogoutMinutes: nextIdle() }),
        async close() {
          await app.close();
          sh('umount', [join(root, 'audit')]);
          rmSync(auditDisk, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'console history',
    codes: ['IO_ERROR'],
    async open(mount) {
      const root = mkdtempSync(join(tmpdir(), 'mkm-disk-history-'));
      mount(join(root, 'console'));
      const app = appOver(root);
      await dispatch(app, 'console.historyPersistence', { persist: true });
      return {
        root,
        folder: join(root, 'console'),
        file: join(root, 'console', 'history.json'),
        write: () => dispatch(app, 'console.historyPersistence', { persist: true }),
        close: () => app.close(),
      };
    },
  },
  {
    name: 'inventory',
    codes: ['IO_ERROR'],
    open(mount) {
      const root = mkdtempSync(join(tmpdir(), 'mkm-disk-inventory-'));
      const folder = join(root, 'keys');
      mount(folder);
      let t = Date.parse('2026-02-01T00:00:00.000Z');
      // Each write stamps a new writtenAt: a write that went through would change the file.
      const store = InventoryStore.open({ dir: folder, clock: () => new Date((t += 1000)) });
      store.mutate(() => {});
      return Promise.resolve({
        root,
        folder,
        file: join(folder, INVENTORY_FILE),
        write: () => Promise.resolve().then(() => store.mutate(() => {})),
        close: () => Promise.resolve(store.close()),
      });
    },
  },
  {
    name: 'gateway state',
    codes: ['IO_ERROR'],
    open(mount) {
      const root = mkdtempSync(join(tmpdir(), 'mkm-disk-gateway-'));
      const folder = join(root, 'gateway');
      mount(folder);
      const store = new GatewayStateStore(folder, 'p1', new StateSeals());
      let n = 0;
      const write = () =>
        Promise.resolve().then(() => store.update((d) => void d.usedSetIds.push(`set-${++n}`)));
      store.update((d) => void d.usedSetIds.push(`set-${++n}`));
      return Promise.resolve({ root, folder, file: store.file, write, close: () => Promise.resolve() });
    },
  },
  {
    name: 'batch output',
    codes: ['IO_ERROR'],
    async open(mount) {
      const root = mkdtempSync(join(tmpdir(), 'mkm-disk-batch-'));
      const folder = join(root, 'out');
      mount(folder);
      const token = (hsm ??= createSoftHsmToken({ label: 'disk-faults' }));
      const app = createApp({
        mode: 'cli',
        dataDir: join(root, 'data'),
        moduleOverride: token.modulePath,
        isTrustedSender: () => true,
        logger: silentLogger,
      });
      await dispatch(app, 'tokens.login', { slotId: token.slotId, pin: token.userPin });
      aesKeyId ??= (
        await app.tokens.call('importKey', {
          slotId: token.slotId,
          type: 'aes-256',
          label: 'disk-faults-aes',
          purpose: 'data',
          keyHex: '603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4',
        })
      ).id;
      const input = join(root, 'cards.csv');
      // An output that fits the folder, and outgrows what a full one still takes.
      const lines = ['id,card_number,exp,cvv'];
      for (let i = 0; i < 60; i++) lines.push(`${i},4111111111111111,12/30,123`);
      writeFileSync(input, lines.join('\n') + '\n');
      const file = join(folder, 'out.csv');
      const write = async () => {
        const summary = (await dispatch(app, 'console.batchStart', {
          inPath: input,
          outPath: file,
          scheme: 'aes',
          keyId: aesKeyId,
          slotId: token.slotId,
          overwrite: true,
        })) as BatchSummary;
        if (summary.status !== 'done') throw summary.error ?? { code: summary.status };
        return summary;
      };
      await write();
      return { root, folder, file, write, close: () => app.close() };
    },
  },
];

let hsm: SoftHsmToken | undefined;
let aesKeyId: string | undefined;
afterAll(() => hsm?.cleanup());

interface Fault {
  name: string;
  apply(c: Case, store: Store): void;
  remove(c: Case, store: Store): void;
}

const FILLER = '.filler';
const readOnly = new Map<string, 'ro' | 'immutable'>();
const ASIDE = '.aside';

const FAULTS: Fault[] = [
  {
    name: 'no space left',
    apply(c) {
      const chunk = Buffer.alloc(4096, 1);
      try {
        for (;;) appendFileSync(join(c.folder, FILLER), chunk);
      } catch (error) {
        expect((error as { code?: string }).code).toBe('ENOSPC');
      }
    },
    remove: (c) => rmSync(join(c.folder, FILLER), { force: true }),
  },
  {
    name: 'read-only folder',
    // A read-only remount; where a file is open for writing (the audit log) the kernel refuses
    // that (EBUSY), and the folder is made immutable instead: no entry can be made or renamed.
    apply(c) {
      try {
        sh('mount', ['-o', 'remount,ro', c.folder]);
        readOnly.set(c.folder, 'ro');
      } catch {
        sh('chattr', ['+i', c.folder]);
        readOnly.set(c.folder, 'immutable');
      }
    },
    remove(c) {
      if (readOnly.get(c.folder) === 'ro') sh('mount', ['-o', 'remount,rw', c.folder]);
      else sh('chattr', ['-i', c.folder]);
      readOnly.delete(c.folder);
    },
  },
  {
    name: 'file replaced by a directory',
    apply(c, store) {
      const target = store.replaced ? join(c.folder, store.replaced) : c.file;
      renameSync(target, join(c.folder, ASIDE));
      mkdirSync(target);
      writeFileSync(join(target, 'keep'), 'x');
    },
    remove(c, store) {
      const target = store.replaced ? join(c.folder, store.replaced) : c.file;
      rmSync(target, { recursive: true });
      renameSync(join(c.folder, ASIDE), target);
    },
  },
];

const results: { name: string; survived: boolean; torn: number }[] = [];

function parses(file: string): boolean {
  const text = readFileSync(file, 'utf8');
  try {
    if (file.endsWith('.json')) JSON.parse(text);
    // A CSV whose rows do not all have the header's columns (a torn last row) does not parse.
    else if (file.endsWith('.csv')) parseCsv(text, { columns: true });
    else for (const line of text.split('\n')) if (line.trim()) JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

const listing = (folder: string) =>
  readdirSync(folder)
    .filter((n) => n !== FILLER && n !== ASIDE)
    .sort();

describe.skipIf(!canMount)('disk faults: every store × every fault', () => {
  afterAll(() => {
    const survived = results.filter((r) => r.survived).length;
    const torn = results.reduce((n, r) => n + r.torn, 0);
    console.log(`\ndisk fault cases survived ${survived}/${results.length}, files torn ${torn}`);
    const tally = process.env.MKM_FAULT_TALLY;
    if (tally) for (const r of results) appendFileSync(tally, JSON.stringify({ area: 'disk', ...r }) + '\n');
  });

  for (const store of STORES) {
    for (const fault of FAULTS) {
      it(`${store.name}: ${fault.name}`, async () => {
        const mounts: string[] = [];
        const mount = (folder: string) => {
          mkdirSync(folder, { recursive: true });
          sh('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', folder]);
          mounts.push(folder);
        };
        const result = { name: `${store.name}: ${fault.name}`, survived: false, torn: 0 };
        results.push(result);
        const c = await store.open(mount);
        let faulted = false;
        try {
          const before = readFileSync(c.file);
          expect(parses(c.file)).toBe(true);
          const files = listing(c.folder);

          fault.apply(c, store);
          faulted = true;
          const error = await c.write().then(
            () => null,
            (e: unknown) => e as { code?: string },
          );
          expect(error, 'the write went through despite the fault').not.toBeNull();
          expect(store.codes).toContain(error!.code);
          // Nothing new in the folder (no temp file, no partial copy).
          if (fault.name !== 'file replaced by a directory') expect(listing(c.folder)).toEqual(files);
          fault.remove(c, store);
          faulted = false;

          const after = readFileSync(c.file);
          if (!parses(c.file)) result.torn++;
          if (store.appendOnly) expect(after.subarray(0, before.length).equals(before)).toBe(true);
          else expect(after.equals(before), 'the previous file changed').toBe(true);
          expect(listing(c.folder)).toEqual(files);

          const inode = statSync(c.file).ino;
          await c.write();
          expect(parses(c.file)).toBe(true);
          // Rewritten (a new file renamed in) or appended to: the write reached the disk.
          expect(statSync(c.file).ino !== inode || !readFileSync(c.file).equals(before)).toBe(true);
          result.survived = result.torn === 0;
        } finally {
          if (faulted) fault.remove(c, store);
          await c.close();
          for (const m of mounts.reverse()) sh('umount', [m]);
          rmSync(c.root, { recursive: true, force: true });
        }
      });
    }
  }
});
