import { describeHolder, oneLine, processRole } from '../core/process-role.nodejs';
import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { MkmError } from '../../shared/errors.std';
import { AUDIT_KEY_LABEL } from '../audit/app-audit.nodejs';
import { silentLogger, type Logger } from '../core/logger.nodejs';
import type { ObjectInfo } from '../../shared/tokens.std';
import {
  EMPTY_INVENTORY,
  InventoryDataSchema,
  inventoryProblem,
  type InventoryData,
  type KeyVersion,
  type LogicalKey,
} from './model.std';

/**
 * The key inventory: one JSON file per data folder, `keys/key-inventory.json`, separate from the
 * settings store. Why not `conf`: every lifecycle step must be on disk before the next one
 * starts (the rotation journal lives in this file), and conf neither fsyncs nor renames
 * atomically. So:
 *
 *   key-inventory.json            { format, schemaVersion, writtenAt, digest, data }
 *   key-inventory.last-good.json  the last content this code wrote and validated
 *   key-inventory.lock            pid of the one process allowed to write
 *
 * Every write: validate (zod schema + cross-record invariants) → write a temp file → fsync →
 * rename over the file → fsync the folder; then the same for the last-good copy. A crash
 * leaves either the old or the new file, never a torn one.
 *
 * `digest` is SHA-256 over the serialized `data`. It is not a security control (anyone who can
 * edit the file can recompute it); it makes a hand edit or a damaged copy fail loudly. A file
 * that does not parse, fails the schema, breaks an invariant or does not match its digest
 * opens with STORE_CORRUPT, never with a silent reset; `restoreLastGood` moves it aside and
 * brings back the last good copy, after which `reconcile` against the token tells what the
 * older copy does not know.
 *
 * Older schema versions are migrated step by step on open (the old file is kept as
 * key-inventory.v<N>.json); a newer schema than this code knows is refused.
 */
export const INVENTORY_FORMAT = 'mkm-key-inventory';
export const INVENTORY_SCHEMA_VERSION = 3;
export const INVENTORY_FILE = 'key-inventory.json';
export const INVENTORY_LAST_GOOD = 'key-inventory.last-good.json';
export const INVENTORY_LOCK = 'key-inventory.lock';

type Json = Record<string, unknown>;

/**
 * Migrations: MIGRATIONS[n] turns schema n's `data` into schema n+1's.
 * v1 (0.1.x): no rotation journal, no history, no gateway status, no pending-destroy flag.
 * v2: the gateway status has no retirement (`retirePending`, `retired`). The data is unchanged;
 * the bump makes an older build refuse a file that may hold those values ("newer schema")
 * instead of failing on them as damage.
 */
export const MIGRATIONS: Record<number, (data: Json) => Json> = {
  1: (data) => {
    const versions = Array.isArray(data.versions) ? (data.versions as Json[]) : [];
    return {
      logicalKeys: data.logicalKeys ?? [],
      versions: versions.map((v) => ({
        ...v,
        gateway: {
          status: v.purpose === 'gateway-transport' ? 'pending' : 'not-required',
          reference: null,
          updatedAt: null,
          error: null,
        },
        destroyPending: false,
      })),
      rotations: [],
      history: [],
    };
  },
  2: (data) => data,
};

export interface InventoryStoreOptions {
  /** The folder for the inventory files (DataPaths.keys); created 0700. */
  dir: string;
  logger?: Logger;
  clock?: () => Date;
  /** Test hook: called at named points of a write (crash tests kill the process there). */
  faults?: (point: string) => void;
  /**
   * 'throw' (default): a damaged file opens with STORE_CORRUPT and the caller decides.
   * 'restore': the damaged file is moved aside and the last good copy restored (reported in
   * openReport.restored; tell the admin). Without a good copy it still throws.
   */
  onCorrupt?: 'throw' | 'restore';
}

export interface InventoryOpenReport {
  created: boolean;
  migratedFrom: number | null;
  /** Temp files of a write that a crash interrupted, removed at open. */
  removedTemp: number;
  /** Set when onCorrupt 'restore' replaced a damaged file; `reason` says what was wrong. */
  restored?: RestoreReport & { reason: string };
}

export interface RestoreReport {
  restoredFrom: string;
  movedAside: string | null;
}

