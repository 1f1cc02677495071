import { randomUUID } from 'node:crypto';
import { kcvFeature, missingCapability } from '../../shared/capability-gate.std';
import { MkmError, toErrorShape, type ErrorCode } from '../../shared/errors.std';
import { HMAC_SHA256_KEY_TYPES, isHmacKeyType } from '../../shared/tokens.std';
import type { ManagedKeyType, ManagedPurpose, TokenPurpose } from '../../shared/lifecycle/vocabulary.std';
import type { AuditAppend, AuditKeyRef } from '../audit/audit-log.nodejs';
import { silentLogger, type Logger } from '../core/logger.nodejs';
import { parseRsaPublicKey, spkiPem } from '../crypto/pem.nodejs';
import type { HsmMethodName, HsmParams, HsmResult } from '../hsm/host/protocol.std';
import type { CapabilitiesResult, ObjectClass, ObjectInfo } from '../../shared/tokens.std';
import {
  InventoryStore,
  ReadOnlyInventory,
  versionsOf,
  type InventoryAccess,
  type ReconcileReport,
} from './inventory.nodejs';
import {
  addDays,
  assertTransition,
  DEFAULT_KEY_TYPE,
  DEFAULT_POLICIES,
  dueAt,
  formatEnvelope,
  formatMacTag,
  mayProcess,
  mayProtect,
  NEEDS_GATEWAY_REGISTRATION,
  parseEnvelope,
  parseMacTag,
  policyFor,
  type DueItem,
  type Fingerprint,
  type GatewayStatus,
  type GraceExpired,
  type InventoryData,
  type KeyVersion,
  type LogicalKey,
  type Rotation,
  type RotationPolicy,
  useLimit,
} from './model.std';
import { UsageCounter, type KeyUsageService } from './usage.nodejs';
import type { UsageOperation } from './usage.std';
import { confirmationMismatch, versionName } from '../../shared/wording.std';

/**
 * The key lifecycle service (NIST SP 800-57 Pt 1 §7, PCI DSS v4 3.6/3.7): versioned logical keys
 * on a PKCS#11 token, rotation policies, crash-safe rotation, usage counts and a versioned
 * ciphertext envelope for data keys.
 *
 * ROTATION is a journaled state machine. The journal entry (`rotations[]`) lives in the
 * inventory file, so each step and the inventory change it makes are one atomic, fsynced write:
 *
 *   planned      new version record (pre-activation) with a label chosen here  ─┐ written
 *   generated    key made on the token, found again by that label, CKA_ID/KCV   │ before the
 *   registering  (purposes the gateway must know) the hook is about to run       │ next step
 *   registered   gateway status recorded                                         │ starts
 *   promoted     new version active + primary, old one non-primary in grace     ─┘
 *   (done)       journal entry replaced by a history entry
 *
 * resume() (call it at start) rolls every rotation forward from its journaled step. Each step is
 * idempotent given the journal: generation first looks for an object with the planned label
 * (PKCS#11 generateKey picks the CKA_ID itself, so the label is the deterministic name), the
 * gateway hook must accept the same version twice (the version id is its idempotency key),
 * promotion is one write. So after a crash at any point: every token object is in the inventory
 * (or named by a journaled plan that resume() records), a logical key never has two primaries
 * (promotion flips both flags in one write), and no version record is lost. abandonRotation()
 * rolls a rotation back instead (destroys what it generated, leaves a tombstone).
 *
 * Deactivating the replaced version after the grace period is `sweep(now)`, separate from the
 * journal: it is one write per version. destroy() journals its intent (`destroyPending`) before
 * it touches the token, and resume() finishes it.
 */

/** What this service needs from TokensService (its `call` fits). */
export interface TokenCaller {
  call<K extends HsmMethodName>(method: K, params: HsmParams<K>): Promise<HsmResult<K>>;
  /** The capability probe (TokensService.capabilities): a KCV is computed only where it says so. */
  capabilities?(slotId: number): Promise<Pick<CapabilitiesResult, 'capabilities'>>;
}

export interface GatewayRegistrationRequest {
  logicalKey: LogicalKey;
  version: KeyVersion;
  /** SPKI PEM of an RSA version (what the gateway wraps session keys under). */
  publicKeyPem: string | null;
}

/**
 * Tells the gateway about a new version before it becomes primary. MUST be idempotent per
 * `version.id`: after a crash the same version is registered again. Return the gateway's
 * reference (key set id) when it has one.
 */
export type GatewayRegistrationHook = (
  request: GatewayRegistrationRequest,
) => Promise<{ reference?: string | null } | void>;

export interface GatewayRetirementRequest {
  logicalKey: LogicalKey;
  version: KeyVersion;
  /** Why the version leaves service; the gateway stops wrapping key sets under it. */
  reason: 'deactivated' | 'compromised' | 'destroyed';
}

/**
 * Tells the gateway a registered version is no longer in service. MUST be idempotent per
 * `version.id` (retried after a crash or while the gateway is unreachable).
 */
export type GatewayRetirementHook = (request: GatewayRetirementRequest) => Promise<void>;

export interface KeyLifecycleOptions {
  /** Folder of the inventory files, DataPaths.keys. */
  dir: string;
  tokens: TokenCaller;
  /** Every lifecycle action goes here (AuditLog.append fits). */
  audit: (entry: AuditAppend) => void;
  clock?: () => Date;
  logger?: Logger;
  registerWithGateway?: GatewayRegistrationHook | null;
  retireAtGateway?: GatewayRetirementHook | null;
  /** Overrides of DEFAULT_POLICIES per purpose (a logical key's own policy wins over these). */
  policies?: Partial<Record<ManagedPurpose, Partial<RotationPolicy>>>;
  /** How often batched use counts are written; default 30 s, 0 = only on flush/close. */
  usageFlushMs?: number;
  /** Write at once when this many uses are waiting; default 10 000. */
  usageMaxPending?: number;
  /**
   * The app's usage service: when given, every use is counted there (one place for all paths)
   * and a version at its use limit is refused (USE_LIMIT_REACHED) before the token is asked;
   * usageFlushMs, usageMaxPending and hardUseLimitFactor then do not apply.
   */
  usage?: KeyUsageService;
  /**
   * Refuse new encryptions once a version is this far past its use limit (1.1 = 110 %, the
   * `overdue` level of due()); null: never refuse, only report. Default 1.1.
   */
  hardUseLimitFactor?: number | null;
  /** Test hook: called at named crash points (see CRASH_POINTS). */
  faults?: (point: string) => void;
  /** See InventoryStoreOptions.onCorrupt; default 'throw' (STORE_CORRUPT). */
  onCorrupt?: 'throw' | 'restore';
}

/** The points `faults` is called at, in rotation order. */
export const CRASH_POINTS = [
  'planned',
  'generate:mid',
  'generated',
  'registering',
  'register:mid',
  'registered',
  'promoted',
  'done',
] as const;

/** A rotation's visible steps, for a progress display (not the journal's steps). */
export const ROTATION_PROGRESS_STEPS = ['planned', 'generating', 'registering', 'promoting', 'done'] as const;
export type RotationProgressStep = (typeof ROTATION_PROGRESS_STEPS)[number];

