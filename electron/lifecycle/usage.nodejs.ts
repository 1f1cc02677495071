import { randomUUID } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MkmError, toErrorShape } from '../../shared/errors.std';
import type { AuditAppend } from '../audit/audit-log.nodejs';
import { writeFileAtomic } from '../core/atomic-file.nodejs';
import { silentLogger, type Logger } from '../core/logger.nodejs';
import type { LifecycleSystemUsageView, LifecycleUsageView } from '../../shared/contract/lifecycle.std';
import { INVENTORY_FILE, inventoryOnDisk, pidAlive, resolveLogicalKey, versionsOf } from './inventory.nodejs';
import type { ManagedPurpose } from '../../shared/lifecycle/vocabulary.std';
import { EMPTY_INVENTORY, policyFor, type InventoryData, type RotationPolicy } from './model.std';
import {
  addUses,
  daysSince,
  EMPTY_USAGE,
  emptyEntry,
  mergeEntries,
  useLevel,
  UsageFileSchema,
  type UsageEntry,
  type UsageFile,
  type UsageOperation,
  type UseLevel,
} from './usage.std';

/**
 * Use counts per key version, kept in memory and written in batches: an encryption must not
 * cost a disk write. `flush` hands the pending counts to a sink (the inventory) in one write;
 * the owner flushes on a timer, when `maxPending` uses are waiting, and on close. A crash loses
 * at most the counts since the last flush, which only ever makes the max-uses policy fire late
 * by that many uses; the timer keeps the window short.
 */
export class UsageCounter {
  private pending = new Map<string, number>();
  private pendingTotal = 0;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly sink: (counts: ReadonlyMap<string, number>) => void,
    private readonly options: { flushMs: number; maxPending: number; onError?: (error: unknown) => void },
  ) {
    if (options.flushMs > 0) {
      this.timer = setInterval(() => this.flushQuietly(), options.flushMs);
      this.timer.unref();
    }
  }

  record(versionId: string, uses = 1): void {
    this.pending.set(versionId, (this.pending.get(versionId) ?? 0) + uses);
    this.pendingTotal += uses;
    if (this.pendingTotal >= this.options.maxPending) this.flushQuietly();
  }

  /** Uses not written yet. */
  pendingFor(versionId: string): number {
    return this.pending.get(versionId) ?? 0;
  }

  flush(): void {
    if (this.pending.size === 0) return;
    const counts = this.pending;
    this.pending = new Map();
    this.pendingTotal = 0;
    try {
      this.sink(counts);
    } catch (error) {
      // Put them back: a failed write must not lose counts.
      for (const [id, n] of counts) this.pending.set(id, (this.pending.get(id) ?? 0) + n);
      this.pendingTotal += [...counts.values()].reduce((a, b) => a + b, 0);
      throw error;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private flushQuietly(): void {
    try {
      this.flush();
    } catch (error) {
      this.options.onError?.(error);
    }
  }
}

// ---------------------------------------------------------------- the usage service

/**
 * A counted thing: a managed key version, a pinned gateway public key by its SPKI SHA-256, or an
 * audit key by auditKeyName().
 */
export type UsageSubject = { versionId: string } | { gatewayKey: string } | { auditKey: string };

/** The table of a usage file a subject is counted in, and its name there. */
function slotOf(file: UsageFile, subject: UsageSubject): [Record<string, UsageEntry>, string] {
  if ('versionId' in subject) return [file.versions, subject.versionId];
  if ('gatewayKey' in subject) return [file.gatewayKeys, subject.gatewayKey];
  return [file.auditKeys, subject.auditKey];
}
const TABLES = ['versions', 'gatewayKeys', 'auditKeys'] as const;

export interface KeyUsageOptions {
  /** The key inventory folder (DataPaths.keys); the counts live next to it. */
  inventoryDir: string;
  /** Each flush is one entry (`key.usage.flush`): counts and operations, no secrets. */
  audit: (entry: AuditAppend) => void;
  logger?: Logger;
  clock?: () => Date;
  /** How often pending counts are written; default 5 s; 0: only on flush()/close(). */
  flushMs?: number;
  /** Write at once when this many uses are waiting; default 10 000. */
  maxPending?: number;
  /** The timer the flushes run on (tests drive their own). */
  timers?: UsageTimers;
  /** Installation overrides of the purposes' default policies (as KeyLifecycleOptions.policies). */
  policies?: Partial<Record<ManagedPurpose, Partial<RotationPolicy>>>;
  /** Which token each slot holds (TokensService.slots fits): how a (slot, CKA_ID) is a version. */
  slots?: () => Promise<readonly { slotId: number; token: { serial: string } | null }[]>;
}

export interface UsageTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
  /** Waits between tries of the counts lock (synchronous: a flush is); default a real wait. */
  sleep?(ms: number): void;
}

