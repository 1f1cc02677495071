import { MkmError } from '../../shared/errors.std';
import type { ManagedPurpose } from '../../shared/lifecycle/vocabulary.std';
import {
  InventoryStore,
  ReadOnlyInventory,
  type InventoryAccess,
  type ReconcileReport,
} from './inventory.nodejs';
import {
  DEFAULT_POLICIES,
  policyFor,
  type DueItem,
  type GatewayStatus,
  type GraceExpired,
  type InventoryData,
  type KeyVersion,
  type LogicalKey,
  type RotationPolicy,
} from './model.std';
import * as adoptImport from './key-lifecycle/adopt-import.nodejs';
import { codeOf, LifecycleCore } from './key-lifecycle/core.nodejs';
import * as keyUse from './key-lifecycle/key-use.nodejs';
import * as retirement from './key-lifecycle/retirement.nodejs';
import * as rotation from './key-lifecycle/rotation.nodejs';
import * as stateChanges from './key-lifecycle/state-changes.nodejs';
import type {
  AdoptRequest,
  CreateKeyRequest,
  KeyLifecycleOptions,
  ResumeReport,
  RotateDueReport,
  RotationProgressSink,
} from './key-lifecycle/types.nodejs';

// The service's vocabulary is declared beside its parts; callers keep importing it from here.
export {
  CRASH_POINTS,
  ROTATION_PROGRESS_STEPS,
  type AdoptRequest,
  type CreateKeyRequest,
  type GatewayRegistrationHook,
  type GatewayRegistrationRequest,
  type GatewayRetirementHook,
  type GatewayRetirementRequest,
  type KeyLifecycleOptions,
  type ResumeReport,
  type RotateDueReport,
  type RotationProgress,
  type RotationProgressSink,
  type RotationProgressStep,
  type TokenCaller,
} from './key-lifecycle/types.nodejs';

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
export class KeyLifecycleService {
  readonly inventory: InventoryAccess;
  private readonly core: LifecycleCore;

