import { kcvFeature, missingCapability } from '../../../shared/capability-gate.std';
import { MkmError, toErrorShape, type ErrorCode } from '../../../shared/errors.std';
import type { ManagedKeyType, ManagedPurpose } from '../../../shared/lifecycle/vocabulary.std';
import type { ObjectClass } from '../../../shared/tokens.std';
import type { AuditAppend, AuditKeyRef } from '../../audit/audit-log.nodejs';
import { silentLogger, type Logger } from '../../core/logger.nodejs';
import { versionsOf, type InventoryAccess } from '../inventory.nodejs';
import {
  dueAt,
  NEEDS_GATEWAY_REGISTRATION,
  type DueItem,
  type Fingerprint,
  type GatewayStatus,
  type GraceExpired,
  type KeyVersion,
  type LogicalKey,
  type Rotation,
} from '../model.std';
import { UsageCounter } from '../usage.nodejs';
import type { KeyLifecycleOptions, TokenCaller } from './types.nodejs';

export const TOKEN_CLASSES: Record<ManagedKeyType, ObjectClass[]> = {
  'aes-256': ['secret'],
  'hmac-256': ['secret'],
  'rsa-2048': ['private', 'public'],
  'rsa-3072': ['private', 'public'],
  'rsa-4096': ['private', 'public'],
};

export const PURPOSE_TYPES: Record<ManagedPurpose, readonly ManagedKeyType[]> = {
  'gateway-transport': ['rsa-2048', 'rsa-3072', 'rsa-4096'],
  'gateway-public': ['rsa-2048', 'rsa-3072', 'rsa-4096'],
  signing: ['rsa-2048', 'rsa-3072', 'rsa-4096'],
  data: ['aes-256'],
  kek: ['aes-256'],
  hmac: ['hmac-256'],
  audit: ['hmac-256'],
};

/** Errors after which the slot a serial was cached in may hold another token now. */
const STALE_SLOT = new Set<string>(['SLOT_NOT_FOUND', 'TOKEN_NOT_PRESENT', 'TOKEN_REMOVED', 'KEY_NOT_FOUND']);

export const isRsa = (type: ManagedKeyType) => type.startsWith('rsa-');

/**
 * What every part of the key lifecycle service shares: the options, the inventory, the use
 * counts, the token's slots, the audit trail, and the queue that runs one lifecycle operation at
 * a time. The parts (rotation, state changes, gateway retirement, adopt/import, key use) are
 * functions over it; KeyLifecycleService is their entry point.
 */
export class LifecycleCore {
  readonly tokens: TokenCaller;
  private readonly auditFn: (entry: AuditAppend) => void;
  readonly clock: () => Date;
  readonly logger: Logger;
  readonly faults: (point: string) => void;
  readonly usage: UsageCounter;
  private readonly slotCache = new Map<string, number>();
  /** One lifecycle operation at a time (rotation, destroy, adopt); crypto runs alongside. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    readonly options: KeyLifecycleOptions,
    readonly inventory: InventoryAccess,
  ) {
    this.tokens = options.tokens;
    this.auditFn = options.audit;
    this.clock = options.clock ?? (() => new Date());
    this.logger = options.logger ?? silentLogger;
    this.faults = options.faults ?? (() => {});
    this.usage = new UsageCounter((counts) => this.writeUsage(counts), {
      flushMs: options.usageFlushMs ?? 30_000,
      maxPending: options.usageMaxPending ?? 10_000,
      onError: (error) =>
        this.logger.error('use counts could not be written', { error: toErrorShape(error) }),
    });
  }

  logicalKey(id: string): LogicalKey {
    const key = this.inventory.peek().logicalKeys.find((k) => k.id === id);
    if (!key) throw new MkmError('NOT_FOUND', 'No such logical key.', { logicalKeyId: id });
    return structuredClone(key);
  }

  version(id: string): KeyVersion {
    const v = this.inventory.peek().versions.find((x) => x.id === id);
    if (!v) throw new MkmError('NOT_FOUND', 'No such key version.', { versionId: id });
    return structuredClone(v);
  }

  versions(logicalKeyId: string): KeyVersion[] {
    return structuredClone(versionsOf(this.inventory.peek(), logicalKeyId));
  }

  primary(logicalKeyId: string): KeyVersion | null {
    const v = this.inventory.peek().versions.find((x) => x.logicalKeyId === logicalKeyId && x.primary);
    return v ? structuredClone(v) : null;
  }

  /** What needs rotating (and which replaced versions' grace is over) at `now`. */
  due(now: Date = this.clock()): { due: DueItem[]; graceExpired: GraceExpired[] } {
    return dueAt(this.inventory.peek(), now, {
      usesOf: (v) => this.usesOf(v),
      policies: this.options.policies,
    });
  }

