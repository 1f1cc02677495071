import type { Contract, LifecycleKeyView, LifecycleVersionView } from '../../shared/contract.std';
import { MkmError } from '../../shared/errors.std';
import type { KeyState } from '../../shared/lifecycle/vocabulary.std';
import type { CallContext, Handlers } from '../core/registry.nodejs';
import type { TokensService } from '../hsm/tokens.nodejs';
import {
  ROTATION_PROGRESS_STEPS,
  type KeyLifecycleService,
  type RotationProgressSink,
} from './lifecycle.nodejs';
import { resolveLogicalKey } from './inventory.nodejs';
import type { KeyUsageService } from './usage.nodejs';
import { useLevel } from './usage.std';
import type { InventoryData, KeyVersion, LogicalKey, RotationPolicy } from './model.std';

/**
 * The contract's `lifecycle.*` channels over the KeyLifecycleService. The service audits its own
 * actions (key.rotate.*, key.compromise, key.destroy, key.adopt), so these channels are not in
 * AUDITED. Views carry metadata only: states, dates, use counts, CKA_ID and KCV/SPKI fingerprint,
 * never key material (not even the public PEM).
 *
 * `service` is a getter: the service takes a per-data-folder lock, so it is opened on first use.
 */

/** `uses`: the real count (KeyLifecycleService.usesOf), pending counts included. */
export function versionView(v: KeyVersion, uses: number = v.useCount): LifecycleVersionView {
  return {
    id: v.id,
    logicalKeyId: v.logicalKeyId,
    version: v.version,
    label: v.label,
    state: v.state,
    primary: v.primary,
    origin: v.origin,
    type: v.type,
    tokenSerial: v.tokenSerial,
    ckaId: v.ckaId,
    createdAt: v.createdAt,
    activatedAt: v.activatedAt,
    expiresAt: v.expiresAt,
    graceUntil: v.graceUntil,
    deactivatedAt: v.deactivatedAt,
    suspendedAt: v.suspendedAt,
    compromisedAt: v.compromisedAt,
    destroyedAt: v.destroyedAt,
    cryptoPeriodDays: v.cryptoPeriodDays,
    useCount: uses,
    fingerprint: v.fingerprint ? { ...v.fingerprint } : null,
    ...(v.fingerprintNote ? { fingerprintNote: v.fingerprintNote } : {}),
    gateway: { status: v.gateway.status, reference: v.gateway.reference, error: v.gateway.error },
    missingSince: v.missingSince,
    destroyPending: v.destroyPending,
  };
}

function keyView(
  service: KeyLifecycleService,
  data: InventoryData,
  key: LogicalKey,
  state?: KeyState,
): LifecycleKeyView {
  const versions = data.versions
    .filter((v) => v.logicalKeyId === key.id)
    .sort((a, b) => b.version - a.version);
  return {
    id: key.id,
    name: key.name,
    purpose: key.purpose,
    type: key.type,
    tokenSerial: key.tokenSerial,
    createdAt: key.createdAt,
    policy: service.policy(key.id),
    primaryVersionId: versions.find((v) => v.primary)?.id ?? null,
    rotating: data.rotations.some((r) => r.logicalKeyId === key.id),
    versions: versions
      .filter((v) => state === undefined || v.state === state)
      .map((v) => {
        const uses = service.usesOf(v);
        const { maxUses, warnUsesFraction } = service.policy(key.id);
        return { ...versionView(v, uses), useLevel: useLevel(uses, maxUses, warnUsesFraction) };
      }),
  };
}

function keyViewById(service: KeyLifecycleService, logicalKeyId: string): LifecycleKeyView {
  const data = service.list();
  const key = data.logicalKeys.find((k) => k.id === logicalKeyId);
  if (!key) throw new MkmError('NOT_FOUND', 'No such logical key.', { logicalKeyId });
  return keyView(service, data, key);
}

/** The serial of the token the request is about: in `slotId`, else the only one logged in. */
async function loggedInSerial(tokens: TokensService, slotId: number | undefined): Promise<string> {
  const slots = await tokens.slots();
  if (slotId !== undefined) {
    const slot = slots.find((s) => s.slotId === slotId);
    if (!slot) throw new MkmError('SLOT_NOT_FOUND', undefined, { slotId });
    if (!slot.token) throw new MkmError('TOKEN_NOT_PRESENT', undefined, { slotId });
    if (!slot.session.loggedIn) throw new MkmError('NOT_LOGGED_IN', undefined, { slotId });
    return slot.token.serial.trim();
  }
  const loggedIn = slots.filter((s) => s.token && s.session.loggedIn);
  if (loggedIn.length === 0) throw new MkmError('NOT_LOGGED_IN');
  if (loggedIn.length > 1) {
    throw new MkmError('CONFLICT', 'More than one token is logged in; say which slot holds the key.', {
      slotIds: loggedIn.map((s) => String(s.slotId)),
    });
  }
  return loggedIn[0]!.token!.serial.trim();
}

