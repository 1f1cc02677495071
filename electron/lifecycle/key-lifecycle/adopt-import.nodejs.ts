import { randomUUID } from 'node:crypto';
import { MkmError } from '../../../shared/errors.std';
import type { ManagedKeyType } from '../../../shared/lifecycle/vocabulary.std';
import { HMAC_SHA256_KEY_TYPES, isHmacKeyType, type ObjectInfo } from '../../../shared/tokens.std';
import { parseRsaPublicKey, spkiPem } from '../../crypto/pem.nodejs';
import type { ReconcileReport } from '../inventory.nodejs';
import { addDays, policyFor, type GatewayStatus, type KeyVersion, type LogicalKey } from '../model.std';
import { checkPurposeType, initialGateway, PURPOSE_TYPES, type LifecycleCore } from './core.nodejs';
import type { AdoptRequest } from './types.nodejs';

// Keys mkm did not generate: the token inventory compared with the token, an unmanaged token key
// adopted as a managed version, the gateway's public key imported, and what the gateway said.

/** Compares the inventory with the objects on a token (see InventoryStore.reconcile). */
export async function reconcile(core: LifecycleCore, tokenSerial: string): Promise<ReconcileReport> {
  const slotId = await core.slotFor(tokenSerial, true);
  const objects = await core.tokens.call('listObjects', { slotId });
  const report = core.inventory.reconcile(tokenSerial, objects);
  for (const m of report.missing) {
    core.audit('key.missing', core.version(m.versionId), { since: m.since }, 'KEY_NOT_FOUND');
  }
  return report;
}

/** Makes an unmanaged token key a managed version (see AdoptRequest). */
export function adopt(core: LifecycleCore, request: AdoptRequest): Promise<KeyVersion> {
  return core.serial(async () => {
    const ckaId = request.ckaId.toLowerCase();
    if (!/^(?:[0-9a-f]{2})+$/.test(ckaId)) {
      throw new MkmError('VALIDATION', 'Only an object with a CKA_ID can be adopted.', { field: 'ckaId' });
    }
    if (
      core.inventory
        .peek()
        .versions.some(
          (v) => v.tokenSerial === request.tokenSerial && v.ckaId === ckaId && v.state !== 'destroyed',
        )
    ) {
      throw new MkmError('CONFLICT', 'This key is already managed.', { ckaId });
    }
    const slotId = await core.slotFor(request.tokenSerial, true);
    const objects = (await core.tokens.call('listObjects', { slotId })).filter(
      (o) => o.id === ckaId && (o.class === 'secret' || o.class === 'private' || o.class === 'public'),
    );
    const first = objects.find((o) => o.class !== 'public') ?? objects[0];
    if (!first) throw new MkmError('KEY_NOT_FOUND', undefined, { ckaId });
    if (core.inventory.peek().rotations.some((r) => r.label === first.label)) {
      throw new MkmError('CONFLICT', 'This key belongs to a rotation in progress; resume() records it.', {
        ckaId,
      });
    }
    const type = typeOfObject(first);
    checkPurposeType(request.purpose, type);
    const { fingerprint, fingerprintNote } = await core.fingerprintOf(slotId, ckaId, type);
    const now = core.clock();
    const v = core.inventory.mutate((draft) => {
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
      const policy = policyFor(key, core.options.policies);
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
    core.audit('key.adopt', v, {
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
export function importGatewayPublicKey(
  core: LifecycleCore,
  request: { pem: string; name?: string; logicalKeyId?: string },
): KeyVersion {
  const parsed = parseRsaPublicKey(request.pem);
  const type = `rsa-${parsed.modulusBits}` as ManagedKeyType;
  if (!PURPOSE_TYPES['gateway-public'].includes(type)) {
    throw new MkmError('PUBLIC_KEY_INVALID', 'The gateway key must be RSA 2048, 3072 or 4096 bits.', {
      bits: parsed.modulusBits,
    });
  }
  const now = core.clock();
  const v = core.inventory.mutate((draft) => {
    let key = request.logicalKeyId ? draft.logicalKeys.find((k) => k.id === request.logicalKeyId) : undefined;
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
    const policy = policyFor(key, core.options.policies);
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
  core.audit('key.import-public', v, { version: v.version, bits: parsed.modulusBits });
  return structuredClone(v);
}

/** The gateway part records what the gateway said about a version. */
export function setGatewayStatus(
  core: LifecycleCore,
  versionId: string,
  status: Omit<GatewayStatus, 'updatedAt'>,
): KeyVersion {
  const v = core.version(versionId);
  core.inventory.mutate((draft) => {
    draft.versions.find((y) => y.id === versionId)!.gateway = {
      ...status,
      updatedAt: core.clock().toISOString(),
    };
  });
  core.audit('key.gateway.status', v, { status: status.status, reference: status.reference });
  return core.version(versionId);
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
