import { MkmError } from '../../../shared/errors.std';
import {
  formatEnvelope,
  formatMacTag,
  mayProcess,
  mayProtect,
  parseEnvelope,
  parseMacTag,
  policyFor,
  useLimit,
  type KeyVersion,
  type LogicalKey,
} from '../model.std';
import type { UsageOperation } from '../usage.std';
import type { LifecycleCore } from './core.nodejs';

// Cryptographic use of managed keys: new work goes under a key's primary version, old
// envelopes and tags open with the version they name, and every use is counted (and refused at
// the use limit) on the way.

/** The primary version new work goes under, if the key has the purpose and a usable primary. */
function primaryToUse(
  core: LifecycleCore,
  logicalKeyId: string,
  purpose: 'data' | 'hmac',
  wrongPurpose: string,
): { key: LogicalKey; v: KeyVersion } {
  const key = core.logicalKey(logicalKeyId);
  if (key.purpose !== purpose)
    throw new MkmError('KEY_NOT_PERMITTED', wrongPurpose, { purpose: key.purpose });
  const v = core.inventory.peek().versions.find((x) => x.logicalKeyId === logicalKeyId && x.primary);
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
export async function encryptWithPrimary(
  core: LifecycleCore,
  logicalKeyId: string,
  plaintext: Uint8Array,
): Promise<string> {
  const { key, v } = primaryToUse(core, logicalKeyId, 'data', 'Only data keys encrypt data.');
  core.options.usage?.check({ versionId: v.id });
  const factor = core.options.usage ? null : hardLimitFactor(core);
  const { maxUses } = policyFor(key, core.options.policies);
  if (factor !== null && maxUses !== null && core.usesOf(v) >= useLimit(maxUses, factor)) {
    throw new MkmError('KEY_NOT_PERMITTED', 'This key version reached its use limit; rotate the key.', {
      versionId: v.id,
      uses: core.usesOf(v),
      maxUses,
    });
  }
  const { iv, data } = await core.onToken(v.tokenSerial!, async (slotId) => {
    const random = (await core.tokens.call('generateRandom', { slotId, length: 16 })).data;
    const out = await core.tokens.call('encrypt', {
      slotId,
      id: v.ckaId!,
      mechanism: 'AES_CBC_PAD',
      iv: random,
      data: Buffer.from(plaintext).toString('base64'),
    });
    return { iv: random, data: out.data };
  });
  recordUse(core, v, 'encrypt');
  return formatEnvelope({ versionId: v.id, iv, ciphertext: data });
}

/**
 * The version named by an envelope or a tag, if it may still open what it made (active or
 * deactivated, of the right purpose, with its object on the token).
 */
function versionToOpen(
  core: LifecycleCore,
  versionId: string,
  purpose: 'data' | 'hmac',
  made: 'data was encrypted under' | 'tag was made with',
): { v: KeyVersion; ckaId: string } {
  const v = core.inventory.peek().versions.find((x) => x.id === versionId);
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
export async function decrypt(core: LifecycleCore, envelope: string): Promise<Buffer> {
  const e = parseEnvelope(envelope);
  const { v, ckaId } = versionToOpen(core, e.versionId, 'data', 'data was encrypted under');
  const { data } = await core.onToken(v.tokenSerial!, (slotId) =>
    core.tokens.call('decrypt', {
      slotId,
      id: ckaId,
      mechanism: 'AES_CBC_PAD',
      iv: e.iv,
      data: e.ciphertext,
    }),
  );
  recordUse(core, v, 'decrypt');
  return Buffer.from(data, 'base64');
}

/** HMAC-SHA256 on the token under an hmac key's primary; returns an mkm1m tag. */
export async function macWithPrimary(
  core: LifecycleCore,
  logicalKeyId: string,
  data: Uint8Array,
): Promise<string> {
  const { v } = primaryToUse(core, logicalKeyId, 'hmac', 'Only hmac keys make MACs here.');
  core.options.usage?.check({ versionId: v.id });
  const { mac } = await core.onToken(v.tokenSerial!, (slotId) =>
    core.tokens.call('hmacSign', { slotId, id: v.ckaId!, data: Buffer.from(data).toString('base64') }),
  );
  recordUse(core, v, 'mac');
  return formatMacTag({ versionId: v.id, mac });
}

/** Checks an mkm1m tag with the version it names (active or deactivated). */
export async function verifyMac(core: LifecycleCore, data: Uint8Array, tag: string): Promise<boolean> {
  const t = parseMacTag(tag);
  const { v, ckaId } = versionToOpen(core, t.versionId, 'hmac', 'tag was made with');
  const { valid } = await core.onToken(v.tokenSerial!, (slotId) =>
    core.tokens.call('hmacVerify', {
      slotId,
      id: ckaId,
      data: Buffer.from(data).toString('base64'),
      mac: t.mac,
    }),
  );
  recordUse(core, v, 'verify');
  return valid;
}

function recordUse(core: LifecycleCore, v: KeyVersion, operation: UsageOperation): void {
  if (core.options.usage) core.options.usage.record({ versionId: v.id }, operation);
  else core.usage.record(v.id);
}

function hardLimitFactor(core: LifecycleCore): number | null {
  return core.options.hardUseLimitFactor === undefined ? 1.1 : core.options.hardUseLimitFactor;
}