/**
 * A rotation's steps as `progress` events for one operation id (the renderer's, else the call's),
 * the way keys.generate reports: `phase` is the step, `fraction` how far along it is.
 */
function progressTo(ctx: CallContext, operationId: string | undefined): RotationProgressSink {
  const id = operationId ?? ctx.callId;
  const last = ROTATION_PROGRESS_STEPS.length - 1;
  return (p) =>
    ctx.events.emit('progress', {
      operationId: id,
      phase: p.step,
      fraction: ROTATION_PROGRESS_STEPS.indexOf(p.step) / last,
      message: p.message,
    });
}

/** Zod's optional fields arrive as `undefined`; the model's partial policy has no such values. */
function policyOverrides(policy: Partial<Record<keyof RotationPolicy, unknown>> | undefined) {
  const out: Partial<RotationPolicy> = {};
  for (const [k, v] of Object.entries(policy ?? {})) {
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

/**
 * `reader` serves the read channels (list, due, policies): KeyLifecycleService.forReading, so they
 * still answer from the file as last written while another process holds the keys.
 */
export function lifecycleHandlers(
  service: () => KeyLifecycleService,
  tokens: TokensService,
  usage: KeyUsageService,
  reader: () => KeyLifecycleService = service,
): Handlers<Contract>['lifecycle'] {
  return {
    list: ({ state }) => {
      const s = reader();
      // Use counts batched in memory are written first, so the list shows them (a reader has
      // none of its own and writes nothing).
      if (!s.readOnly) s.flushUsage();
      const data = s.list();
      return data.logicalKeys
        .map((k) => keyView(s, data, k, state))
        .filter((k) => state === undefined || k.versions.length > 0);
    },
    create: async ({ name, purpose, type, policy, slotId, operationId, acceptWiderUsage }, ctx) => {
      const s = service();
      const tokenSerial = await loggedInSerial(tokens, slotId);
      const created = await s.createKey(
        {
          name,
          purpose,
          tokenSerial,
          policy: policyOverrides(policy),
          ...(type ? { type } : {}),
          ...(acceptWiderUsage ? { acceptWiderUsage } : {}),
        },
        { onProgress: progressTo(ctx, operationId) },
      );
      return { logicalKey: keyViewById(s, created.logicalKey.id), version: versionView(created.version) };
    },
    rotate: async ({ ref, operationId, acceptWiderUsage }, ctx) => {
      const s = service();
      const key = resolveLogicalKey(s.list(), ref);
      const version = await s.rotateNow(key.id, 'manual', {
        onProgress: progressTo(ctx, operationId),
        ...(acceptWiderUsage ? { acceptWiderUsage } : {}),
      });
      return { logicalKey: keyViewById(s, key.id), version: versionView(version) };
    },
    compromise: async ({ versionId, note, operationId }, ctx) => {
      const result = await service().markCompromised(versionId, {
        ...(note !== undefined ? { note } : {}),
        onProgress: progressTo(ctx, operationId),
      });
      return {
        compromised: versionView(result.compromised),
        replacement: result.replacement ? versionView(result.replacement) : null,
      };
    },
    destroy: async ({ versionId, confirmLabel }) =>
      versionView(await service().destroy(versionId, { confirm: true, confirmLabel })),
    deactivate: async ({ versionId }) => versionView(await service().deactivate(versionId)),
    suspend: ({ versionId }) => versionView(service().suspend(versionId)),
    reactivate: ({ versionId }) => versionView(service().reactivate(versionId)),
    policies: () => reader().policies(),
    due: () => {
      const s = reader();
      const data = s.list();
      return {
        ...s.due(),
        rotationsInFlight: data.rotations.map((r) => ({
          logicalKeyId: r.logicalKeyId,
          name: data.logicalKeys.find((k) => k.id === r.logicalKeyId)?.name ?? r.logicalKeyId,
          rotationId: r.id,
          step: r.step,
          startedAt: r.startedAt,
        })),
      };
    },
    // The usage service reads the files as last written: no inventory lock is taken.
    usage: ({ ref, since }) => usage.usageReport(ref, since ?? null),
    systemUsage: () => usage.systemUsageReport(),
    reconcile: async ({ slotId }) => {
      const s = service();
      return s.reconcile(await loggedInSerial(tokens, slotId));
    },
    adopt: async ({ ckaId, purpose, name, slotId }) => {
      const s = service();
      const tokenSerial = await loggedInSerial(tokens, slotId);
      const version = await s.adopt({
        tokenSerial,
        ckaId: ckaId.toLowerCase(),
        purpose,
        ...(name !== undefined ? { name } : {}),
      });
      return versionView(version);
    },
  };
}