  /** Writes the batched use counts now. */
  flushUsage(): void {
    if (this.options.usage) this.options.usage.flush();
    else this.usage.flush();
  }

  /** Uses of a version: batched counts included. */
  usesOf(v: KeyVersion): number {
    return this.options.usage ? this.options.usage.usesOf(v.id) : v.useCount + this.usage.pendingFor(v.id);
  }

  /** Flushes use counts, waits for the lifecycle operation in progress, releases the inventory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => {});
    this.usage.stop();
    try {
      this.usage.flush();
    } finally {
      this.inventory.close();
    }
  }

  serial<T>(body: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new MkmError('CONFLICT', 'The key service is closed.'));
    const run = this.queue.then(body, body);
    this.queue = run.catch(() => {});
    return run;
  }

  private writeUsage(counts: ReadonlyMap<string, number>): void {
    this.inventory.mutate((draft) => {
      for (const [id, n] of counts) {
        const v = draft.versions.find((x) => x.id === id);
        if (v) v.useCount += n;
      }
    });
  }

  /**
   * The slot holding the token with this serial. `fresh` asks the token list again: every
   * lifecycle step that creates or destroys objects does, so a token swapped into a cached slot
   * is never mistaken for the one the record names.
   */
  async slotFor(serial: string, fresh = false): Promise<number> {
    const cached = fresh ? undefined : this.slotCache.get(serial);
    if (cached !== undefined) return cached;
    const slots = await this.tokens.call('listSlots', {});
    this.slotCache.clear();
    // Serials are not unique everywhere: tpm2-pkcs11 shows an empty slot (for a new token) with
    // the same serial as the token in use. The record names an initialised token, and the one
    // logged in wins a tie, so a lifecycle step never lands on the empty slot (NOT_LOGGED_IN).
    const rank = (s: (typeof slots)[number]) =>
      (s.token!.flags.tokenInitialized ? 2 : 0) + (s.session.loggedIn ? 1 : 0);
    const best = new Map<string, (typeof slots)[number]>();
    for (const s of slots) {
      if (!s.token) continue;
      const serialOf = s.token.serial.trim();
      const held = best.get(serialOf);
      if (!held || rank(s) > rank(held)) best.set(serialOf, s);
    }
    for (const [serialOf, s] of best) this.slotCache.set(serialOf, s.slotId);
    const slotId = this.slotCache.get(serial);
    if (slotId === undefined) {
      throw new MkmError('TOKEN_NOT_PRESENT', 'The token that holds this key is not inserted.', { serial });
    }
    return slotId;
  }

  /** A crypto call on the token with `serial`; a stale slot mapping is looked up again once. */
  async onToken<T>(serial: string, body: (slotId: number) => Promise<T>): Promise<T> {
    const slotId = await this.slotFor(serial);
    try {
      return await body(slotId);
    } catch (error) {
      if (!STALE_SLOT.has(codeOf(error).code)) throw error;
      const fresh = await this.slotFor(serial, true);
      if (fresh === slotId) throw error;
      return body(fresh);
    }
  }

  async findByLabel(
    slotId: number,
    label: string,
    type: ManagedKeyType,
  ): Promise<{ id: string; classes: ObjectClass[] } | null> {
    const objects = await this.tokens.call('listObjects', { slotId });
    const mine = objects.filter((o) => o.label === label && TOKEN_CLASSES[type].includes(o.class));
    const ids = [...new Set(mine.map((o) => o.id))];
    if (ids.length > 1) {
      throw new MkmError('CONFLICT', 'More than one token key carries the label of this rotation.', {
        label,
      });
    }
    return ids[0] === undefined ? null : { id: ids[0], classes: mine.map((o) => o.class) };
  }