export interface UnmanagedObject {
  ckaId: string;
  classes: ObjectInfo['class'][];
  label: string;
  keyType: string | null;
  bits: number | null;
}

/**
 * Keys mkm makes for itself: the audit log's sealing key and the gateway key sets' session
 * objects (and any session object: it dies with its session, so there is nothing to manage).
 */
export type SystemKeyKind = 'audit' | 'gateway-key-set' | 'session';

/** The label prefix GatewayClient gives the session objects of a key set (see installKeySet). */
export const GATEWAY_KEY_SET_LABEL_PREFIX = 'mkm gateway set ';

export function systemKeyKind(o: Pick<ObjectInfo, 'label' | 'token'>): SystemKeyKind | null {
  if (o.label === AUDIT_KEY_LABEL) return 'audit';
  if (!o.token) return o.label.startsWith(GATEWAY_KEY_SET_LABEL_PREFIX) ? 'gateway-key-set' : 'session';
  return null;
}

export interface SystemObject {
  ckaId: string;
  classes: ObjectInfo['class'][];
  label: string;
  kind: SystemKeyKind;
}

export interface ReconcileReport {
  tokenSerial: string;
  /** Versions whose token object is gone (newly or still). */
  missing: { versionId: string; logicalKeyId: string; ckaId: string; since: string }[];
  /** Versions that were missing and are back. */
  found: string[];
  /** Key objects on the token that no record names: adopt() them or leave them alone. */
  unmanaged: UnmanagedObject[];
  /** mkm's own keys (audit sealing key, gateway key sets): known, shown, never adoptable. */
  system: SystemObject[];
  /** Objects a rotation in flight created but has not recorded yet (resume() takes them). */
  pendingRotation: { rotationId: string; ckaId: string; label: string }[];
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function corrupt(file: string, reason: string, lastGood: boolean): MkmError {
  return new MkmError(
    'STORE_CORRUPT',
    `The key inventory file is damaged (${reason}). ${
      lastGood
        ? 'It can be restored from the last good copy.'
        : 'There is no good copy to restore; reconcile with the token after moving it aside.'
    }`,
    { file, reason, lastGoodAvailable: lastGood },
  );
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some platforms (Windows) cannot open a folder; the rename is still atomic there.
  }
}

/** Whether a process of that id runs (EPERM: it runs, as another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why a file is not a good inventory, in words for the admin and the log. */
class Damage extends Error {}

interface Parsed {
  data: InventoryData;
  schemaVersion: number;
}

/** Reads, migrates and checks one inventory file; throws Damage on any problem. */
function parseFile(text: string): Parsed {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Damage('not JSON');
  }
  if (typeof raw !== 'object' || raw === null) throw new Damage('not an object');
  const file = raw as Json;
  if (file.format !== INVENTORY_FORMAT) throw new Damage('not a key inventory');
  const schemaVersion = file.schemaVersion;
  if (typeof schemaVersion !== 'number' || !Number.isInteger(schemaVersion) || schemaVersion < 1)
    throw new Damage('no schema version');
  if (schemaVersion > INVENTORY_SCHEMA_VERSION) throw new Damage(`newer schema ${schemaVersion}`);
  if (typeof file.data !== 'object' || file.data === null) throw new Damage('no data');
  if (file.digest !== sha256(JSON.stringify(file.data)))
    throw new Damage('digest mismatch: edited outside the app');
  let data = file.data as Json;
  for (let v = schemaVersion; v < INVENTORY_SCHEMA_VERSION; v++) {
    const step = MIGRATIONS[v];
    if (!step) throw new Damage(`no migration from schema ${v}`);
    try {
      data = step(data);
    } catch {
      throw new Damage(`the migration from schema ${v} failed`);
    }
  }
  const result = InventoryDataSchema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Damage(`schema: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}`);
  }
  const problem = inventoryProblem(result.data);
  if (problem) throw new Damage(`inconsistent: ${problem}`);
  return { data: result.data, schemaVersion };
}

