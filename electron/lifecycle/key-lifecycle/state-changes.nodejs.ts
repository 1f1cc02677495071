import { MkmError } from '../../../shared/errors.std';
import { confirmationMismatch, versionName } from '../../../shared/wording.std';
import { assertTransition, type KeyVersion } from '../model.std';
import { codeOf, type LifecycleCore } from './core.nodejs';
import { markRetirePending, retireAtGateway, retirePendingAll } from './retirement.nodejs';
import { abandonLocked, rotateLocked, rotateNow } from './rotation.nodejs';
import type { RotateDueReport, RotationProgressSink } from './types.nodejs';

// State changes of a version (SP 800-57 states): compromise, deactivate, suspend, reactivate,
// the grace-period sweep, and destroy (journaled as destroyPending before the token is touched).

/**
 * Declares a version compromised: it stops being usable at once (no encrypt, no decrypt), and
 * if it was the primary (or a version being rotated in) a rotation starts and runs to the end.
 */
export function markCompromised(
  core: LifecycleCore,
  versionId: string,
  options: { note?: string; onProgress?: RotationProgressSink } = {},
): Promise<{ compromised: KeyVersion; replacement: KeyVersion | null }> {
  return core.serial(async () => {
    const v = core.version(versionId);
    assertTransition(v, 'compromised');
    const inFlight = core.inventory.peek().rotations.find((r) => r.logicalKeyId === v.logicalKeyId);
    if (inFlight?.newVersionId === v.id) {
      // The version being rotated in is itself compromised: roll that rotation back first.
      await abandonLocked(core, v.logicalKeyId);
    }
    const now = core.clock().toISOString();
    core.inventory.mutate((draft) => {
      const x = draft.versions.find((y) => y.id === versionId)!;
      x.state = 'compromised';
      x.compromisedAt = now;
      x.deactivatedAt ??= now;
      x.primary = false;
      x.graceUntil = null;
      markRetirePending(core, x);
    });
    core.audit('key.compromise', v, {
      version: v.version,
      wasPrimary: v.primary,
      note: options.note ?? null,
    });
    core.logger.warn('key version declared compromised', { versionId, logicalKeyId: v.logicalKeyId });
    // Before the replacement: the gateway must stop using a compromised key first.
    await retireAtGateway(core, versionId);
    const key = core.logicalKey(v.logicalKeyId);
    let replacement: KeyVersion | null = null;
    const needsNew =
      key.purpose !== 'gateway-public' &&
      (v.primary || inFlight?.newVersionId === v.id || !core.primary(key.id));
    if (needsNew) replacement = await rotateLocked(core, key.id, 'compromise', options.onProgress);
    return { compromised: core.version(versionId), replacement };
  });
}

/**
 * Ends the originator-usage of a non-primary version (it still decrypts/verifies). A version
 * registered with the gateway is retired there (best effort; retried by resume() and sweep()).
 */
export function deactivate(core: LifecycleCore, versionId: string): Promise<KeyVersion> {
  return core.serial(async () => {
    stopUse(core, versionId, 'deactivated', 'key.deactivate');
    await retireAtGateway(core, versionId);
    return core.version(versionId);
  });
}

/** Suspends a version (no use at all) until reactivate(); a primary cannot be suspended. */
export function suspend(core: LifecycleCore, versionId: string): KeyVersion {
  return stopUse(core, versionId, 'suspended', 'key.suspend');
}

/** Deactivate and suspend differ only in the state they reach and the date they stamp. */
function stopUse(
  core: LifecycleCore,
  versionId: string,
  state: 'deactivated' | 'suspended',
  action: 'key.deactivate' | 'key.suspend',
): KeyVersion {
  const v = core.version(versionId);
  if (v.primary) throw new MkmError('CONFLICT', 'Rotate the key first: this version is the primary.');
  assertTransition(v, state);
  const now = core.clock().toISOString();
  core.inventory.mutate((draft) => {
    const x = draft.versions.find((y) => y.id === versionId)!;
    x.state = state;
    if (state === 'deactivated') {
      x.deactivatedAt = now;
      markRetirePending(core, x);
    } else x.suspendedAt = now;
  });
  core.audit(action, v, { version: v.version });
  return core.version(versionId);
}