const NODE_TIMERS: UsageTimers = {
  setInterval: (fn, ms) => {
    const t = setInterval(fn, ms);
    t.unref();
    return t;
  },
  clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
};

export const USAGE_FILE = 'key-usage.json';
export const USAGE_LOCK = 'key-usage.lock';
/** Tries of the counts lock per flush, and the wait between two: about half a second at most. */
export const USAGE_LOCK_TRIES = 50;
export const USAGE_LOCK_WAIT_MS = 10;
/**
 * A lock this old is a dead holder's even if its pid now names another live process: a flush
 * holds it only for one read and one small write.
 */
export const USAGE_LOCK_STALE_MS = 30_000;

/** Where a version stands against its policy's use limit. */
export interface VersionUseStatus {
  versionId: string;
  logicalKeyId: string;
  uses: number;
  maxUses: number | null;
  warnFraction: number;
  level: UseLevel;
}

/**
 * The one place every use of a key is counted. Call sites name what they used (a version, or
 * the token object of one, or a gateway key), the operation and how many times; `counted()`
 * refuses a version at its use limit (USE_LIMIT_REACHED) before the token is asked, and counts
 * only what the token did. Counts wait in memory and are written by one atomic write per flush
 * (timer, close, or `maxPending` uses waiting): a crash loses at most one interval's uses. The
 * write re-reads the file and adds to it, so the app and a CLI command count into the same file.
 *
 * A version's count is the inventory's own `useCount` (uses counted before this service) plus
 * what this file holds plus what is pending; the limit, the 80 % warning and the rotation-due
 * state all read that one number.
 */
export class KeyUsageService {
  readonly file: string;
  private pending: UsageFile = structuredClone(EMPTY_USAGE);
  private pendingTotal = 0;
  private saved: { stamp: string; data: UsageFile } | null = null;
  private inventory: { stamp: string; data: InventoryData | null } | null = null;
  private readonly warned = new Set<string>();
  private readonly timers: UsageTimers;
  private timer: unknown = null;
  private readonly clock: () => Date;
  private readonly logger: Logger;
  private closed = false;

  constructor(private readonly options: KeyUsageOptions) {
    this.file = join(options.inventoryDir, USAGE_FILE);
    this.clock = options.clock ?? (() => new Date());
    this.logger = options.logger ?? silentLogger;
    this.timers = options.timers ?? NODE_TIMERS;
    const ms = options.flushMs ?? 5_000;
    if (ms > 0) this.timer = this.timers.setInterval(() => this.flushQuietly(), ms);
  }

  // ------------------------------------------------------------ counting

  /**
   * Runs `body` as `count` uses of the managed version behind a token object, if it is one:
   * refused before `body` when the version is at its limit, counted after `body` succeeds. An
   * object no version names (an unmanaged key, a session key) runs uncounted.
   */
  async counted<T>(
    object: { slotId: number; id: string },
    operation: UsageOperation,
    count: number,
    body: () => Promise<T>,
  ): Promise<T> {
    const versionId = await this.versionOnSlot(object.slotId, object.id);
    if (versionId === null) return body();
    this.check({ versionId }, count);
    const result = await body();
    this.record({ versionId }, operation, count);
    return result;
  }

  /** Refuses `count` more uses of a version that its limit does not allow (USE_LIMIT_REACHED). */
  check(subject: UsageSubject, count = 1): void {
    if (!('versionId' in subject)) return;
    const status = this.statusOf(subject.versionId);
    if (status && status.maxUses !== null && status.uses + count > status.maxUses) {
      this.logger.warn('a key version at its use limit was refused', {
        versionId: status.versionId,
        uses: status.uses,
        maxUses: status.maxUses,
      });
      throw new MkmError('USE_LIMIT_REACHED', undefined, {
        versionId: status.versionId,
        logicalKeyId: status.logicalKeyId,
        uses: status.uses,
        maxUses: status.maxUses,
        asked: count,
      });
    }
  }