/** What the key lifecycle needs of an inventory: the writer (InventoryStore) or a reader. */
export interface InventoryAccess {
  readonly dir: string;
  /** True for a ReadOnlyInventory: every change is refused. */
  readonly readOnly: boolean;
  read(): InventoryData;
  peek(): Readonly<InventoryData>;
  mutate<T>(fn: (draft: InventoryData) => T): T;
  reconcile(tokenSerial: string, objects: ObjectInfo[]): ReconcileReport;
  close(): void;
}

export class InventoryStore implements InventoryAccess {
  readonly dir: string;
  readonly file: string;
  readonly openReport: InventoryOpenReport;
  readonly readOnly = false;
  private data: InventoryData;
  private readonly logger: Logger;
  private readonly clock: () => Date;
  private readonly faults: (point: string) => void;
  private closed = false;

  private constructor(options: InventoryStoreOptions, data: InventoryData, report: InventoryOpenReport) {
    this.dir = options.dir;
    this.file = join(options.dir, INVENTORY_FILE);
    this.data = data;
    this.openReport = report;
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? (() => new Date());
    this.faults = options.faults ?? (() => {});
  }

  /**
   * Opens (or creates) the inventory and takes the writer lock. Throws STORE_CORRUPT for a
   * damaged file (see restoreLastGood) and CONFLICT while another live process holds the lock.
   */
  static open(options: InventoryStoreOptions): InventoryStore {
    try {
      return InventoryStore.openOnce(options);
    } catch (error) {
      if (
        options.onCorrupt !== 'restore' ||
        !(error instanceof MkmError) ||
        error.code !== 'STORE_CORRUPT' ||
        error.details?.lastGoodAvailable !== true
      ) {
        throw error;
      }
      const restored = InventoryStore.restoreLastGood(options.dir, options.logger, options.clock);
      const store = InventoryStore.openOnce(options);
      store.openReport.restored = { ...restored, reason: String(error.details.reason) };
      return store;
    }
  }

  private static openOnce(options: InventoryStoreOptions): InventoryStore {
    const { dir } = options;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    takeLock(dir);
    try {
      const file = join(dir, INVENTORY_FILE);
      const lastGood = join(dir, INVENTORY_LAST_GOOD);
      let removedTemp = 0;
      for (const name of readdirSync(dir)) {
        if (name.startsWith(`${INVENTORY_FILE}.tmp-`) || name.startsWith(`${INVENTORY_LAST_GOOD}.tmp-`)) {
          rmSync(join(dir, name), { force: true });
          removedTemp++;
        }
      }
      if (!existsSync(file)) {
        if (existsSync(lastGood)) {
          // The file is gone but a good copy is not: that is damage, not a first start.
          throw corrupt(file, 'the inventory file is missing', true);
        }
        const store = new InventoryStore(options, structuredClone(EMPTY_INVENTORY), {
          created: true,
          migratedFrom: null,
          removedTemp,
        });
        store.write(store.data);
        return store;
      }
      let parsed: Parsed;
      try {
        parsed = parseFile(readFileSync(file, 'utf8'));
      } catch (reason) {
        const report = reason instanceof Damage ? reason.message : 'unreadable';
        (options.logger ?? silentLogger).error('the key inventory could not be read', {
          file,
          reason: report,
        });
        throw corrupt(file, report, goodCopy(lastGood));
      }
      const store = new InventoryStore(options, parsed.data, {
        created: false,
        migratedFrom: parsed.schemaVersion < INVENTORY_SCHEMA_VERSION ? parsed.schemaVersion : null,
        removedTemp,
      });
      if (parsed.schemaVersion < INVENTORY_SCHEMA_VERSION) {
        copyFileSync(file, join(dir, `key-inventory.v${parsed.schemaVersion}.json`));
        store.logger.info('key inventory migrated', {
          from: parsed.schemaVersion,
          to: INVENTORY_SCHEMA_VERSION,
        });
      }
      // Rewrites the file in the current schema and refreshes the last good copy.
      store.write(store.data);
      return store;
    } catch (error) {
      releaseLock(dir);
      throw error;
    }
  }