export function reactivate(core: LifecycleCore, versionId: string): KeyVersion {
  const v = core.version(versionId);
  if (v.state !== 'suspended') throw new MkmError('CONFLICT', 'Only a suspended version can be reactivated.');
  core.inventory.mutate((draft) => {
    const x = draft.versions.find((y) => y.id === versionId)!;
    x.state = 'active';
    x.suspendedAt = null;
  });
  core.audit('key.reactivate', v, { version: v.version });
  return core.version(versionId);
}

/**
 * Deactivates every replaced version whose grace period ended by `now`, then tells the gateway
 * about every registered version that left service and was not retired there yet.
 */
export function sweep(core: LifecycleCore, now: Date = core.clock()): Promise<string[]> {
  return core.serial(() => sweepLocked(core, now));
}

export async function sweepLocked(core: LifecycleCore, now: Date): Promise<string[]> {
  const { graceExpired } = core.due(now);
  for (const g of graceExpired) {
    const v = core.version(g.versionId);
    core.inventory.mutate((draft) => {
      const x = draft.versions.find((y) => y.id === g.versionId)!;
      x.state = 'deactivated';
      x.deactivatedAt = now.toISOString();
      markRetirePending(core, x, now);
    });
    core.audit('key.deactivate', v, { version: v.version, graceUntil: g.graceUntil, automatic: true });
  }
  await retirePendingAll(core);
  return graceExpired.map((g) => g.versionId);
}

/** Rotates every key that is due or overdue, then sweeps. Warnings are left alone. */
export async function rotateDue(core: LifecycleCore, now: Date = core.clock()): Promise<RotateDueReport> {
  const report: RotateDueReport = { rotated: [], deactivated: [], failed: [] };
  for (const item of core.due(now).due) {
    if (item.level === 'warning' || !item.rotatable) continue;
    try {
      const v = await rotateNow(core, item.logicalKeyId, 'scheduled');
      report.rotated.push({ logicalKeyId: item.logicalKeyId, versionId: v.id, reasons: item.reasons });
    } catch (error) {
      report.failed.push({ logicalKeyId: item.logicalKeyId, ...codeOf(error) });
    }
  }
  report.deactivated = await sweep(core, now);
  return report;
}

/**
 * Destroys a version's token objects; the record stays as a tombstone (state destroyed).
 * Needs `confirm: true` and the version's label typed again. Only pre-activation, deactivated
 * or compromised versions can be destroyed (SP 800-57: deactivate first).
 */
export function destroy(
  core: LifecycleCore,
  versionId: string,
  confirmation: { confirm: boolean; confirmLabel: string },
): Promise<KeyVersion> {
  return core.serial(async () => {
    const v = core.version(versionId);
    const keyName = core.inventory.peek().logicalKeys.find((k) => k.id === v.logicalKeyId)?.name;
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
      if (core.inventory.peek().rotations.some((r) => r.newVersionId === v.id)) {
        throw new MkmError('CONFLICT', 'This version is being rotated in; abandon the rotation instead.');
      }
      assertTransition(v, 'destroyed');
      core.inventory.mutate((draft) => {
        const x = draft.versions.find((y) => y.id === versionId)!;
        x.destroyPending = true;
        markRetirePending(core, x);
      });
      core.faults('destroy:journaled');
    }
    return finishDestroy(core, versionId);
  });
}

export async function finishDestroy(core: LifecycleCore, versionId: string): Promise<KeyVersion> {
  const v = core.version(versionId);
  if (v.ckaId !== null && v.tokenSerial !== null) {
    const slotId = await core.slotFor(v.tokenSerial, true);
    await core.destroyOnToken(slotId, v.ckaId, v.objectClasses);
  }
  const now = core.clock().toISOString();
  core.flushUsage();
  core.inventory.mutate((draft) => {
    const x = draft.versions.find((y) => y.id === versionId)!;
    x.state = 'destroyed';
    x.destroyedAt = now;
    x.destroyPending = false;
    x.primary = false;
    x.graceUntil = null;
    x.publicKeyPem = null;
  });
  core.audit('key.destroy', v, { version: v.version, previousState: v.state });
  await retireAtGateway(core, versionId);
  return core.version(versionId);
}