  record(subject: UsageSubject, operation: UsageOperation, count = 1): void {
    if (!Number.isInteger(count) || count < 1) return;
    const at = this.clock().toISOString();
    const [table, id] = slotOf(this.pending, subject);
    table[id] = addUses(table[id], operation, count, at);
    this.pendingTotal += count;
    if ('versionId' in subject) this.warnNearLimit(subject.versionId);
    if (this.pendingTotal >= (this.options.maxPending ?? 10_000)) this.flushQuietly();
  }

  /** The managed version a token object is (not destroyed), or null. */
  async versionOnSlot(slotId: number, ckaId: string): Promise<string | null> {
    if (!this.options.slots) return null;
    const serial = (await this.options.slots()).find((s) => s.slotId === slotId)?.token?.serial.trim();
    if (!serial) return null;
    const id = ckaId.toLowerCase();
    const v = this.readInventory()?.versions.find(
      (x) => x.tokenSerial === serial && x.ckaId === id && x.state !== 'destroyed',
    );
    return v?.id ?? null;
  }

  // ------------------------------------------------------------ reading

  /** Uses of a version: the inventory's count, the written ones and the pending ones. */
  usesOf(versionId: string): number {
    const legacy = this.readInventory()?.versions.find((v) => v.id === versionId)?.useCount ?? 0;
    return legacy + this.written(versionId).total + (this.pending.versions[versionId]?.total ?? 0);
  }

  /** The history of a version (or gateway key): written and pending together. */
  entryOf(subject: UsageSubject): UsageEntry | undefined {
    const [savedTable, id] = slotOf(this.readSaved(), subject);
    const saved = savedTable[id];
    const pending = slotOf(this.pending, subject)[0][id];
    if (!saved && !pending) return undefined;
    return pending ? mergeEntries(saved, pending) : saved;
  }

  /** Every gateway key counted, by fingerprint. */
  gatewayKeys(): string[] {
    return this.namesIn('gatewayKeys');
  }

  /** Every audit key counted, by auditKeyName(). */
  auditKeys(): string[] {
    return this.namesIn('auditKeys');
  }

  private namesIn(table: 'gatewayKeys' | 'auditKeys'): string[] {
    return [...new Set([...Object.keys(this.readSaved()[table]), ...Object.keys(this.pending[table])])];
  }

  /** A version against its policy's limit; null for a version the inventory does not know. */
  statusOf(versionId: string): VersionUseStatus | null {
    const data = this.readInventory();
    const v = data?.versions.find((x) => x.id === versionId);
    const key = v && data?.logicalKeys.find((k) => k.id === v.logicalKeyId);
    if (!v || !key) return null;
    const policy = policyFor(key, this.options.policies);
    const uses = this.usesOf(versionId);
    return {
      versionId,
      logicalKeyId: key.id,
      uses,
      maxUses: policy.maxUses,
      warnFraction: policy.warnUsesFraction,
      level: useLevel(uses, policy.maxUses, policy.warnUsesFraction),
    };
  }

  /**
   * How each version of a logical key (by id or name) was used, from the files as last written
   * and this process's pending counts: no inventory lock, so the CLI can ask while the app runs.
   */
  usageReport(ref: string, since: string | null): LifecycleUsageView {
    const data = this.readInventory() ?? EMPTY_INVENTORY;
    const key = resolveLogicalKey(data, ref);
    const policy = policyFor(key, this.options.policies);
    return {
      logicalKeyId: key.id,
      name: key.name,
      purpose: key.purpose,
      maxUses: policy.maxUses,
      warnUsesFraction: policy.warnUsesFraction,
      since,
      versions: versionsOf(data, key.id).map((v) => {
        const entry = this.entryOf({ versionId: v.id });
        const uses = this.usesOf(v.id);
        return {
          versionId: v.id,
          version: v.version,
          state: v.state,
          primary: v.primary,
          uses,
          level: useLevel(uses, policy.maxUses, policy.warnUsesFraction),
          lastAt: entry?.lastAt ?? null,
          lastOperation: entry?.lastOperation ?? null,
          operations: { ...entry?.operations },
          days: daysSince(entry, since),
        };
      }),
    };
  }