  /**
   * Moves a damaged inventory aside (key-inventory.corrupt-<time>.json) and restores the last
   * good copy. Refuses (STORE_CORRUPT) when there is no good copy. Call open() afterwards.
   */
  static restoreLastGood(
    dir: string,
    logger: Logger = silentLogger,
    clock: () => Date = () => new Date(),
  ): RestoreReport {
    const file = join(dir, INVENTORY_FILE);
    const lastGood = join(dir, INVENTORY_LAST_GOOD);
    if (!goodCopy(lastGood)) throw corrupt(file, 'the last good copy is missing or damaged too', false);
    takeLock(dir);
    try {
      let movedAside: string | null = null;
      if (existsSync(file)) {
        movedAside = join(dir, `key-inventory.corrupt-${clock().toISOString().replace(/[:.]/g, '-')}.json`);
        renameSync(file, movedAside);
      }
      const tmp = `${file}.tmp-${process.pid}`;
      copyFileSync(lastGood, tmp);
      const fd = openSync(tmp, 'r+');
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, file);
      fsyncDir(dir);
      logger.warn('key inventory restored from the last good copy', { movedAside, restoredFrom: lastGood });
      return { restoredFrom: lastGood, movedAside };
    } finally {
      releaseLock(dir);
    }
  }

  /** A deep copy of the current content. */
  read(): InventoryData {
    return structuredClone(this.data);
  }

  /** Direct read-only access for hot paths (encrypt/decrypt lookups). Never mutate it. */
  peek(): Readonly<InventoryData> {
    return this.data;
  }

  /**
   * Applies `fn` to a copy, checks the result and makes it durable before returning; nothing
   * changes in memory if `fn` throws or the result is invalid.
   */
  mutate<T>(fn: (draft: InventoryData) => T): T {
    if (this.closed) throw new MkmError('CONFLICT', 'The key inventory is closed.');
    const draft = structuredClone(this.data);
    const result = fn(draft);
    const checked = InventoryDataSchema.safeParse(draft);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      throw new MkmError('INTERNAL', 'A key inventory change was refused: it does not fit the schema.', {
        issue: issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid',
      });
    }
    const problem = inventoryProblem(checked.data);
    if (problem) throw new MkmError('CONFLICT', `A key inventory change was refused: ${problem}.`);
    this.write(checked.data);
    this.data = checked.data;
    return result;
  }

  /**
   * Compares the records of one token with its objects (listObjects). Missing objects are
   * flagged (missingSince), objects that came back are cleared, and objects nobody manages are
   * listed. Public-only gateway keys and destroyed tombstones are not expected on the token.
   */
  reconcile(tokenSerial: string, objects: ObjectInfo[]): ReconcileReport {
    const now = this.clock().toISOString();
    const keyObjects = objects.filter(
      (o) => o.class === 'secret' || o.class === 'private' || o.class === 'public',
    );
    const present = new Set(keyObjects.map((o) => `${o.id}/${o.class}`));
    const report: ReconcileReport = {
      tokenSerial,
      missing: [],
      found: [],
      unmanaged: [],
      system: [],
      pendingRotation: [],
    };
    this.mutate((draft) => {
      for (const v of draft.versions) {
        if (v.tokenSerial !== tokenSerial || v.ckaId === null || v.state === 'destroyed') continue;
        const whole = v.objectClasses.every((c) => present.has(`${v.ckaId}/${c}`));
        if (!whole) {
          v.missingSince ??= now;
          report.missing.push({
            versionId: v.id,
            logicalKeyId: v.logicalKeyId,
            ckaId: v.ckaId,
            since: v.missingSince,
          });
        } else if (v.missingSince !== null) {
          v.missingSince = null;
          report.found.push(v.id);
        }
      }
    });
    const known = new Set(
      this.data.versions.filter((v) => v.tokenSerial === tokenSerial && v.ckaId !== null).map((v) => v.ckaId),
    );
    const pendingLabels = new Map(this.data.rotations.map((r) => [r.label, r.id]));
    const byId = new Map<string, UnmanagedObject>();
    const system = new Map<string, SystemObject>();
    for (const o of keyObjects) {
      if (known.has(o.id)) continue;
      const kind = systemKeyKind(o);
      if (kind) {
        const entry = system.get(`${kind}/${o.id}`) ?? { ckaId: o.id, classes: [], label: o.label, kind };
        entry.classes.push(o.class);
        system.set(`${kind}/${o.id}`, entry);
        continue;
      }
      const rotationId = pendingLabels.get(o.label);
      if (rotationId) {
        if (!report.pendingRotation.some((p) => p.ckaId === o.id))
          report.pendingRotation.push({ rotationId, ckaId: o.id, label: o.label });
        continue;
      }
      const entry = byId.get(o.id) ?? {
        ckaId: o.id,
        classes: [],
        label: o.label,
        keyType: o.keyType,
        bits: o.bits,
      };
      entry.classes.push(o.class);
      byId.set(o.id, entry);
    }
    report.unmanaged = [...byId.values()];
    report.system = [...system.values()];
    if (report.missing.length)
      this.logger.warn('key objects missing from the token', { tokenSerial, count: report.missing.length });
    return report;
  }

  /** Releases the writer lock. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    releaseLock(this.dir);
  }

  private write(data: InventoryData): void {
    const body = JSON.stringify(data);
    const text = JSON.stringify(
      {
        format: INVENTORY_FORMAT,
        schemaVersion: INVENTORY_SCHEMA_VERSION,
        writtenAt: this.clock().toISOString(),
        digest: sha256(body),
        data,
      },
      null,
      1,
    );
    try {
      atomicWrite(this.file, text, this.faults);
    } catch (error) {
      throw new MkmError('IO_ERROR', 'The key inventory could not be written; it is unchanged.', {
        file: this.file,
        reason: (error as { code?: string }).code ?? 'unknown',
      });
    }
    this.faults('store:written');
    try {
      atomicWrite(join(this.dir, INVENTORY_LAST_GOOD), text, () => {});
    } catch (error) {
      // The change is on disk already: saying it failed would not hold. The older last good
      // copy is still a good one.
      this.logger.warn('could not refresh the last good copy of the key inventory', {
        reason: (error as { code?: string }).code ?? 'unknown',
      });
    }
  }
}

/**
 * The inventory as last written, for reading while another live process holds the writer lock
 * (the app open while `mkm lifecycle list` runs). It takes no lock and never writes: no
 * migration is saved, no temp file removed, no journal recovered; a rotation in flight stays in
 * `rotations` for the reader to report. The file is checked as the writer checks it (digest,
 * schema, invariants): a damaged file is STORE_CORRUPT, never an empty list. Every change is
 * refused with the writer's KEYS_BUSY, which names the holder.
 */
