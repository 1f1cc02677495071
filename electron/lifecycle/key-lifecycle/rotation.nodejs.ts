import { randomUUID } from 'node:crypto';
import { MkmError, toErrorShape } from '../../../shared/errors.std';
import type { TokenPurpose } from '../../../shared/lifecycle/vocabulary.std';
import {
  addDays,
  DEFAULT_KEY_TYPE,
  NEEDS_GATEWAY_REGISTRATION,
  policyFor,
  type InventoryData,
  type KeyVersion,
  type LogicalKey,
  type Rotation,
} from '../model.std';
import {
  checkPurposeType,
  codeOf,
  initialGateway,
  isRsa,
  TOKEN_CLASSES,
  type LifecycleCore,
} from './core.nodejs';
import { markRetirePending, retireAtGateway } from './retirement.nodejs';
import type {
  CreateKeyRequest,
  RotationProgress,
  RotationProgressSink,
  RotationProgressStep,
} from './types.nodejs';

// The rotation engine: the journaled state machine of KeyLifecycleService's comment (planned,
// generated, registering, registered, promoted), for a new key's version 1 and every rotation.

/** A new logical key; its version 1 is made through the same journaled steps as a rotation. */
export function createKey(
  core: LifecycleCore,
  request: CreateKeyRequest,
  options: { onProgress?: RotationProgressSink } = {},
): Promise<{ logicalKey: LogicalKey; version: KeyVersion }> {
  return core.serial(async () => {
    const type = request.type ?? DEFAULT_KEY_TYPE[request.purpose];
    checkPurposeType(request.purpose, type);
    const name = request.name.trim();
    if (!name || name.length > 128)
      throw new MkmError('VALIDATION', 'A key needs a name (1–128 characters).');
    await core.slotFor(request.tokenSerial);
    // A creation the token refused (KEY_TEMPLATE_REFUSED) is still planned: asked again with the
    // admin's acceptance of the wider usage, it goes on rather than conflicting with itself.
    const refusedBefore = core.inventory
      .peek()
      .logicalKeys.find((k) => k.name === name && k.purpose === request.purpose);
    const planned = refusedBefore
      ? core.inventory
          .peek()
          .rotations.find(
            (r) => r.logicalKeyId === refusedBefore.id && r.reason === 'initial' && r.step === 'planned',
          )
      : undefined;
    if (refusedBefore && planned && request.acceptWiderUsage) {
      const version = await advance(core, planned.id, true, options.onProgress, true);
      return { logicalKey: core.logicalKey(refusedBefore.id), version };
    }
    const now = core.clock().toISOString();
    const logicalKey: LogicalKey = {
      id: randomUUID(),
      name,
      purpose: request.purpose,
      type,
      tokenSerial: request.tokenSerial,
      createdAt: now,
      policy: request.policy ?? {},
    };
    const rotation = core.inventory.mutate((draft) => {
      if (draft.logicalKeys.some((k) => k.name === name && k.purpose === request.purpose)) {
        throw new MkmError('CONFLICT', `There is already a ${request.purpose} key named “${name}”.`);
      }
      draft.logicalKeys.push(logicalKey);
      return planInto(core, draft, logicalKey, 'initial');
    });
    core.audit('key.rotate.plan', rotation, { reason: 'initial', name, purpose: request.purpose, type });
    core.faults('planned');
    const version = await advance(core, rotation.id, false, options.onProgress, request.acceptWiderUsage);
    return { logicalKey: core.logicalKey(logicalKey.id), version };
  });
}

/**
 * Starts a rotation of a logical key and runs it to the end. A rotation already in flight for
 * the key is continued instead (it is what was asked for).
 */
export function rotateNow(
  core: LifecycleCore,
  logicalKeyId: string,
  reason: 'manual' | 'scheduled' | 'compromise' = 'manual',
  options: { onProgress?: RotationProgressSink; acceptWiderUsage?: boolean } = {},
): Promise<KeyVersion> {
  return core.serial(() =>
    rotateLocked(core, logicalKeyId, reason, options.onProgress, options.acceptWiderUsage),
  );
}

export async function rotateLocked(
  core: LifecycleCore,
  logicalKeyId: string,
  reason: 'manual' | 'scheduled' | 'compromise',
  onProgress?: RotationProgressSink,
  acceptWiderUsage?: boolean,
): Promise<KeyVersion> {
  const key = core.logicalKey(logicalKeyId);
  if (key.purpose === 'gateway-public') {
    throw new MkmError('VALIDATION', 'The gateway’s public key is rotated by importing its new key.', {
      logicalKeyId,
    });
  }
  const inFlight = core.inventory.peek().rotations.find((r) => r.logicalKeyId === logicalKeyId);
  if (inFlight) return advance(core, inFlight.id, true, onProgress, acceptWiderUsage);
  if (key.tokenSerial === null) throw new MkmError('INTERNAL', 'A token key without a token serial.');
  await core.slotFor(key.tokenSerial);
  const rotation = core.inventory.mutate((draft) => {
    const k = draft.logicalKeys.find((x) => x.id === logicalKeyId)!;
    return planInto(core, draft, k, reason);
  });
  core.audit('key.rotate.plan', rotation, { reason });
  core.faults('planned');
  return advance(core, rotation.id, false, onProgress, acceptWiderUsage);
}

