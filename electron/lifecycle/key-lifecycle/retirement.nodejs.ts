import type { KeyVersion } from '../model.std';
import { codeOf, type LifecycleCore } from './core.nodejs';
import type { GatewayRetirementRequest } from './types.nodejs';

// Gateway retirement: a registered version that leaves service (deactivated, compromised,
// destroyed) is journaled retirePending in the same write as its state change, then the gateway
// is told, best effort, and told again by resume(), sweep() and retryRetirements() until it heard.

/** Tries again to retire at the gateway every version waiting for it; returns those still waiting. */
export function retryRetirements(core: LifecycleCore): Promise<string[]> {
  return core.serial(() => retirePendingAll(core));
}

export async function retirePendingAll(core: LifecycleCore): Promise<string[]> {
  const waiting = core.inventory
    .peek()
    .versions.filter((v) => v.gateway.status === 'retirePending')
    .map((v) => v.id);
  for (const id of waiting) await retireAtGateway(core, id);
  return core.inventory
    .peek()
    .versions.filter((v) => v.gateway.status === 'retirePending')
    .map((v) => v.id);
}

/**
 * Journals that the gateway must be told a registered version left service: set in the same
 * write as the state change, so a crash between the two cannot forget the retirement.
 */
export function markRetirePending(core: LifecycleCore, x: KeyVersion, now: Date = core.clock()): void {
  if (x.gateway.status !== 'registered') return;
  x.gateway = { ...x.gateway, status: 'retirePending', error: null, updatedAt: now.toISOString() };
}

/**
 * Best effort: calls the retirement hook for a version marked retirePending. Success records
 * `retired`; a failure keeps retirePending with the error code (retried later) and never
 * throws, since the state change it follows has already happened and is what matters.
 */
export async function retireAtGateway(core: LifecycleCore, versionId: string): Promise<void> {
  const v = core.version(versionId);
  const hook = core.options.retireAtGateway;
  if (v.gateway.status !== 'retirePending' || !hook) return;
  const reason: GatewayRetirementRequest['reason'] =
    v.state === 'compromised'
      ? 'compromised'
      : v.state === 'destroyed' || v.destroyPending
        ? 'destroyed'
        : 'deactivated';
  try {
    await hook({ logicalKey: core.logicalKey(v.logicalKeyId), version: v, reason });
  } catch (error) {
    const { code } = codeOf(error);
    core.inventory.mutate((draft) => {
      const x = draft.versions.find((y) => y.id === versionId)!;
      x.gateway = { ...x.gateway, error: code, updatedAt: core.clock().toISOString() };
    });
    core.audit('key.gateway.retire', v, { version: v.version, reason, reference: v.gateway.reference }, code);
    core.logger.warn('the gateway was not told a key version left service; it will be retried', {
      versionId,
      code,
    });
    return;
  }
  core.inventory.mutate((draft) => {
    const x = draft.versions.find((y) => y.id === versionId)!;
    x.gateway = { ...x.gateway, status: 'retired', error: null, updatedAt: core.clock().toISOString() };
  });
  core.audit('key.gateway.retire', v, { version: v.version, reason, reference: v.gateway.reference });
}