export class ReadOnlyInventory implements InventoryAccess {
  readonly readOnly = true;
  private constructor(
    readonly dir: string,
    private readonly data: InventoryData,
    private readonly busy: MkmError,
  ) {}

  /** `busy`: the KEYS_BUSY the writer's open got (it names the process holding the lock). */
  static open(dir: string, busy: MkmError): ReadOnlyInventory {
    return new ReadOnlyInventory(dir, inventoryOnDisk(dir) ?? structuredClone(EMPTY_INVENTORY), busy);
  }

  read(): InventoryData {
    return structuredClone(this.data);
  }

  peek(): Readonly<InventoryData> {
    return this.data;
  }

  mutate<T>(_fn: (draft: InventoryData) => T): T {
    throw this.busy;
  }

  reconcile(_tokenSerial: string, _objects: ObjectInfo[]): ReconcileReport {
    throw this.busy;
  }

  /** Nothing to release: no lock was taken. */
  close(): void {}
}

function goodCopy(path: string): boolean {
  if (!existsSync(path)) return false;
  try {
    parseFile(readFileSync(path, 'utf8'));
    return true;
  } catch {
    return false;
  }
}

function atomicWrite(file: string, text: string, faults: (point: string) => void): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      const buf = Buffer.from(text, 'utf8');
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    faults('store:tmp-written');
    renameSync(tmp, file);
  } catch (error) {
    // No half-written temp file stays behind a full disk or a bad folder.
    try {
      rmSync(tmp, { force: true });
    } catch {
      // The write's own failure is the one to report.
    }
    throw error;
  }
  fsyncDir(join(file, '..'));
}