  /** The audit keys' seals and the gateway keys' encryptions, as last written and pending. */
  systemUsageReport(): LifecycleSystemUsageView {
    const uses = (subject: UsageSubject) => {
      const e = this.entryOf(subject);
      return {
        uses: e?.total ?? 0,
        lastAt: e?.lastAt ?? null,
        lastOperation: e?.lastOperation ?? null,
        operations: { ...e?.operations },
      };
    };
    return {
      auditKeys: this.auditKeys().map((name) => {
        const [id = '', kcv = ''] = name.split(':');
        return { id, kcv, ...uses({ auditKey: name }) };
      }),
      gatewayKeys: this.gatewayKeys().map((fingerprint) => ({
        fingerprint,
        ...uses({ gatewayKey: fingerprint }),
      })),
    };
  }

  // ------------------------------------------------------------ writing

  /** Writes the pending counts (one atomic write) and records them in the audit log. */
  flush(): void {
    if (this.pendingTotal === 0) return;
    const batch = this.pending;
    this.pending = structuredClone(EMPTY_USAGE);
    this.pendingTotal = 0;
    let next: UsageFile;
    try {
      mkdirSync(this.options.inventoryDir, { recursive: true });
      // Read, add and write under the lock: another process (the CLI beside the app) flushing
      // at the same moment would otherwise write over this batch, or this one over its.
      next = withFileLock(join(this.options.inventoryDir, USAGE_LOCK), this.timers.sleep ?? sleepSync, () => {
        this.saved = null;
        const merged = structuredClone(this.readSaved());
        addInto(merged, batch);
        writeFileAtomic(this.file, `${JSON.stringify(merged)}\n`);
        return merged;
      });
    } catch (error) {
      // Put them back: a failed write must not lose counts.
      addInto(this.pending, batch);
      this.pendingTotal += TABLES.flatMap((t) => Object.values(batch[t])).reduce((a, e) => a + e.total, 0);
      throw error;
    }
    this.saved = { stamp: stampOf(this.file), data: next };
    // Seals alone are written without an entry: the entry would be sealed, that seal counted,
    // and so on every interval of an idle app. Audit seals are lines of the log themselves.
    if (Object.keys(batch.versions).length + Object.keys(batch.gatewayKeys).length === 0) return;
    this.options.audit({
      action: 'key.usage.flush',
      result: 'ok',
      details: {
        versions: Object.entries(batch.versions).map(([versionId, e]) => ({
          versionId,
          uses: e.total,
          operations: e.operations,
        })),
        gatewayKeys: Object.entries(batch.gatewayKeys).map(([fingerprint, e]) => ({
          fingerprint,
          uses: e.total,
          operations: e.operations,
        })),
        // Only when there are some: flush entries before audit keys were counted keep their shape.
        ...(Object.keys(batch.auditKeys).length > 0
          ? {
              auditKeys: Object.entries(batch.auditKeys).map(([key, e]) => ({
                key,
                uses: e.total,
                operations: e.operations,
              })),
            }
          : {}),
      },
    });
  }

  /** Stops the timer and writes what is pending. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) this.timers.clearInterval(this.timer);
    this.timer = null;
    this.flush();
  }

  // ------------------------------------------------------------ internals

  private flushQuietly(): void {
    try {
      this.flush();
    } catch (error) {
      this.logger.error('use counts could not be written', { error: toErrorShape(error) });
    }
  }

  private warnNearLimit(versionId: string): void {
    let status: VersionUseStatus | null;
    try {
      status = this.statusOf(versionId);
    } catch {
      // The use is done and counted; a file that cannot be read refuses the next one (check).
      return;
    }
    if (!status || status.level === 'ok' || this.warned.has(versionId)) return;
    this.warned.add(versionId);
    this.logger.warn(
      status.level === 'reached'
        ? 'a key version reached its use limit; rotate the key'
        : 'a key version is near its use limit; plan its rotation',
      { versionId, logicalKeyId: status.logicalKeyId, uses: status.uses, maxUses: status.maxUses },
    );
  }

  private written(versionId: string): UsageEntry {
    return this.readSaved().versions[versionId] ?? emptyEntry();
  }

  /** The counts file as last written (re-read when it changed); a damaged file is STORE_CORRUPT. */
  private readSaved(): UsageFile {
    const stamp = stampOf(this.file);
    if (this.saved && this.saved.stamp === stamp) return this.saved.data;
    let data: UsageFile = structuredClone(EMPTY_USAGE);
    if (stamp !== '') {
      try {
        data = UsageFileSchema.parse(JSON.parse(readFileSync(this.file, 'utf8')));
      } catch {
        // Unknown counts must not pass as zero: a limit could then never be reached.
        throw new MkmError(
          'STORE_CORRUPT',
          'The key use counts file is damaged; the counts cannot be read.',
          {
            file: this.file,
          },
        );
      }
    }
    this.saved = { stamp, data };
    return data;
  }

