import type { PciInventoryEvidence, PciKeyEvidence } from '../../shared/contract/report.std';
import { KEY_STATES, type KeyState, type ManagedPurpose } from '../../shared/lifecycle/vocabulary.std';
import {
  dueAt,
  type InventoryData,
  type KeyVersion,
  type LogicalKey,
  type RotationPolicy,
} from '../lifecycle/model.std';

/**
 * The inventory part of the evidence, from the inventory data at `now` (pure: the clock is the
 * caller's, so tests move time instead of waiting for a crypto-period to end).
 */
export function inventoryEvidence(
  data: InventoryData,
  now: Date,
  options: {
    policyOf: (key: LogicalKey) => RotationPolicy;
    policies?: Partial<Record<ManagedPurpose, Partial<RotationPolicy>>>;
    /** Use counts with those still batched in memory. */
    usesOf?: (v: KeyVersion) => number;
  },
): Extract<PciInventoryEvidence, { ok: true }> {
  const report = dueAt(data, now, {
    ...(options.usesOf ? { usesOf: options.usesOf } : {}),
    ...(options.policies ? { policies: options.policies } : {}),
  });
  const usesOf = options.usesOf ?? ((v: KeyVersion) => v.useCount);
  const dueBy = new Map(report.due.map((d) => [d.logicalKeyId, d]));
  const byState = Object.fromEntries(KEY_STATES.map((s) => [s, 0])) as Record<KeyState, number>;
  const byOrigin = { generated: 0, adopted: 0, imported: 0 };
  for (const v of data.versions) {
    byState[v.state] += 1;
    byOrigin[v.origin] += 1;
  }

  const keys: PciKeyEvidence[] = data.logicalKeys.map((k) => {
    const versions = data.versions.filter((v) => v.logicalKeyId === k.id);
    const primary = versions.find((v) => v.primary) ?? null;
    const due = dueBy.get(k.id);
    const lastRotation =
      data.history
        .filter((h) => h.logicalKeyId === k.id && h.outcome === 'completed' && h.reason !== 'initial')
        .map((h) => h.finishedAt)
        .sort()
        .pop() ?? null;
    return {
      logicalKeyId: k.id,
      name: k.name,
      purpose: k.purpose,
      type: k.type,
      tokenSerial: k.tokenSerial,
      cryptoPeriodDays: options.policyOf(k).cryptoPeriodDays,
      versions: versions.length,
      primaryVersion: primary?.version ?? null,
      primaryActivatedAt: primary?.activatedAt ?? null,
      primaryExpiresAt: primary?.expiresAt ?? null,
      lastRotation,
      dueLevel: due?.level ?? null,
      primaryUses: primary ? usesOf(primary) : null,
      totalUses: versions.reduce((n, v) => n + usesOf(v), 0),
      maxUses: options.policyOf(k).maxUses,
      pastCryptoPeriod: Boolean(
        due?.reasons.some((r) => r.kind === 'age' && (r.level === 'due' || r.level === 'overdue')),
      ),
    };
  });

  const nameOf = new Map(data.logicalKeys.map((k) => [k.id, k.name]));
  const policies = new Map<ManagedPurpose, RotationPolicy>();
  for (const k of data.logicalKeys)
    if (!policies.has(k.purpose)) policies.set(k.purpose, options.policyOf(k));

  return {
    ok: true,
    logicalKeys: data.logicalKeys.length,
    versions: data.versions.length,
    byState,
    byOrigin,
    keys,
    pastCryptoPeriod: keys.filter((k) => k.pastCryptoPeriod).length,
    overdue: report.due.filter((d) => d.reasons.some((r) => r.kind === 'age' && r.level === 'overdue'))
      .length,
    dueSoon: report.due.filter((d) => d.level === 'warning').length,
    graceExpired: report.graceExpired.length,
    compromised: data.versions
      .filter((v) => v.compromisedAt !== null)
      .map((v) => ({
        name: nameOf.get(v.logicalKeyId) ?? v.label,
        version: v.version,
        compromisedAt: v.compromisedAt,
        destroyed: v.state === 'destroyed',
      })),
    compromisedUnreplaced: report.due.filter((d) => d.reasons.some((r) => r.kind === 'compromised')).length,
    tombstones: byState.destroyed,
    missingOnToken: data.versions.filter((v) => v.missingSince !== null && v.state !== 'destroyed').length,
    rotationsInFlight: data.rotations.length,
    tokens: [
      ...new Set(
        data.versions
          .filter((v) => v.tokenSerial !== null && v.state !== 'destroyed')
          .map((v) => v.tokenSerial!),
      ),
    ].sort(),
    policies: [...policies].map(([purpose, p]) => ({
      purpose,
      cryptoPeriodDays: p.cryptoPeriodDays,
      maxUses: p.maxUses,
      graceDays: p.graceDays,
    })),
  };
}