function takeLock(dir: string): void {
  const lock = join(dir, INVENTORY_LOCK);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n${processRole()}\n`, { flag: 'wx', mode: 0o600 });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const text = readFileSafe(lock);
    const pid = Number.parseInt(text, 10);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
      // The usual cause is the app left open while `mkm` runs: say which process, and what to do.
      const role = oneLine(text.split('\n')[1] ?? '') || null;
      throw new MkmError(
        'KEYS_BUSY',
        `${describeHolder(pid, role ?? 'Merchant Key Manager in another window or process')} manages these keys; close it or use that window.`,
        { pid, ...(role ? { holder: role } : {}), lock: lock },
      );
    }
    if (pid === process.pid) {
      throw new MkmError('CONFLICT', 'The key inventory is already open in this process.');
    }
    // A dead process's lock (it crashed): take it over.
    rmSync(lock, { force: true });
  }
  throw new MkmError('CONFLICT', 'The key inventory lock could not be taken.');
}

function releaseLock(dir: string): void {
  const lock = join(dir, INVENTORY_LOCK);
  if (Number.parseInt(readFileSafe(lock), 10) === process.pid) rmSync(lock, { force: true });
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** The versions of one logical key, newest first. */
export function versionsOf(data: Readonly<InventoryData>, logicalKeyId: string): KeyVersion[] {
  return data.versions.filter((v) => v.logicalKeyId === logicalKeyId).sort((a, b) => b.version - a.version);
}

/** Who manages a token object, by the inventory as last written (no lock is taken). */
export type ManagedBy =
  | {
      kind: 'version';
      versionId: string;
      logicalKeyId: string;
      version: number;
      label: string;
      state: string;
    }
  | { kind: 'rotation'; rotationId: string; logicalKeyId: string };

/**
 * Reads the inventory file of `dir` without opening the store (so without its lock: the app may
 * hold it while the CLI asks) and says which managed version, or rotation in flight, owns the
 * object. Every inventory change is on disk before it is used, so the file is current. A file
 * that cannot be read is STORE_CORRUPT: "cannot tell" must not pass as "not managed".
 */
export function managedByOnDisk(
  dir: string,
  object: { tokenSerial: string; ckaId: string; label: string },
): ManagedBy | null {
  const data = inventoryOnDisk(dir);
  if (data === null) return null;
  const ckaId = object.ckaId.toLowerCase();
  const v = data.versions.find(
    (x) => x.tokenSerial === object.tokenSerial && x.ckaId === ckaId && x.state !== 'destroyed',
  );
  if (v) {
    return {
      kind: 'version',
      versionId: v.id,
      logicalKeyId: v.logicalKeyId,
      version: v.version,
      label: v.label,
      state: v.state,
    };
  }
  const r = object.label ? data.rotations.find((x) => x.label === object.label) : undefined;
  return r ? { kind: 'rotation', rotationId: r.id, logicalKeyId: r.logicalKeyId } : null;
}

/**
 * The inventory of `dir` as last written, read without the lock (null: no inventory yet). A file
 * that cannot be read is STORE_CORRUPT, as in managedByOnDisk.
 */
export function inventoryOnDisk(dir: string): InventoryData | null {
  const file = join(dir, INVENTORY_FILE);
  if (!existsSync(file)) {
    if (existsSync(join(dir, INVENTORY_LAST_GOOD)))
      throw corrupt(file, 'the inventory file is missing', true);
    return null;
  }
  try {
    return parseFile(readFileSync(file, 'utf8')).data;
  } catch (reason) {
    throw corrupt(
      file,
      reason instanceof Damage ? reason.message : 'unreadable',
      goodCopy(join(dir, INVENTORY_LAST_GOOD)),
    );
  }
}

/** A logical key by its id or its name; an ambiguous name is refused, not guessed. */
export function resolveLogicalKey(data: InventoryData, ref: string): LogicalKey {
  const wanted = ref.trim();
  const byId = data.logicalKeys.find((k) => k.id === wanted.toLowerCase());
  if (byId) return byId;
  const byName = data.logicalKeys.filter((k) => k.name === wanted);
  if (byName.length === 0)
    throw new MkmError('NOT_FOUND', `No managed key with the id or name “${wanted}”.`, { ref: wanted });
  if (byName.length > 1) {
    throw new MkmError(
      'CONFLICT',
      `“${wanted}” names ${byName.length} managed keys; use an id: ${byName.map((k) => k.id).join(', ')}.`,
      { ref: wanted },
    );
  }
  return byName[0]!;
}