  private readInventory(): InventoryData | null {
    const stamp = stampOf(join(this.options.inventoryDir, INVENTORY_FILE));
    if (this.inventory && this.inventory.stamp === stamp) return this.inventory.data;
    const data = inventoryOnDisk(this.options.inventoryDir);
    this.inventory = { stamp, data };
    return data;
  }
}

/** Adds every entry of `more` to `into` (in place). */
function addInto(into: UsageFile, more: UsageFile): void {
  for (const t of TABLES)
    for (const [id, e] of Object.entries(more[t])) into[t][id] = mergeEntries(into[t][id], e);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Runs `body` holding `lock` (created with O_EXCL, holding this process's pid), across processes.
 * Bounded: after USAGE_LOCK_TRIES tries it throws USAGE_COUNTS_BUSY and the caller keeps its
 * counts for the next flush. A lock whose process is gone, or older than USAGE_LOCK_STALE_MS, is
 * taken over. Flushes are synchronous, so a lock naming this process is a leftover too.
 */
function withFileLock<T>(lock: string, sleep: (ms: number) => void, body: () => T): T {
  const mine = `${process.pid}\n${randomUUID()}\n`;
  for (let tries = 1; ; tries++) {
    try {
      writeFileSync(lock, mine, { flag: 'wx', mode: 0o600 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (tries >= USAGE_LOCK_TRIES) throw new MkmError('USAGE_COUNTS_BUSY', undefined, { lock: USAGE_LOCK });
    if (!takeOverStale(lock)) sleep(USAGE_LOCK_WAIT_MS);
  }
  try {
    return body();
  } finally {
    // Never remove a lock another process took over (this one was suspended past the stale age).
    if (readOr(lock, '') === mine) rmSync(lock, { force: true });
  }
}

/** Removes `lock` if it is stale; true when it did (try again at once). */
function takeOverStale(lock: string): boolean {
  let seen: string;
  let age: number;
  try {
    seen = readFileSync(lock, 'utf8');
    age = Date.now() - statSync(lock).mtimeMs;
  } catch {
    return true; // released meanwhile
  }
  const pid = Number.parseInt(seen, 10);
  // An empty lock is one being written this instant: only its age makes it stale.
  const dead = Number.isSafeInteger(pid) && pid > 0 && (pid === process.pid || !pidAlive(pid));
  if (!dead && age < USAGE_LOCK_STALE_MS) return false;
  // Moved aside, then checked: removing it by name could remove a fresh lock another process
  // made after taking this stale one over itself.
  const aside = `${lock}.stale-${process.pid}-${randomUUID()}`;
  try {
    renameSync(lock, aside);
  } catch {
    return true;
  }
  if (readOr(aside, '') !== seen) {
    try {
      linkSync(aside, lock); // a fresh lock: put it back (unless yet another was made)
    } catch {
      // Another lock stands there now; its holder goes on.
    }
  }
  rmSync(aside, { force: true });
  return true;
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

/** Changes whenever the file is replaced (atomic writes rename a new inode over it). */
function stampOf(file: string): string {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------- handing the usage service on

/**
 * What a call site that uses keys needs of the app's usage service (KeyUsageService fits). The
 * composition root builds one service and hands it to each domain; null where no app built one
 * (a unit test, a tool): the use then runs uncounted, as nothing would count it.
 */
export type KeyUseCounter = Pick<KeyUsageService, 'counted' | 'record'>;

/** `usage.counted(...)`, or `body()` alone without a usage service. */
export function countedUse<T>(
  usage: KeyUseCounter | null | undefined,
  object: { slotId: number; id: string },
  operation: UsageOperation,
  count: number,
  body: () => Promise<T>,
): Promise<T> {
  return usage ? usage.counted(object, operation, count, body) : body();
}

/** Counts client-side encryptions under a pinned gateway key (no limit applies to it). */
export function countGatewayKeyUse(
  usage: KeyUseCounter | null | undefined,
  fingerprint: string,
  count = 1,
): void {
  usage?.record({ gatewayKey: fingerprint }, 'cse-encrypt', count);
}