  private constructor(options: KeyLifecycleOptions, inventory: InventoryAccess) {
    this.inventory = inventory;
    this.core = new LifecycleCore(options, inventory);
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

  // ---------------------------------------- reading

  list(): InventoryData {
    return this.inventory.read();
  }

  logicalKey(id: string): LogicalKey {
    return this.core.logicalKey(id);
  }

  version(id: string): KeyVersion {
    return this.core.version(id);
  }

  versions(logicalKeyId: string): KeyVersion[] {
    return this.core.versions(logicalKeyId);
  }

  primary(logicalKeyId: string): KeyVersion | null {
    return this.core.primary(logicalKeyId);
  }

  /** The effective policy of a logical key. */
  policy(logicalKeyId: string): RotationPolicy {
    return policyFor(this.logicalKey(logicalKeyId), this.core.options.policies);
  }

  /** The effective policy of each purpose (defaults with this installation's overrides). */
  policies(): Record<ManagedPurpose, RotationPolicy> {
    const out = {} as Record<ManagedPurpose, RotationPolicy>;
    for (const purpose of Object.keys(DEFAULT_POLICIES) as ManagedPurpose[]) {
      out[purpose] = { ...DEFAULT_POLICIES[purpose], ...this.core.options.policies?.[purpose] };
    }
    return out;
  }

  /** What needs rotating (and which replaced versions' grace is over) at `now`. */
  due(now?: Date): { due: DueItem[]; graceExpired: GraceExpired[] } {
    return this.core.due(now);
  }

  // ---------------------------------------- creation and rotation: key-lifecycle/rotation.nodejs.ts

  /** A new logical key; its version 1 is made through the same journaled steps as a rotation. */
  createKey(
    request: CreateKeyRequest,
    options: { onProgress?: RotationProgressSink } = {},
  ): Promise<{ logicalKey: LogicalKey; version: KeyVersion }> {
    return rotation.createKey(this.core, request, options);
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
    return rotation.rotateNow(this.core, logicalKeyId, reason, options);
  }

  /**
   * Finishes what a crash interrupted: pending destroys, then every rotation in flight, each
   * from its journaled step. Failures (e.g. the token is not inserted) are reported, not thrown;
   * the journal keeps them for the next call.
   */
  resume(): Promise<ResumeReport> {
    return this.core.serial(async () => {
      const report: ResumeReport = {
        rotations: [],
        destroyed: [],
        deactivated: [],
        retirePending: [],
        failed: [],
      };
      for (const v of this.inventory.peek().versions.filter((x) => x.destroyPending)) {
        try {
          await stateChanges.finishDestroy(this.core, v.id);
          report.destroyed.push(v.id);
        } catch (error) {
          report.failed.push({ id: v.id, ...codeOf(error) });
        }
      }
      for (const r of structuredClone(this.inventory.peek().rotations)) {
        try {
          this.core.audit('key.rotate.resume', r, { step: r.step });
          const v = await rotation.advance(this.core, r.id, true);
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
      report.deactivated = await stateChanges.sweepLocked(this.core, this.core.clock());
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
        this.core.logger.info('key lifecycle resumed', {
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
    return rotation.abandonRotation(this.core, logicalKeyId);
  }

  // ---------------------------------------- state changes: key-lifecycle/state-changes.nodejs.ts

  /**
   * Declares a version compromised: it stops being usable at once (no encrypt, no decrypt), and
   * if it was the primary (or a version being rotated in) a rotation starts and runs to the end.
   */
  markCompromised(
    versionId: string,
    options: { note?: string; onProgress?: RotationProgressSink } = {},
  ): Promise<{ compromised: KeyVersion; replacement: KeyVersion | null }> {
    return stateChanges.markCompromised(this.core, versionId, options);
  }

  /**
   * Ends the originator-usage of a non-primary version (it still decrypts/verifies). A version
   * registered with the gateway is retired there (best effort; retried by resume() and sweep()).
   */
  deactivate(versionId: string): Promise<KeyVersion> {
    return stateChanges.deactivate(this.core, versionId);
  }

  /** Suspends a version (no use at all) until reactivate(); a primary cannot be suspended. */
  suspend(versionId: string): KeyVersion {
    return stateChanges.suspend(this.core, versionId);
  }

  reactivate(versionId: string): KeyVersion {
    return stateChanges.reactivate(this.core, versionId);
  }

  /**
   * Deactivates every replaced version whose grace period ended by `now`, then tells the gateway
   * about every registered version that left service and was not retired there yet.
   */
  sweep(now?: Date): Promise<string[]> {
    return stateChanges.sweep(this.core, now);
  }

  /** Rotates every key that is due or overdue, then sweeps. Warnings are left alone. */
  rotateDue(now?: Date): Promise<RotateDueReport> {
    return stateChanges.rotateDue(this.core, now);
  }

  /**
   * Destroys a version's token objects; the record stays as a tombstone (state destroyed).
   * Needs `confirm: true` and the version's label typed again. Only pre-activation, deactivated
   * or compromised versions can be destroyed (SP 800-57: deactivate first).
   */
  destroy(versionId: string, confirmation: { confirm: boolean; confirmLabel: string }): Promise<KeyVersion> {
    return stateChanges.destroy(this.core, versionId, confirmation);
  }

  // ---------------------------------------- gateway retirement: key-lifecycle/retirement.nodejs.ts

  /** Tries again to retire at the gateway every version waiting for it; returns those still waiting. */
  retryRetirements(): Promise<string[]> {
    return retirement.retryRetirements(this.core);
  }

  // ---------------------------------------- adopt and import: key-lifecycle/adopt-import.nodejs.ts

  /** Compares the inventory with the objects on a token (see InventoryStore.reconcile). */
  reconcile(tokenSerial: string): Promise<ReconcileReport> {
    return adoptImport.reconcile(this.core, tokenSerial);
  }

  /** Makes an unmanaged token key a managed version (see AdoptRequest). */
  adopt(request: AdoptRequest): Promise<KeyVersion> {
    return adoptImport.adopt(this.core, request);
  }

  /**
   * The gateway's RSA public key (PEM, certificate or JWK; a private key is refused). It becomes
   * the new primary version of a `gateway-public` logical key at once; the previous one keeps
   * its grace period. No token object.
   */
  importGatewayPublicKey(request: { pem: string; name?: string; logicalKeyId?: string }): KeyVersion {
    return adoptImport.importGatewayPublicKey(this.core, request);
  }

  /** The gateway part records what the gateway said about a version. */
  setGatewayStatus(versionId: string, status: Omit<GatewayStatus, 'updatedAt'>): KeyVersion {
    return adoptImport.setGatewayStatus(this.core, versionId, status);
  }

  // ---------------------------------------- cryptographic use: key-lifecycle/key-use.nodejs.ts

  /** AES-256-CBC-PAD on the token under the data key's primary; returns an mkm1 envelope. */
  encryptWithPrimary(logicalKeyId: string, plaintext: Uint8Array): Promise<string> {
    return keyUse.encryptWithPrimary(this.core, logicalKeyId, plaintext);
  }

  /** Opens an mkm1 envelope with the version it names (active or deactivated). */
  decrypt(envelope: string): Promise<Buffer> {
    return keyUse.decrypt(this.core, envelope);
  }

  /** HMAC-SHA256 on the token under an hmac key's primary; returns an mkm1m tag. */
  macWithPrimary(logicalKeyId: string, data: Uint8Array): Promise<string> {
    return keyUse.macWithPrimary(this.core, logicalKeyId, data);
  }

  /** Checks an mkm1m tag with the version it names (active or deactivated). */
  verifyMac(data: Uint8Array, tag: string): Promise<boolean> {
    return keyUse.verifyMac(this.core, data, tag);
  }

  /** Writes the batched use counts now. */
  flushUsage(): void {
    this.core.flushUsage();
  }

  /** Uses of a version: batched counts included. */
  usesOf(v: KeyVersion): number {
    return this.core.usesOf(v);
  }

  /** Flushes use counts, waits for the lifecycle operation in progress, releases the inventory. */
  close(): Promise<void> {
    return this.core.close();
  }
}