  /**
   * A version's fingerprint. A KCV only identifies the key (nothing is decided on it), so a token
   * the probe found without the KCV's mechanism still gets its key recorded, with no fingerprint
   * and a note saying why, rather than a creation that fails after the key exists.
   */
  async fingerprintOf(
    slotId: number,
    ckaId: string,
    type: ManagedKeyType,
  ): Promise<{ fingerprint: Fingerprint | null; fingerprintNote?: string }> {
    if (isRsa(type)) {
      const pub = await this.tokens.call('exportPublicKey', { slotId, id: ckaId, format: 'pem' });
      return { fingerprint: { kind: 'spki-sha256', value: pub.spkiSha256 } };
    }
    if (this.tokens.capabilities) {
      const missing = missingCapability(await this.tokens.capabilities(slotId), kcvFeature(type));
      if (missing) {
        return { fingerprint: null, fingerprintNote: `KCV not available on this token: ${missing.reason}` };
      }
    }
    const kcv = await this.tokens.call('kcv', { slotId, id: ckaId });
    return { fingerprint: { kind: 'kcv', method: kcv.method, value: kcv.kcv } };
  }

  async destroyOnToken(slotId: number, ckaId: string, classes: ObjectClass[]): Promise<void> {
    for (const cls of classes) {
      try {
        await this.tokens.call('destroyObject', { slotId, id: ckaId, class: cls, confirm: true });
      } catch (error) {
        // Already gone (a crash after the token destroyed it): that is the state we want.
        if (
          !(error instanceof MkmError && error.code === 'KEY_NOT_FOUND') &&
          codeOf(error).code !== 'KEY_NOT_FOUND'
        )
          throw error;
      }
    }
  }

  audit(
    action: string,
    subject: KeyVersion | Rotation,
    details: Record<string, unknown>,
    result: AuditAppend['result'] = 'ok',
  ): void {
    const v = 'newVersionId' in subject ? this.version(subject.newVersionId) : subject;
    const ref = keyRef(v);
    this.auditFn({
      action,
      result,
      ...(ref ? { key: ref } : {}),
      details: {
        logicalKeyId: v.logicalKeyId,
        versionId: v.id,
        ...('newVersionId' in subject
          ? { rotationId: subject.id, fromVersionId: subject.fromVersionId }
          : {}),
        ...(v.tokenSerial ? { tokenSerial: v.tokenSerial } : {}),
        ...(v.ckaId === null && v.fingerprint?.kind === 'spki-sha256'
          ? { fingerprint: v.fingerprint.value }
          : {}),
        ...details,
      },
    });
  }
}

function keyRef(v: KeyVersion): AuditKeyRef | null {
  if (v.ckaId === null || v.ckaId === '') return null;
  const ref: AuditKeyRef = { id: v.ckaId };
  if (v.fingerprint?.kind === 'kcv') ref.kcv = v.fingerprint.value;
  if (v.fingerprint?.kind === 'spki-sha256') ref.fingerprint = v.fingerprint.value;
  return ref;
}

export function initialGateway(purpose: ManagedPurpose): GatewayStatus {
  return {
    status: NEEDS_GATEWAY_REGISTRATION[purpose] ? 'pending' : 'not-required',
    reference: null,
    updatedAt: null,
    error: null,
  };
}

export function checkPurposeType(purpose: ManagedPurpose, type: ManagedKeyType): void {
  if (!PURPOSE_TYPES[purpose].includes(type)) {
    throw new MkmError('VALIDATION', `A ${type} key cannot be used for ${purpose}.`, {
      purpose,
      type,
      allowed: [...PURPOSE_TYPES[purpose]],
    });
  }
}

export function codeOf(error: unknown): { code: ErrorCode; message: string } {
  const shape = toErrorShape(error);
  return { code: shape.code, message: shape.message };
}