export interface RotationProgress {
  step: RotationProgressStep;
  logicalKeyId: string;
  version: number;
  message: string;
}

export type RotationProgressSink = (progress: RotationProgress) => void;

export interface CreateKeyRequest {
  name: string;
  purpose: TokenPurpose;
  type?: ManagedKeyType;
  tokenSerial: string;
  policy?: Partial<RotationPolicy>;
  /**
   * Keep the key with the wider usage the token insists on (tpm2-pkcs11's RSA keys both sign and
   * decrypt) instead of refusing it (KEY_TEMPLATE_REFUSED): the admin's explicit choice, audited.
   */
  acceptWiderUsage?: boolean;
}

export interface AdoptRequest {
  tokenSerial: string;
  ckaId: string;
  purpose: TokenPurpose;
  /** Join an existing logical key as its next version (pre-activation unless it has no primary)... */
  logicalKeyId?: string;
  /** ...or start a new logical key with this name (the object becomes its active primary). */
  name?: string;
}

export interface ResumeReport {
  rotations: { rotationId: string; logicalKeyId: string; fromStep: Rotation['step']; versionId: string }[];
  destroyed: string[];
  /** Replaced versions whose grace period had ended, deactivated now. */
  deactivated: string[];
  /** Versions the gateway still has to be told about (retired after a failed or missed call). */
  retirePending: string[];
  failed: { id: string; code: string; message: string }[];
}

export interface RotateDueReport {
  rotated: { logicalKeyId: string; versionId: string; reasons: DueItem['reasons'] }[];
  deactivated: string[];
  failed: { logicalKeyId: string; code: string; message: string }[];
}

const TOKEN_CLASSES: Record<ManagedKeyType, ObjectClass[]> = {
  'aes-256': ['secret'],
  'hmac-256': ['secret'],
  'rsa-2048': ['private', 'public'],
  'rsa-3072': ['private', 'public'],
  'rsa-4096': ['private', 'public'],
};