/**
 * Rolls back a rotation that has not promoted yet: the generated object (if any) is destroyed
 * on the token, the new version stays as a destroyed tombstone, the old primary stays primary.
 * A version already registered with the gateway is retired there (best effort, as destroy()).
 */
export function abandonRotation(core: LifecycleCore, logicalKeyId: string): Promise<KeyVersion> {
  return core.serial(() => abandonLocked(core, logicalKeyId));
}

export async function abandonLocked(core: LifecycleCore, logicalKeyId: string): Promise<KeyVersion> {
  const r = core.inventory.peek().rotations.find((x) => x.logicalKeyId === logicalKeyId);
  if (!r) throw new MkmError('NOT_FOUND', 'No rotation is in progress for this key.', { logicalKeyId });
  if (r.step === 'promoted') {
    throw new MkmError('CONFLICT', 'The new version is already primary; the rotation can only finish.');
  }
  const v = core.version(r.newVersionId);
  const slotId = await core.slotFor(v.tokenSerial!, true);
  const ckaId = v.ckaId ?? (await core.findByLabel(slotId, r.label, v.type))?.id ?? null;
  if (ckaId !== null) await core.destroyOnToken(slotId, ckaId, TOKEN_CLASSES[v.type]);
  const now = core.clock().toISOString();
  core.inventory.mutate((draft) => {
    const nv = draft.versions.find((x) => x.id === v.id)!;
    nv.ckaId = ckaId;
    nv.state = 'destroyed';
    nv.destroyedAt = now;
    markRetirePending(core, nv);
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
  core.audit('key.rotate.abandon', r, { step: r.step });
  await retireAtGateway(core, v.id);
  return core.version(v.id);
}

function planInto(
  core: LifecycleCore,
  draft: InventoryData,
  key: LogicalKey,
  reason: Rotation['reason'],
): Rotation {
  if (draft.rotations.some((r) => r.logicalKeyId === key.id)) {
    throw new MkmError('CONFLICT', 'A rotation of this key is already in progress.', {
      logicalKeyId: key.id,
    });
  }
  const now = core.clock();
  const policy = policyFor(key, core.options.policies);
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
export async function advance(
  core: LifecycleCore,
  rotationId: string,
  resumed: boolean,
  onProgress?: RotationProgressSink,
  acceptWiderUsage?: boolean,
): Promise<KeyVersion> {
  const first = core.inventory.peek().rotations.find((x) => x.id === rotationId);
  if (first) {
    const n = core.version(first.newVersionId).version;
    progress(core, onProgress, {
      step: 'planned',
      logicalKeyId: first.logicalKeyId,
      version: n,
      message: resumed
        ? `Continuing the rotation to version ${n} from its step “${first.step}”.`
        : `Version ${n} is planned.`,
    });
  }
  for (;;) {
    const r = core.inventory.peek().rotations.find((x) => x.id === rotationId);
    if (!r) throw new MkmError('NOT_FOUND', 'The rotation is no longer in progress.', { rotationId });
    const key = core.logicalKey(r.logicalKeyId);
    const v = core.version(r.newVersionId);
    const tell = (step: RotationProgressStep, message: string) =>
      progress(core, onProgress, { step, logicalKeyId: key.id, version: v.version, message });
    switch (r.step) {
      case 'planned': {
        tell('generating', `Generating version ${v.version} (${v.type}) on the token…`);
        const slotId = await core.slotFor(v.tokenSerial!, true);
        let found = await core.findByLabel(slotId, r.label, v.type);
        if (!found) {
          const generated = await core.tokens.call('generateKey', {
            slotId,
            type: v.type,
            label: r.label,
            purpose: v.purpose as TokenPurpose,
            ...(acceptWiderUsage ? { acceptWiderUsage: true } : {}),
          });
          if (generated.widerUsage?.length) {
            core.audit('key.generate.wider-usage', r, {
              version: v.version,
              type: v.type,
              widerUsage: generated.widerUsage,
              acceptedBy: 'admin',
            });
          }
          core.faults('generate:mid');
          found = { id: generated.id, classes: generated.objects.map((o) => o.class) };
        }
        const { fingerprint, fingerprintNote } = await core.fingerprintOf(slotId, found.id, v.type);
        core.inventory.mutate((draft) => {
          const nv = draft.versions.find((x) => x.id === v.id)!;
          nv.ckaId = found.id;
          nv.fingerprint = fingerprint;
          if (fingerprintNote) nv.fingerprintNote = fingerprintNote;
          step(core, draft, r.id, 'generated');
        });
        core.audit(
          'key.generate',
          { ...r, step: 'generated' },
          { version: v.version, type: v.type, resumed, ...(fingerprintNote ? { fingerprintNote } : {}) },
        );
        core.faults('generated');
        break;
      }
      case 'generated': {
        const needs = NEEDS_GATEWAY_REGISTRATION[v.purpose];
        const hook = core.options.registerWithGateway;
        core.inventory.mutate((draft) => {
          const nv = draft.versions.find((x) => x.id === v.id)!;
          if (needs && hook) {
            nv.gateway = { ...nv.gateway, status: 'pending', updatedAt: core.clock().toISOString() };
            step(core, draft, r.id, 'registering');
          } else {
            if (needs)
              nv.gateway = { ...nv.gateway, status: 'skipped', updatedAt: core.clock().toISOString() };
            step(core, draft, r.id, 'registered');
          }
        });
        core.faults(needs && hook ? 'registering' : 'registered');
        break;
      }
      case 'registering': {
        const hook = core.options.registerWithGateway;
        let reference: string | null = null;
        if (hook) tell('registering', `Registering version ${v.version} with the gateway…`);
        if (hook) {
          const slotId = await core.slotFor(v.tokenSerial!);
          const publicKeyPem = isRsa(v.type)
            ? ((await core.tokens.call('exportPublicKey', { slotId, id: v.ckaId!, format: 'pem' })).pem ??
              null)
            : null;
          try {
            const result = await hook({ logicalKey: key, version: v, publicKeyPem });
            reference = result?.reference ?? null;
          } catch (error) {
            const { code } = codeOf(error);
            core.inventory.mutate((draft) => {
              const nv = draft.versions.find((x) => x.id === v.id)!;
              nv.gateway = {
                ...nv.gateway,
                status: 'failed',
                error: code,
                updatedAt: core.clock().toISOString(),
              };
            });
            core.audit('key.gateway.register', r, { version: v.version }, code);
            throw error;
          }
          core.faults('register:mid');
        }
        core.inventory.mutate((draft) => {
          const nv = draft.versions.find((x) => x.id === v.id)!;
          nv.gateway = {
            status: hook ? 'registered' : 'skipped',
            reference,
            error: null,
            updatedAt: core.clock().toISOString(),
          };
          step(core, draft, r.id, 'registered');
        });
        if (hook) core.audit('key.gateway.register', r, { version: v.version, reference });
        core.faults('registered');
        break;
      }
      case 'registered': {
        tell('promoting', `Making version ${v.version} the primary…`);
        const now = core.clock();
        const policy = policyFor(key, core.options.policies);
        let replaced: KeyVersion | null = null;
        core.inventory.mutate((draft) => {
          for (const old of draft.versions) {
            if (old.logicalKeyId !== key.id || !old.primary) continue;
            old.primary = false;
            if (old.state === 'active') {
              old.graceUntil = addDays(now, policy.graceDays);
              if (policy.graceDays === 0) {
                old.state = 'deactivated';
                old.deactivatedAt = now.toISOString();
                markRetirePending(core, old, now);
              }
            }
            replaced = structuredClone(old);
          }
          const nv = draft.versions.find((x) => x.id === v.id)!;
          nv.state = 'active';
          nv.primary = true;
          nv.activatedAt = now.toISOString();
          nv.expiresAt = addDays(now, nv.cryptoPeriodDays);
          step(core, draft, r.id, 'promoted');
        });
        const old = replaced as KeyVersion | null;
        core.audit('key.rotate.promote', r, {
          version: v.version,
          replacedVersion: old?.version ?? null,
          graceUntil: old?.graceUntil ?? null,
        });
        core.faults('promoted');
        if (old?.gateway.status === 'retirePending') await retireAtGateway(core, old.id);
        break;
      }
      case 'promoted': {
        const now = core.clock().toISOString();
        core.inventory.mutate((draft) => {
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
        core.audit('key.rotate.complete', r, { version: v.version, reason: r.reason, resumed });
        core.faults('done');
        core.logger.info('key rotated', { logicalKeyId: r.logicalKeyId, version: v.version, resumed });
        // The result names the new primary; the last step only says the rotation ended (said once).
        tell('done', 'Rotation complete.');
        return core.version(v.id);
      }
    }
  }
}

/** A progress display must never break a rotation. */
function progress(core: LifecycleCore, sink: RotationProgressSink | undefined, p: RotationProgress): void {
  if (!sink) return;
  try {
    sink(p);
  } catch (error) {
    core.logger.warn('a rotation progress listener failed', { error: toErrorShape(error) });
  }
}

function step(core: LifecycleCore, draft: InventoryData, rotationId: string, step: Rotation['step']): void {
  const r = draft.rotations.find((x) => x.id === rotationId)!;
  r.step = step;
  r.updatedAt = core.clock().toISOString();
}