const PURPOSE_TYPES: Record<ManagedPurpose, readonly ManagedKeyType[]> = {
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

const isRsa = (type: ManagedKeyType) => type.startsWith('rsa-');

export class KeyLifecycleService {
  readonly inventory: InventoryAccess;
  private readonly tokens: TokenCaller;
  private readonly auditFn: (entry: AuditAppend) => void;
  private readonly clock: () => Date;
  private readonly logger: Logger;
  private readonly faults: (point: string) => void;
  private readonly usage: UsageCounter;
  private readonly slotCache = new Map<string, number>();
  /** One lifecycle operation at a time (rotation, destroy, adopt); crypto runs alongside. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly options: KeyLifecycleOptions,
    inventory: InventoryAccess,
  ) {
    this.inventory = inventory;
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

  /** Opens the inventory (STORE_CORRUPT / CONFLICT as InventoryStore.open). Call resume() next. */
  static open(options: KeyLifecycleOptions): KeyLifecycleService {
    const inventory = InventoryStore.open({
      dir: options.dir,
      logger: options.logger,
      clock: options.clock,
      faults: options.faults,
      onCorrupt: options.onCorrupt,
    });
    return new KeyLifecycleService(options, inventory);
  }

  /**
   * For the read channels (list, due, policies): `writer()` (the service this process opens and
   * keeps) when it can have the inventory; while another live process holds its lock (KEYS_BUSY),
   * a read-only service over the file as last written, opened afresh for each read. Its changes
   * (and resume, reconcile, use counting) are refused with that KEYS_BUSY, naming the holder;
   * a damaged file is STORE_CORRUPT as for the writer.
   */
  static forReading(options: KeyLifecycleOptions, writer: () => KeyLifecycleService): KeyLifecycleService {
    try {
      return writer();
    } catch (error) {
      if (!(error instanceof MkmError) || error.code !== 'KEYS_BUSY') throw error;
      // No flush timer: the reader never writes use counts.
      return new KeyLifecycleService(
        { ...options, usageFlushMs: 0 },
        ReadOnlyInventory.open(options.dir, error),
      );
    }
  }

  /** True for a service from forReading over another process's inventory: it only reads. */
  get readOnly(): boolean {
    return this.inventory.readOnly;
  }

  // ------------------------------------------------------------ reading

  list(): InventoryData {
    return this.inventory.read();
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

  /** The effective policy of a logical key. */
  policy(logicalKeyId: string): RotationPolicy {
    return policyFor(this.logicalKey(logicalKeyId), this.options.policies);
  }

  /** The effective policy of each purpose (defaults with this installation's overrides). */
  policies(): Record<ManagedPurpose, RotationPolicy> {
    const out = {} as Record<ManagedPurpose, RotationPolicy>;
    for (const purpose of Object.keys(DEFAULT_POLICIES) as ManagedPurpose[]) {
      out[purpose] = { ...DEFAULT_POLICIES[purpose], ...this.options.policies?.[purpose] };
    }
    return out;
  }

  /** What needs rotating (and which replaced versions' grace is over) at `now`. */
  due(now: Date = this.clock()): { due: DueItem[]; graceExpired: GraceExpired[] } {
    return dueAt(this.inventory.peek(), now, {
      usesOf: (v) => this.usesOf(v),
      policies: this.options.policies,
    });
  }

  // ------------------------------------------------------------ creation and rotation

  /** A new logical key; its version 1 is made through the same journaled steps as a rotation. */
  createKey(
    request: CreateKeyRequest,
    options: { onProgress?: RotationProgressSink } = {},
  ): Promise<{ logicalKey: LogicalKey; version: KeyVersion }> {
    return this.serial(async () => {
      const type = request.type ?? DEFAULT_KEY_TYPE[request.purpose];
      checkPurposeType(request.purpose, type);
      const name = request.name.trim();
      if (!name || name.length > 128)
        throw new MkmError('VALIDATION', 'A key needs a name (1–128 characters).');
      await this.slotFor(request.tokenSerial);
      // A creation the token refused (KEY_TEMPLATE_REFUSED) is still planned: asked again with the
      // admin's acceptance of the wider usage, it goes on rather than conflicting with itself.
      const refusedBefore = this.inventory
        .peek()
        .logicalKeys.find((k) => k.name === name && k.purpose === request.purpose);
      const planned = refusedBefore
        ? this.inventory
            .peek()
            .rotations.find(
              (r) => r.logicalKeyId === refusedBefore.id && r.reason === 'initial' && r.step === 'planned',
            )
        : undefined;
      if (refusedBefore && planned && request.acceptWiderUsage) {
        const version = await this.advance(planned.id, true, options.onProgress, true);
        return { logicalKey: this.logicalKey(refusedBefore.id), version };
      }
      const now = this.clock().toISOString();
      const logicalKey: LogicalKey = {
        id: randomUUID(),
        name,
        purpose: request.purpose,
        type,
        tokenSerial: request.tokenSerial,
        createdAt: now,
        policy: request.policy ?? {},
      };
      const rotation = this.inventory.mutate((draft) => {
        if (draft.logicalKeys.some((k) => k.name === name && k.purpose === request.purpose)) {
          throw new MkmError('CONFLICT', `There is already a ${request.purpose} key named “${name}”.`);
        }
        draft.logicalKeys.push(logicalKey);
        return this.planInto(draft, logicalKey, 'initial');
      });
      this.audit('key.rotate.plan', rotation, { reason: 'initial', name, purpose: request.purpose, type });
      this.faults('planned');
      const version = await this.advance(rotation.id, false, options.onProgress, request.acceptWiderUsage);
      return { logicalKey: this.logicalKey(logicalKey.id), version };
    });
  }

  /**
   * Starts a rotation of a logical key and runs it to the end. A rotation already in flight for
   * the key is continued instead (it is what was asked for).
   */
  rotateNow(
    logicalKeyId: string,
    reason: 'manual' | 'scheduled' | 'compromise' = 'manual',
    options: { onProgress?: RotationProgressSink; acceptWiderUsage?: boolean } = {},
  ): Promise<KeyVersion> {
    return this.serial(() =>
      this.rotateLocked(logicalKeyId, reason, options.onProgress, options.acceptWiderUsage),
    );
  }

  private async rotateLocked(
    logicalKeyId: string,
    reason: 'manual' | 'scheduled' | 'compromise',
    onProgress?: RotationProgressSink,
    acceptWiderUsage?: boolean,
  ): Promise<KeyVersion> {
    const key = this.logicalKey(logicalKeyId);
    if (key.purpose === 'gateway-public') {
      throw new MkmError('VALIDATION', 'The gateway’s public key is rotated by importing its new key.', {
        logicalKeyId,
      });
    }
    const inFlight = this.inventory.peek().rotations.find((r) => r.logicalKeyId === logicalKeyId);
    if (inFlight) return this.advance(inFlight.id, true, onProgress, acceptWiderUsage);
    if (key.tokenSerial === null) throw new MkmError('INTERNAL', 'A token key without a token serial.');
    await this.slotFor(key.tokenSerial);
    const rotation = this.inventory.mutate((draft) => {
      const k = draft.logicalKeys.find((x) => x.id === logicalKeyId)!;
      return this.planInto(draft, k, reason);
    });
    this.audit('key.rotate.plan', rotation, { reason });
    this.faults('planned');
    return this.advance(rotation.id, false, onProgress, acceptWiderUsage);
  }

  /**
   * Finishes what a crash interrupted: pending destroys, then every rotation in flight, each
   * from its journaled step. Failures (e.g. the token is not inserted) are reported, not thrown;
   * the journal keeps them for the next call.
   */
  resume(): Promise<ResumeReport> {
    return this.serial(async () => {
      const report: ResumeReport = {
        rotations: [],
        destroyed: [],
        deactivated: [],
        retirePending: [],
        failed: [],
      };
      for (const v of this.inventory.peek().versions.filter((x) => x.destroyPending)) {
        try {
          await this.finishDestroy(v.id);
          report.destroyed.push(v.id);
        } catch (error) {
          report.failed.push({ id: v.id, ...codeOf(error) });
        }
      }
      for (const r of structuredClone(this.inventory.peek().rotations)) {
        try {
          this.audit('key.rotate.resume', r, { step: r.step });
          const v = await this.advance(r.id, true);
          report.rotations.push({
            rotationId: r.id,
            logicalKeyId: r.logicalKeyId,
            fromStep: r.step,
            versionId: v.id,
          });
        } catch (error) {
          report.failed.push({ id: r.id, ...codeOf(error) });
        }
      }
      // The app has no scheduler: each login (which calls resume) is when grace periods that
      // ended are acted on, and the gateway is told what it missed.
      report.deactivated = await this.sweepLocked(this.clock());
      report.retirePending = this.inventory
        .peek()
        .versions.filter((v) => v.gateway.status === 'retirePending')
        .map((v) => v.id);
      if (
        report.rotations.length ||
        report.destroyed.length ||
        report.deactivated.length ||
        report.failed.length
      )
        this.logger.info('key lifecycle resumed', {
          rotations: report.rotations.length,
          destroyed: report.destroyed.length,
          failed: report.failed.length,
        });
      return report;
    });
  }

  /**
   * Rolls back a rotation that has not promoted yet: the generated object (if any) is destroyed
   * on the token, the new version stays as a destroyed tombstone, the old primary stays primary.
   * A version already registered with the gateway is retired there (best effort, as destroy()).
   */
  abandonRotation(logicalKeyId: string): Promise<KeyVersion> {
    return this.serial(() => this.abandonLocked(logicalKeyId));
  }

  private async abandonLocked(logicalKeyId: string): Promise<KeyVersion> {
    const r = this.inventory.peek().rotations.find((x) => x.logicalKeyId === logicalKeyId);
    if (!r) throw new MkmError('NOT_FOUND', 'No rotation is in progress for this key.', { logicalKeyId });
    if (r.step === 'promoted') {
      throw new MkmError('CONFLICT', 'The new version is already primary; the rotation can only finish.');
    }
    const v = this.version(r.newVersionId);
    const slotId = await this.slotFor(v.tokenSerial!, true);
    const ckaId = v.ckaId ?? (await this.findByLabel(slotId, r.label, v.type))?.id ?? null;
    if (ckaId !== null) await this.destroyOnToken(slotId, ckaId, TOKEN_CLASSES[v.type]);
    const now = this.clock().toISOString();
    this.inventory.mutate((draft) => {
      const nv = draft.versions.find((x) => x.id === v.id)!;
      nv.ckaId = ckaId;
      nv.state = 'destroyed';
      nv.destroyedAt = now;
      this.markRetirePending(nv);
      draft.rotations = draft.rotations.filter((x) => x.id !== r.id);
      draft.history.push({
        rotationId: r.id,
        logicalKeyId,
        fromVersionId: r.fromVersionId,
        newVersionId: r.newVersionId,
        reason: r.reason,
        outcome: 'rolled-back',
        startedAt: r.startedAt,
        finishedAt: now,
        resumed: false,
      });
    });
    this.audit('key.rotate.abandon', r, { step: r.step });
    await this.retireAtGateway(v.id);
    return this.version(v.id);
  }

  private planInto(draft: InventoryData, key: LogicalKey, reason: Rotation['reason']): Rotation {
    if (draft.rotations.some((r) => r.logicalKeyId === key.id)) {
      throw new MkmError('CONFLICT', 'A rotation of this key is already in progress.', {
        logicalKeyId: key.id,
      });
    }
    const now = this.clock();
    const policy = policyFor(key, this.options.policies);
    const versions = draft.versions.filter((v) => v.logicalKeyId === key.id);
    const number = versions.reduce((max, v) => Math.max(max, v.version), 0) + 1;
    const id = randomUUID();
    const rotationId = randomUUID();
    // Deterministic name for the token object: resume finds a generated key by it.
    const label = `mkm/${key.id.slice(0, 8)}/v${number}/${rotationId.slice(0, 8)}`;
    const from = versions.find((v) => v.primary) ?? null;
    draft.versions.push({
      id,
      logicalKeyId: key.id,
      version: number,
      label,
      tokenSerial: key.tokenSerial,
      ckaId: null,
      objectClasses: TOKEN_CLASSES[key.type],
      type: key.type,
      purpose: key.purpose,
      state: 'pre-activation',
      primary: false,
      origin: 'generated',
      createdAt: now.toISOString(),
      activatedAt: null,
      expiresAt: null,
      graceUntil: null,
      deactivatedAt: null,
      suspendedAt: null,
      compromisedAt: null,
      destroyedAt: null,
      cryptoPeriodDays: policy.cryptoPeriodDays,
      useCount: 0,
      fingerprint: null,
      gateway: initialGateway(key.purpose),
      publicKeyPem: null,
      missingSince: null,
      destroyPending: false,
    });
    const rotation: Rotation = {
      id: rotationId,
      logicalKeyId: key.id,
      reason,
      fromVersionId: from?.id ?? null,
      newVersionId: id,
      label,
      step: 'planned',
      startedAt: now.toISOString(),
      updatedAt: now.toISOString(),
    };
    draft.rotations.push(rotation);
    return rotation;
  }

  /** Runs a journaled rotation from its current step to the end; returns the new version. */
  private async advance(
    rotationId: string,
    resumed: boolean,
    onProgress?: RotationProgressSink,
    acceptWiderUsage?: boolean,
  ): Promise<KeyVersion> {
    const first = this.inventory.peek().rotations.find((x) => x.id === rotationId);
    if (first) {
      const n = this.version(first.newVersionId).version;
      this.progress(onProgress, {
        step: 'planned',
        logicalKeyId: first.logicalKeyId,
        version: n,
        message: resumed
          ? `Continuing the rotation to version ${n} from its step “${first.step}”.`
          : `Version ${n} is planned.`,
      });
    }
    for (;;) {
      const r = this.inventory.peek().rotations.find((x) => x.id === rotationId);
      if (!r) throw new MkmError('NOT_FOUND', 'The rotation is no longer in progress.', { rotationId });
      const key = this.logicalKey(r.logicalKeyId);
      const v = this.version(r.newVersionId);
      const tell = (step: RotationProgressStep, message: string) =>
        this.progress(onProgress, { step, logicalKeyId: key.id, version: v.version, message });
      switch (r.step) {
        case 'planned': {
          tell('generating', `Generating version ${v.version} (${v.type}) on the token…`);
          const slotId = await this.slotFor(v.tokenSerial!, true);
          let found = await this.findByLabel(slotId, r.label, v.type);
          if (!found) {
            const generated = await this.tokens.call('generateKey', {
              slotId,
              type: v.type,
              label: r.label,
              purpose: v.purpose as TokenPurpose,
              ...(acceptWiderUsage ? { acceptWiderUsage: true } : {}),
            });
            if (generated.widerUsage?.length) {
              this.audit('key.generate.wider-usage', r, {
                version: v.version,
                type: v.type,
                widerUsage: generated.widerUsage,
                acceptedBy: 'admin',
              });
            }
            this.faults('generate:mid');
            found = { id: generated.id, classes: generated.objects.map((o) => o.class) };
          }
          const { fingerprint, fingerprintNote } = await this.fingerprintOf(slotId, found.id, v.type);
          this.inventory.mutate((draft) => {
            const nv = draft.versions.find((x) => x.id === v.id)!;
            nv.ckaId = found.id;
            nv.fingerprint = fingerprint;
            if (fingerprintNote) nv.fingerprintNote = fingerprintNote;
            this.step(draft, r.id, 'generated');
          });
          this.audit(
            'key.generate',
            { ...r, step: 'generated' },
            { version: v.version, type: v.type, resumed, ...(fingerprintNote ? { fingerprintNote } : {}) },
          );
          this.faults('generated');
          break;
        }
        case 'generated': {
          const needs = NEEDS_GATEWAY_REGISTRATION[v.purpose];
          const hook = this.options.registerWithGateway;
          this.inventory.mutate((draft) => {
            const nv = draft.versions.find((x) => x.id === v.id)!;
            if (needs && hook) {
              nv.gateway = { ...nv.gateway, status: 'pending', updatedAt: this.clock().toISOString() };
              this.step(draft, r.id, 'registering');
            } else {
              if (needs)
                nv.gateway = { ...nv.gateway, status: 'skipped', updatedAt: this.clock().toISOString() };
              this.step(draft, r.id, 'registered');
            }
          });
          this.faults(needs && hook ? 'registering' : 'registered');
          break;
        }
        case 'registering': {
          const hook = this.options.registerWithGateway;
          let reference: string | null = null;
          if (hook) tell('registering', `Registering version ${v.version} with the gateway…`);
          if (hook) {
            const slotId = await this.slotFor(v.tokenSerial!);
            const publicKeyPem = isRsa(v.type)
              ? ((await this.tokens.call('exportPublicKey', { slotId, id: v.ckaId!, format: 'pem' })).pem ??
                null)
              : null;
            try {
              const result = await hook({ logicalKey: key, version: v, publicKeyPem });
              reference = result?.reference ?? null;
            } catch (error) {
              const { code } = codeOf(error);
              this.inventory.mutate((draft) => {
                const nv = draft.versions.find((x) => x.id === v.id)!;
                nv.gateway = {
                  ...nv.gateway,
                  status: 'failed',
                  error: code,
                  updatedAt: this.clock().toISOString(),
                };
              });
              this.audit('key.gateway.register', r, { version: v.version }, code);
              throw error;
            }
            this.faults('register:mid');
          }
          this.inventory.mutate((draft) => {
            const nv = draft.versions.find((x) => x.id === v.id)!;
            nv.gateway = {
              status: hook ? 'registered' : 'skipped',
              reference,
              error: null,
              updatedAt: this.clock().toISOString(),
            };
            this.step(draft, r.id, 'registered');
          });
          if (hook) this.audit('key.gateway.register', r, { version: v.version, reference });
          this.faults('registered');
          break;
        }
        case 'registered': {
          tell('promoting', `Making version ${v.version} the primary…`);
          const now = this.clock();
          const policy = policyFor(key, this.options.policies);
          let replaced: KeyVersion | null = null;
          this.inventory.mutate((draft) => {
            for (const old of draft.versions) {
              if (old.logicalKeyId !== key.id || !old.primary) continue;
              old.primary = false;
              if (old.state === 'active') {
                old.graceUntil = addDays(now, policy.graceDays);
                if (policy.graceDays === 0) {
                  old.state = 'deactivated';
                  old.deactivatedAt = now.toISOString();
                  this.markRetirePending(old, now);
                }
              }
              replaced = structuredClone(old);
            }
            const nv = draft.versions.find((x) => x.id === v.id)!;
            nv.state = 'active';
            nv.primary = true;
            nv.activatedAt = now.toISOString();
            nv.expiresAt = addDays(now, nv.cryptoPeriodDays);
            this.step(draft, r.id, 'promoted');
          });
          const old = replaced as KeyVersion | null;
          this.audit('key.rotate.promote', r, {
            version: v.version,
            replacedVersion: old?.version ?? null,
            graceUntil: old?.graceUntil ?? null,
          });
          this.faults('promoted');
          if (old?.gateway.status === 'retirePending') await this.retireAtGateway(old.id);
          break;
        }
        case 'promoted': {
          const now = this.clock().toISOString();
          this.inventory.mutate((draft) => {
            draft.rotations = draft.rotations.filter((x) => x.id !== r.id);
            draft.history.push({
              rotationId: r.id,
              logicalKeyId: r.logicalKeyId,
              fromVersionId: r.fromVersionId,
              newVersionId: r.newVersionId,
              reason: r.reason,
              outcome: 'completed',
              startedAt: r.startedAt,
              finishedAt: now,
              resumed,
            });
            // A bounded history: the audit log is the record of all of them.
            if (draft.history.length > 200) draft.history.splice(0, draft.history.length - 200);
          });
          this.audit('key.rotate.complete', r, { version: v.version, reason: r.reason, resumed });
          this.faults('done');
          this.logger.info('key rotated', { logicalKeyId: r.logicalKeyId, version: v.version, resumed });
          // The result names the new primary; the last step only says the rotation ended (said once).
          tell('done', 'Rotation complete.');
          return this.version(v.id);
        }
      }
    }
  }

  /** A progress display must never break a rotation. */
  private progress(sink: RotationProgressSink | undefined, p: RotationProgress): void {
    if (!sink) return;
    try {
      sink(p);
    } catch (error) {
      this.logger.warn('a rotation progress listener failed', { error: toErrorShape(error) });
    }
  }

  private step(draft: InventoryData, rotationId: string, step: Rotation['step']): void {
    const r = draft.rotations.find((x) => x.id === rotationId)!;
    r.step = step;
    r.updatedAt = this.clock().toISOString();
  }

  // ------------------------------------------------------------ state changes

  /**
   * Declares a version compromised: it stops being usable at once (no encrypt, no decrypt), and
   * if it was the primary (or a version being rotated in) a rotation starts and runs to the end.
   */
  markCompromised(
    versionId: string,
    options: { note?: string; onProgress?: RotationProgressSink } = {},
  ): Promise<{ compromised: KeyVersion; replacement: KeyVersion | null }> {
    return this.serial(async () => {
      const v = this.version(versionId);
      assertTransition(v, 'compromised');
      const inFlight = this.inventory.peek().rotations.find((r) => r.logicalKeyId === v.logicalKeyId);
      if (inFlight?.newVersionId === v.id) {
        // The version being rotated in is itself compromised: roll that rotation back first.
        await this.abandonLocked(v.logicalKeyId);
      }
      const now = this.clock().toISOString();
      this.inventory.mutate((draft) => {
        const x = draft.versions.find((y) => y.id === versionId)!;
        x.state = 'compromised';
        x.compromisedAt = now;
        x.deactivatedAt ??= now;
        x.primary = false;
        x.graceUntil = null;
        this.markRetirePending(x);
      });
      this.audit('key.compromise', v, {
        version: v.version,
        wasPrimary: v.primary,
        note: options.note ?? null,
      });
      this.logger.warn('key version declared compromised', { versionId, logicalKeyId: v.logicalKeyId });
      // Before the replacement: the gateway must stop using a compromised key first.
      await this.retireAtGateway(versionId);
      const key = this.logicalKey(v.logicalKeyId);
      let replacement: KeyVersion | null = null;
      const needsNew =
        key.purpose !== 'gateway-public' &&
        (v.primary || inFlight?.newVersionId === v.id || !this.primary(key.id));
      if (needsNew) replacement = await this.rotateLocked(key.id, 'compromise', options.onProgress);
      return { compromised: this.version(versionId), replacement };
    });
  }

  /**
   * Ends the originator-usage of a non-primary version (it still decrypts/verifies). A version
   * registered with the gateway is retired there (best effort; retried by resume() and sweep()).
   */
  deactivate(versionId: string): Promise<KeyVersion> {
    return this.serial(async () => {
      this.stopUse(versionId, 'deactivated', 'key.deactivate');
      await this.retireAtGateway(versionId);
      return this.version(versionId);
    });
  }

  /** Suspends a version (no use at all) until reactivate(); a primary cannot be suspended. */
  suspend(versionId: string): KeyVersion {
    return this.stopUse(versionId, 'suspended', 'key.suspend');
  }

  /** Deactivate and suspend differ only in the state they reach and the date they stamp. */
  private stopUse(
    versionId: string,
    state: 'deactivated' | 'suspended',
    action: 'key.deactivate' | 'key.suspend',
  ): KeyVersion {
    const v = this.version(versionId);
    if (v.primary) throw new MkmError('CONFLICT', 'Rotate the key first: this version is the primary.');
    assertTransition(v, state);
    const now = this.clock().toISOString();
    this.inventory.mutate((draft) => {
      const x = draft.versions.find((y) => y.id === versionId)!;
      x.state = state;
      if (state === 'deactivated') {
        x.deactivatedAt = now;
        this.markRetirePending(x);
      } else x.suspendedAt = now;
    });
    this.audit(action, v, { version: v.version });
    return this.version(versionId);
  }

  reactivate(versionId: string): KeyVersion {
    const v = this.version(versionId);
    if (v.state !== 'suspended')
      throw new MkmError('CONFLICT', 'Only a suspended version can be reactivated.');
    this.inventory.mutate((draft) => {
      const x = draft.versions.find((y) => y.id === versionId)!;
      x.state = 'active';
      x.suspendedAt = null;
    });
    this.audit('key.reactivate', v, { version: v.version });
    return this.version(versionId);
  }

  /**
   * Deactivates every replaced version whose grace period ended by `now`, then tells the gateway
   * about every registered version that left service and was not retired there yet.
   */
  sweep(now: Date = this.clock()): Promise<string[]> {
    return this.serial(() => this.sweepLocked(now));
  }

  private async sweepLocked(now: Date): Promise<string[]> {
    const { graceExpired } = this.due(now);
    for (const g of graceExpired) {
      const v = this.version(g.versionId);
      this.inventory.mutate((draft) => {
        const x = draft.versions.find((y) => y.id === g.versionId)!;
        x.state = 'deactivated';
        x.deactivatedAt = now.toISOString();
        this.markRetirePending(x, now);
      });
      this.audit('key.deactivate', v, { version: v.version, graceUntil: g.graceUntil, automatic: true });
    }
    await this.retirePendingAll();
    return graceExpired.map((g) => g.versionId);
  }

  /** Tries again to retire at the gateway every version waiting for it; returns those still waiting. */
  retryRetirements(): Promise<string[]> {
    return this.serial(() => this.retirePendingAll());
  }

  private async retirePendingAll(): Promise<string[]> {
    const waiting = this.inventory
      .peek()
      .versions.filter((v) => v.gateway.status === 'retirePending')
      .map((v) => v.id);
    for (const id of waiting) await this.retireAtGateway(id);
    return this.inventory
      .peek()
      .versions.filter((v) => v.gateway.status === 'retirePending')
      .map((v) => v.id);
  }

  /**
   * Journals that the gateway must be told a registered version left service: set in the same
   * write as the state change, so a crash between the two cannot forget the retirement.
   */
  private markRetirePending(x: KeyVersion, now: Date = this.clock()): void {
    if (x.gateway.status !== 'registered') return;
    x.gateway = { ...x.gateway, status: 'retirePending', error: null, updatedAt: now.toISOString() };
  }

  /**
   * Best effort: calls the retirement hook for a version marked retirePending. Success records
   * `retired`; a failure keeps retirePending with the error code (retried later) and never
   * throws, since the state change it follows has already happened and is what matters.
   */
  private async retireAtGateway(versionId: string): Promise<void> {
    const v = this.version(versionId);
    const hook = this.options.retireAtGateway;
    if (v.gateway.status !== 'retirePending' || !hook) return;
    const reason: GatewayRetirementRequest['reason'] =
      v.state === 'compromised'
        ? 'compromised'
        : v.state === 'destroyed' || v.destroyPending
          ? 'destroyed'
          : 'deactivated';
    try {
      await hook({ logicalKey: this.logicalKey(v.logicalKeyId), version: v, reason });
    } catch (error) {
      const { code } = codeOf(error);
      this.inventory.mutate((draft) => {
        const x = draft.versions.find((y) => y.id === versionId)!;
        x.gateway = { ...x.gateway, error: code, updatedAt: this.clock().toISOString() };
      });
      this.audit(
        'key.gateway.retire',
        v,
        { version: v.version, reason, reference: v.gateway.reference },
        code,
      );
      this.logger.warn('the gateway was not told a key version left service; it will be retried', {
        versionId,
        code,
      });
      return;
    }
    this.inventory.mutate((draft) => {
      const x = draft.versions.find((y) => y.id === versionId)!;
      x.gateway = { ...x.gateway, status: 'retired', error: null, updatedAt: this.clock().toISOString() };
    });
    this.audit('key.gateway.retire', v, { version: v.version, reason, reference: v.gateway.reference });
  }

  /** Rotates every key that is due or overdue, then sweeps. Warnings are left alone. */
  async rotateDue(now: Date = this.clock()): Promise<RotateDueReport> {
    const report: RotateDueReport = { rotated: [], deactivated: [], failed: [] };
    for (const item of this.due(now).due) {
      if (item.level === 'warning' || !item.rotatable) continue;
      try {
        const v = await this.rotateNow(item.logicalKeyId, 'scheduled');
        report.rotated.push({ logicalKeyId: item.logicalKeyId, versionId: v.id, reasons: item.reasons });
      } catch (error) {
        report.failed.push({ logicalKeyId: item.logicalKeyId, ...codeOf(error) });
      }
    }
    report.deactivated = await this.sweep(now);
    return report;
  }

  /**
   * Destroys a version's token objects; the record stays as a tombstone (state destroyed).
   * Needs `confirm: true` and the version's label typed again. Only pre-activation, deactivated
   * or compromised versions can be destroyed (SP 800-57: deactivate first).
   */
  destroy(versionId: string, confirmation: { confirm: boolean; confirmLabel: string }): Promise<KeyVersion> {
    return this.serial(async () => {
      const v = this.version(versionId);
      const keyName = this.inventory.peek().logicalKeys.find((k) => k.id === v.logicalKeyId)?.name;
      const name = keyName === undefined ? v.label : versionName(keyName, v.version);
      // A person types the version's name; a script may still give the token label.
      const typed = confirmation?.confirmLabel ?? '';
      if (confirmation?.confirm !== true || (typed !== name && typed !== v.label)) {
        throw new MkmError(
          'CONFIRMATION_REQUIRED',
          `Destroying a key cannot be undone: type “${name}” to confirm. ${typed ? (confirmationMismatch(name, typed) ?? '') : ''}`.trim(),
          { versionId, name, label: v.label },
        );
      }
      if (v.state === 'destroyed' && !v.destroyPending) return v;
      if (!v.destroyPending) {
        if (v.primary) throw new MkmError('CONFLICT', 'Rotate the key first: this version is the primary.');
        if (this.inventory.peek().rotations.some((r) => r.newVersionId === v.id)) {
          throw new MkmError('CONFLICT', 'This version is being rotated in; abandon the rotation instead.');
        }
        assertTransition(v, 'destroyed');
        this.inventory.mutate((draft) => {
          const x = draft.versions.find((y) => y.id === versionId)!;
          x.destroyPending = true;
          this.markRetirePending(x);
        });
        this.faults('destroy:journaled');
      }
      return this.finishDestroy(versionId);
    });
  }

  private async finishDestroy(versionId: string): Promise<KeyVersion> {
    const v = this.version(versionId);
    if (v.ckaId !== null && v.tokenSerial !== null) {
      const slotId = await this.slotFor(v.tokenSerial, true);
      await this.destroyOnToken(slotId, v.ckaId, v.objectClasses);
    }
    const now = this.clock().toISOString();
    this.flushUsage();
    this.inventory.mutate((draft) => {
      const x = draft.versions.find((y) => y.id === versionId)!;
      x.state = 'destroyed';
      x.destroyedAt = now;
      x.destroyPending = false;
      x.primary = false;
      x.graceUntil = null;
      x.publicKeyPem = null;
    });
    this.audit('key.destroy', v, { version: v.version, previousState: v.state });
    await this.retireAtGateway(versionId);
    return this.version(versionId);
  }

  // ------------------------------------------------------------ token inventory

  /** Compares the inventory with the objects on a token (see InventoryStore.reconcile). */
  async reconcile(tokenSerial: string): Promise<ReconcileReport> {
    const slotId = await this.slotFor(tokenSerial, true);
    const objects = await this.tokens.call('listObjects', { slotId });
    const report = this.inventory.reconcile(tokenSerial, objects);
    for (const m of report.missing) {
      this.audit('key.missing', this.version(m.versionId), { since: m.since }, 'KEY_NOT_FOUND');
    }
    return report;
  }

  /** Makes an unmanaged token key a managed version (see AdoptRequest). */
  adopt(request: AdoptRequest): Promise<KeyVersion> {
    return this.serial(async () => {
      const ckaId = request.ckaId.toLowerCase();
      if (!/^(?:[0-9a-f]{2})+$/.test(ckaId)) {
        throw new MkmError('VALIDATION', 'Only an object with a CKA_ID can be adopted.', { field: 'ckaId' });
      }
      if (
        this.inventory
          .peek()
          .versions.some(
            (v) => v.tokenSerial === request.tokenSerial && v.ckaId === ckaId && v.state !== 'destroyed',
          )
      ) {
        throw new MkmError('CONFLICT', 'This key is already managed.', { ckaId });
      }
      const slotId = await this.slotFor(request.tokenSerial, true);
      const objects = (await this.tokens.call('listObjects', { slotId })).filter(
        (o) => o.id === ckaId && (o.class === 'secret' || o.class === 'private' || o.class === 'public'),
      );
      const first = objects.find((o) => o.class !== 'public') ?? objects[0];
      if (!first) throw new MkmError('KEY_NOT_FOUND', undefined, { ckaId });
      if (this.inventory.peek().rotations.some((r) => r.label === first.label)) {
        throw new MkmError('CONFLICT', 'This key belongs to a rotation in progress; resume() records it.', {
          ckaId,
        });
      }
      const type = typeOfObject(first);
      checkPurposeType(request.purpose, type);
      const { fingerprint, fingerprintNote } = await this.fingerprintOf(slotId, ckaId, type);
      const now = this.clock();
      const v = this.inventory.mutate((draft) => {
        let key: LogicalKey;
        if (request.logicalKeyId) {
          const existing = draft.logicalKeys.find((k) => k.id === request.logicalKeyId);
          if (!existing) throw new MkmError('NOT_FOUND', 'No such logical key.');
          if (existing.purpose !== request.purpose || existing.type !== type)
            throw new MkmError('VALIDATION', 'The key does not match the logical key’s purpose and type.');
          key = existing;
        } else {
          const name = request.name?.trim() || first.label || `adopted ${ckaId.slice(0, 8)}`;
          key = {
            id: randomUUID(),
            name,
            purpose: request.purpose,
            type,
            tokenSerial: request.tokenSerial,
            createdAt: now.toISOString(),
            policy: {},
          };
          draft.logicalKeys.push(key);
        }
        const siblings = draft.versions.filter((x) => x.logicalKeyId === key.id);
        const becomesPrimary =
          !siblings.some((x) => x.primary) && !draft.rotations.some((r) => r.logicalKeyId === key.id);
        const policy = policyFor(key, this.options.policies);
        const record: KeyVersion = {
          id: randomUUID(),
          logicalKeyId: key.id,
          version: siblings.reduce((m, x) => Math.max(m, x.version), 0) + 1,
          label: first.label || `adopted ${ckaId.slice(0, 8)}`,
          tokenSerial: request.tokenSerial,
          ckaId,
          objectClasses: objects.map((o) => o.class),
          type,
          purpose: request.purpose,
          state: becomesPrimary ? 'active' : 'pre-activation',
          primary: becomesPrimary,
          origin: 'adopted',
          createdAt: now.toISOString(),
          activatedAt: becomesPrimary ? now.toISOString() : null,
          expiresAt: becomesPrimary ? addDays(now, policy.cryptoPeriodDays) : null,
          graceUntil: null,
          deactivatedAt: null,
          suspendedAt: null,
          compromisedAt: null,
          destroyedAt: null,
          cryptoPeriodDays: policy.cryptoPeriodDays,
          useCount: 0,
          fingerprint,
          ...(fingerprintNote ? { fingerprintNote } : {}),
          gateway: initialGateway(request.purpose),
          publicKeyPem: null,
          missingSince: null,
          destroyPending: false,
        };
        draft.versions.push(record);
        return record;
      });
      this.audit('key.adopt', v, {
        version: v.version,
        purpose: v.purpose,
        primary: v.primary,
        ...(fingerprintNote ? { fingerprintNote } : {}),
      });
      return structuredClone(v);
    });
  }

  /**
   * The gateway's RSA public key (PEM, certificate or JWK; a private key is refused). It becomes
   * the new primary version of a `gateway-public` logical key at once; the previous one keeps
   * its grace period. No token object.
   */
  importGatewayPublicKey(request: { pem: string; name?: string; logicalKeyId?: string }): KeyVersion {
    const parsed = parseRsaPublicKey(request.pem);
    const type = `rsa-${parsed.modulusBits}` as ManagedKeyType;
    if (!PURPOSE_TYPES['gateway-public'].includes(type)) {
      throw new MkmError('PUBLIC_KEY_INVALID', 'The gateway key must be RSA 2048, 3072 or 4096 bits.', {
        bits: parsed.modulusBits,
      });
    }
    const now = this.clock();
    const v = this.inventory.mutate((draft) => {
      let key = request.logicalKeyId
        ? draft.logicalKeys.find((k) => k.id === request.logicalKeyId)
        : undefined;
      if (request.logicalKeyId && (!key || key.purpose !== 'gateway-public')) {
        throw new MkmError('NOT_FOUND', 'No such gateway public key.');
      }
      if (!key) {
        const name = request.name?.trim() || 'Gateway public key';
        key = {
          id: randomUUID(),
          name,
          purpose: 'gateway-public',
          type,
          tokenSerial: null,
          createdAt: now.toISOString(),
          policy: {},
        };
        draft.logicalKeys.push(key);
      }
      const siblings = draft.versions.filter((x) => x.logicalKeyId === key.id);
      if (siblings.some((x) => x.state !== 'destroyed' && x.fingerprint?.value === parsed.spkiSha256)) {
        throw new MkmError('CONFLICT', 'This gateway key is already imported.');
      }
      key.type = type;
      const policy = policyFor(key, this.options.policies);
      for (const old of siblings) {
        if (!old.primary) continue;
        old.primary = false;
        old.graceUntil = addDays(now, policy.graceDays);
      }
      const record: KeyVersion = {
        id: randomUUID(),
        logicalKeyId: key.id,
        version: siblings.reduce((m, x) => Math.max(m, x.version), 0) + 1,
        label: `${key.name} v${siblings.length + 1}`.slice(0, 128),
        tokenSerial: null,
        ckaId: null,
        objectClasses: [],
        type,
        purpose: 'gateway-public',
        state: 'active',
        primary: true,
        origin: 'imported',
        createdAt: now.toISOString(),
        activatedAt: now.toISOString(),
        expiresAt: addDays(now, policy.cryptoPeriodDays),
        graceUntil: null,
        deactivatedAt: null,
        suspendedAt: null,
        compromisedAt: null,
        destroyedAt: null,
        cryptoPeriodDays: policy.cryptoPeriodDays,
        useCount: 0,
        fingerprint: { kind: 'spki-sha256', value: parsed.spkiSha256 },
        gateway: initialGateway('gateway-public'),
        publicKeyPem: spkiPem(parsed.spkiDer),
        missingSince: null,
        destroyPending: false,
      };
      draft.versions.push(record);
      return record;
    });
    this.audit('key.import-public', v, { version: v.version, bits: parsed.modulusBits });
    return structuredClone(v);
  }

  /** The gateway part records what the gateway said about a version. */
  setGatewayStatus(versionId: string, status: Omit<GatewayStatus, 'updatedAt'>): KeyVersion {
    const v = this.version(versionId);
    this.inventory.mutate((draft) => {
      draft.versions.find((y) => y.id === versionId)!.gateway = {
        ...status,
        updatedAt: this.clock().toISOString(),
      };
    });
    this.audit('key.gateway.status', v, { status: status.status, reference: status.reference });
    return this.version(versionId);
  }

  // ------------------------------------------------------------ cryptographic use

  /** The primary version new work goes under, if the key has the purpose and a usable primary. */
  private primaryToUse(
    logicalKeyId: string,
    purpose: 'data' | 'hmac',
    wrongPurpose: string,
  ): { key: LogicalKey; v: KeyVersion } {
    const key = this.logicalKey(logicalKeyId);
    if (key.purpose !== purpose)
      throw new MkmError('KEY_NOT_PERMITTED', wrongPurpose, { purpose: key.purpose });
    const v = this.inventory.peek().versions.find((x) => x.logicalKeyId === logicalKeyId && x.primary);
    if (!v || !mayProtect(v)) {
      throw new MkmError('KEY_NOT_PERMITTED', 'This key has no usable primary version; rotate it.', {
        logicalKeyId,
        state: v?.state ?? null,
        missing: v ? v.missingSince !== null : null,
      });
    }
    return { key, v };
  }

  /** AES-256-CBC-PAD on the token under the data key's primary; returns an mkm1 envelope. */
  async encryptWithPrimary(logicalKeyId: string, plaintext: Uint8Array): Promise<string> {
    const { key, v } = this.primaryToUse(logicalKeyId, 'data', 'Only data keys encrypt data.');
    this.options.usage?.check({ versionId: v.id });
    const factor = this.options.usage ? null : this.hardLimitFactor();
    const { maxUses } = policyFor(key, this.options.policies);
    if (factor !== null && maxUses !== null && this.usesOf(v) >= useLimit(maxUses, factor)) {
      throw new MkmError('KEY_NOT_PERMITTED', 'This key version reached its use limit; rotate the key.', {
        versionId: v.id,
        uses: this.usesOf(v),
        maxUses,
      });
    }
    const { iv, data } = await this.onToken(v.tokenSerial!, async (slotId) => {
      const random = (await this.tokens.call('generateRandom', { slotId, length: 16 })).data;
      const out = await this.tokens.call('encrypt', {
        slotId,
        id: v.ckaId!,
        mechanism: 'AES_CBC_PAD',
        iv: random,
        data: Buffer.from(plaintext).toString('base64'),
      });
      return { iv: random, data: out.data };
    });
    this.recordUse(v, 'encrypt');
    return formatEnvelope({ versionId: v.id, iv, ciphertext: data });
  }

  /**
   * The version named by an envelope or a tag, if it may still open what it made (active or
   * deactivated, of the right purpose, with its object on the token).
   */
  private versionToOpen(
    versionId: string,
    purpose: 'data' | 'hmac',
    made: 'data was encrypted under' | 'tag was made with',
  ): { v: KeyVersion; ckaId: string } {
    const v = this.inventory.peek().versions.find((x) => x.id === versionId);
    const what = purpose === 'data' ? 'data' : 'tag';
    if (!v)
      throw new MkmError('KEY_NOT_FOUND', `No key version of this inventory made this ${what}.`, {
        versionId,
      });
    if (v.purpose !== purpose) throw new MkmError('KEY_NOT_PERMITTED', undefined, { purpose: v.purpose });
    if (!mayProcess(v) || v.ckaId === null) {
      throw new MkmError('KEY_NOT_PERMITTED', `This ${made} a key version that is ${v.state}.`, {
        versionId: v.id,
        state: v.state,
      });
    }
    return { v, ckaId: v.ckaId };
  }

  /** Opens an mkm1 envelope with the version it names (active or deactivated). */
  async decrypt(envelope: string): Promise<Buffer> {
    const e = parseEnvelope(envelope);
    const { v, ckaId } = this.versionToOpen(e.versionId, 'data', 'data was encrypted under');
    const { data } = await this.onToken(v.tokenSerial!, (slotId) =>
      this.tokens.call('decrypt', {
        slotId,
        id: ckaId,
        mechanism: 'AES_CBC_PAD',
        iv: e.iv,
        data: e.ciphertext,
      }),
    );
    this.recordUse(v, 'decrypt');
    return Buffer.from(data, 'base64');
  }

  /** HMAC-SHA256 on the token under an hmac key's primary; returns an mkm1m tag. */
  async macWithPrimary(logicalKeyId: string, data: Uint8Array): Promise<string> {
    const { v } = this.primaryToUse(logicalKeyId, 'hmac', 'Only hmac keys make MACs here.');
    this.options.usage?.check({ versionId: v.id });
    const { mac } = await this.onToken(v.tokenSerial!, (slotId) =>
      this.tokens.call('hmacSign', { slotId, id: v.ckaId!, data: Buffer.from(data).toString('base64') }),
    );
    this.recordUse(v, 'mac');
    return formatMacTag({ versionId: v.id, mac });
  }

  /** Checks an mkm1m tag with the version it names (active or deactivated). */
  async verifyMac(data: Uint8Array, tag: string): Promise<boolean> {
    const t = parseMacTag(tag);
    const { v, ckaId } = this.versionToOpen(t.versionId, 'hmac', 'tag was made with');
    const { valid } = await this.onToken(v.tokenSerial!, (slotId) =>
      this.tokens.call('hmacVerify', {
        slotId,
        id: ckaId,
        data: Buffer.from(data).toString('base64'),
        mac: t.mac,
      }),
    );
    this.recordUse(v, 'verify');
    return valid;
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

  private recordUse(v: KeyVersion, operation: UsageOperation): void {
    if (this.options.usage) this.options.usage.record({ versionId: v.id }, operation);
    else this.usage.record(v.id);
  }

  private hardLimitFactor(): number | null {
    return this.options.hardUseLimitFactor === undefined ? 1.1 : this.options.hardUseLimitFactor;
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

  // ------------------------------------------------------------ internals

  private serial<T>(body: () => Promise<T>): Promise<T> {
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
  private async slotFor(serial: string, fresh = false): Promise<number> {
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
  private async onToken<T>(serial: string, body: (slotId: number) => Promise<T>): Promise<T> {
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

  private async findByLabel(
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
  private async fingerprintOf(
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

  private async destroyOnToken(slotId: number, ckaId: string, classes: ObjectClass[]): Promise<void> {
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

  private audit(
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

function initialGateway(purpose: ManagedPurpose): GatewayStatus {
  return {
    status: NEEDS_GATEWAY_REGISTRATION[purpose] ? 'pending' : 'not-required',
    reference: null,
    updatedAt: null,
    error: null,
  };
}

function checkPurposeType(purpose: ManagedPurpose, type: ManagedKeyType): void {
  if (!PURPOSE_TYPES[purpose].includes(type)) {
    throw new MkmError('VALIDATION', `A ${type} key cannot be used for ${purpose}.`, {
      purpose,
      type,
      allowed: [...PURPOSE_TYPES[purpose]],
    });
  }
}

function typeOfObject(o: ObjectInfo): ManagedKeyType {
  if (o.keyType === 'aes' && (o.bits === 256 || o.bits === null)) return 'aes-256';
  const hmacSha256 = o.keyType !== null && HMAC_SHA256_KEY_TYPES.includes(o.keyType);
  if (hmacSha256 && (o.bits === 256 || o.bits === null)) return 'hmac-256';
  if (o.keyType === 'rsa' && (o.bits === 2048 || o.bits === 3072 || o.bits === 4096)) return `rsa-${o.bits}`;
  if (isHmacKeyType(o.keyType) && !hmacSha256) {
    throw new MkmError(
      'KEY_TYPE_INCONSISTENT',
      `This is an HMAC key for another hash (${o.keyType}); mkm makes and checks MACs with HMAC-SHA256 only, so it cannot manage it.`,
      { keyType: o.keyType, bits: o.bits },
    );
  }
  throw new MkmError(
    'KEY_TYPE_INCONSISTENT',
    'Only AES-256, HMAC-256 and RSA 2048–4096 keys can be managed.',
    {
      keyType: o.keyType,
      bits: o.bits,
    },
  );
}

function codeOf(error: unknown): { code: ErrorCode; message: string } {
  const shape = toErrorShape(error);
  return { code: shape.code, message: shape.message };
}
