import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, verifyAuditLog } from '../../../electron/audit/audit-log.nodejs';
import type { AuditAppend } from '../../../electron/audit/audit-log.nodejs';
import type { TokensService } from '../../../electron/hsm/tokens.nodejs';
import { INVENTORY_FILE, InventoryStore } from '../../../electron/lifecycle/inventory.nodejs';
import {
  KeyLifecycleService,
  type GatewayRegistrationRequest,
  type KeyLifecycleOptions,
} from '../../../electron/lifecycle/lifecycle.nodejs';
import { parseEnvelope } from '../../../electron/lifecycle/model.std';
import { MkmError } from '../../../shared/errors.std';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { openTokens, testClock } from './setup';

/**
 * The key lifecycle against a real SoftHSM2 token through TokensService and its host process.
 * Time is an injected clock; nothing sleeps.
 */
let hsm: SoftHsmToken;
let root: string;
let tokens: TokensService;
let auditLog: AuditLog;
const entries: AuditAppend[] = [];
let n = 0;

async function expectCode(promise: Promise<unknown> | (() => unknown), code: string) {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    expect(error).toBeInstanceOf(MkmError);
    expect((error as MkmError).code).toBe(code);
    return error as MkmError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

function open(clock: ReturnType<typeof testClock>, extra: Partial<KeyLifecycleOptions> = {}) {
  return KeyLifecycleService.open({
    dir: join(root, `inventory-${++n}`),
    tokens,
    clock: clock.now,
    audit: (e) => {
      entries.push(e);
      auditLog.append(e);
    },
    usageFlushMs: 0,
    ...extra,
  });
}

async function tokenIds(): Promise<Set<string>> {
  const objects = await tokens.call('listObjects', { slotId: hsm.slotId });
  return new Set(objects.map((o) => o.id));
}

beforeAll(async () => {
  hsm = createSoftHsmToken({ label: 'keys-lifecycle' });
  root = mkdtempSync(join(tmpdir(), 'mkm-keys-'));
  tokens = await openTokens({
    dataDir: root,
    modulePath: hsm.modulePath,
    slotId: hsm.slotId,
    pin: hsm.userPin,
  });
  auditLog = await AuditLog.open({
    dir: join(root, 'audit'),
    actor: { osUser: 'test', token: { serial: hsm.serial, label: hsm.label } },
    durable: false,
  });
});

afterAll(async () => {
  await auditLog?.close();
  await tokens?.close();
  hsm?.cleanup();
  rmSync(root, { recursive: true, force: true });
});

describe('a data key through its life', () => {
  it('generates, rotates with a grace period, decrypts old data, deactivates, destroys to a tombstone', async () => {
    const clock = testClock();
    const keys = open(clock);
    const { logicalKey, version: v1 } = await keys.createKey({
      name: 'card data',
      purpose: 'data',
      tokenSerial: hsm.serial,
    });
    expect(v1).toMatchObject({
      version: 1,
      state: 'active',
      primary: true,
      type: 'aes-256',
      objectClasses: ['secret'],
      tokenSerial: hsm.serial,
      activatedAt: '2026-01-01T00:00:00.000Z',
      expiresAt: '2027-01-01T00:00:00.000Z',
      cryptoPeriodDays: 365,
      fingerprint: { kind: 'kcv', method: 'cmac' },
      gateway: { status: 'not-required' },
    });
    expect(v1.ckaId).toMatch(/^[0-9a-f]{32}$/);
    expect((await tokens.call('kcv', { slotId: hsm.slotId, id: v1.ckaId! })).kcv).toBe(v1.fingerprint!.value);

    const old = await keys.encryptWithPrimary(logicalKey.id, Buffer.from('4111111111111111'));
    expect(old).toMatch(/^mkm1:[0-9a-f-]{36}:[A-Za-z0-9+/]{22}==:[A-Za-z0-9+/=]+$/);
    expect(parseEnvelope(old).versionId).toBe(v1.id);
    // A token-generated IV: two encryptions of the same text differ.
    const again = await keys.encryptWithPrimary(logicalKey.id, Buffer.from('4111111111111111'));
    expect(parseEnvelope(again).iv).not.toBe(parseEnvelope(old).iv);

    clock.advanceDays(100);
    const v2 = await keys.rotateNow(logicalKey.id);
    expect(v2).toMatchObject({ version: 2, state: 'active', primary: true, origin: 'generated' });
    expect(v2.ckaId).not.toBe(v1.ckaId);
    const v1After = keys.version(v1.id);
    expect(v1After).toMatchObject({
      state: 'active',
      primary: false,
      graceUntil: '2026-05-11T00:00:00.000Z',
    });
    expect(keys.versions(logicalKey.id).filter((v) => v.primary)).toHaveLength(1);

    expect((await keys.decrypt(old)).toString()).toBe('4111111111111111');
    const fresh = await keys.encryptWithPrimary(logicalKey.id, Buffer.from('new data'));
    expect(parseEnvelope(fresh).versionId).toBe(v2.id);

    // Grace not over: nothing to sweep. Over: v1 is deactivated and still decrypts.
    expect(await keys.sweep()).toEqual([]);
    clock.advanceDays(31);
    expect(keys.due().graceExpired.map((g) => g.versionId)).toEqual([v1.id]);
    expect(await keys.sweep()).toEqual([v1.id]);
    expect(keys.version(v1.id)).toMatchObject({
      state: 'deactivated',
      deactivatedAt: clock.now().toISOString(),
    });
    expect((await keys.decrypt(old)).toString()).toBe('4111111111111111');

    // Destroy: the primary is refused; a second confirmation (the label) is required.
    await expectCode(keys.destroy(v2.id, { confirm: true, confirmLabel: v2.label }), 'CONFLICT');
    await expectCode(keys.destroy(v1.id, { confirm: true, confirmLabel: 'wrong' }), 'CONFIRMATION_REQUIRED');
    await expectCode(
      keys.destroy(v1.id, { confirm: false, confirmLabel: v1.label }),
      'CONFIRMATION_REQUIRED',
    );
    const tomb = await keys.destroy(v1.id, { confirm: true, confirmLabel: v1.label });
    expect(tomb).toMatchObject({
      state: 'destroyed',
      ckaId: v1.ckaId,
      destroyPending: false,
      primary: false,
    });
    expect(tomb.destroyedAt).toBe(clock.now().toISOString());
    expect(await tokenIds()).not.toContain(v1.ckaId);
    expect(await tokenIds()).toContain(v2.ckaId);
    await expectCode(keys.decrypt(old), 'KEY_NOT_PERMITTED');
    expect((await keys.decrypt(fresh)).toString()).toBe('new data');
    expect(keys.versions(logicalKey.id).map((v) => [v.version, v.state])).toEqual([
      [2, 'active'],
      [1, 'destroyed'],
    ]);

    expect(entries.map((e) => e.action)).toEqual(
      expect.arrayContaining([
        'key.rotate.plan',
        'key.generate',
        'key.rotate.promote',
        'key.rotate.complete',
        'key.deactivate',
        'key.destroy',
      ]),
    );
    const destroyEntry = entries.find((e) => e.action === 'key.destroy')!;
    expect(destroyEntry.key).toEqual({ id: v1.ckaId, kcv: v1.fingerprint!.value });
    await keys.close();
  });

  it('fires the policy on age (warning, due, overdue) with the injected clock and rotates what is due', async () => {
    const clock = testClock();
    const keys = open(clock);
    const { logicalKey, version: v1 } = await keys.createKey({
      name: 'aging',
      purpose: 'data',
      tokenSerial: hsm.serial,
    });
    expect(keys.due().due).toEqual([]);
    clock.advanceDays(340);
    expect(keys.due().due).toMatchObject([
      {
        logicalKeyId: logicalKey.id,
        level: 'warning',
        reasons: [{ kind: 'age', level: 'warning', daysLeft: 25 }],
      },
    ]);
    clock.advanceDays(25);
    expect(keys.due().due[0]).toMatchObject({ level: 'due', reasons: [{ kind: 'age', level: 'due' }] });
    clock.advanceDays(31);
    expect(keys.due().due[0]).toMatchObject({ level: 'overdue', versionId: v1.id });

    const report = await keys.rotateDue();
    expect(report.rotated).toMatchObject([{ logicalKeyId: logicalKey.id }]);
    expect(keys.primary(logicalKey.id)!.version).toBe(2);
    expect(keys.due().due).toEqual([]);
    expect(keys.list().history.at(-1)).toMatchObject({ reason: 'scheduled', outcome: 'completed' });
    await keys.close();
  });

  it('counts uses in memory, writes them in batches, and fires the policy on the use count', async () => {
    const clock = testClock();
    const keys = open(clock);
    const { logicalKey, version: v1 } = await keys.createKey({
      name: 'few uses',
      purpose: 'data',
      tokenSerial: hsm.serial,
      // The warning level at 90 % (the default is 80 %): nine uses warn, eight do not.
      policy: { maxUses: 10, warnUsesFraction: 0.9 },
    });
    const onDisk = () =>
      (
        JSON.parse(readFileSync(join(keys.inventory.dir, INVENTORY_FILE), 'utf8')) as {
          data: { versions: { id: string; useCount: number }[] };
        }
      ).data.versions.find((v) => v.id === v1.id)!.useCount;

    const envelopes: string[] = [];
    for (let i = 0; i < 8; i++)
      envelopes.push(await keys.encryptWithPrimary(logicalKey.id, Buffer.from(`m${i}`)));
    expect(onDisk()).toBe(0); // not one write per operation
    expect(keys.due().due).toEqual([]);
    await keys.decrypt(envelopes[0]!);
    expect(keys.due().due[0]).toMatchObject({
      level: 'warning',
      reasons: [{ kind: 'uses', uses: 9, maxUses: 10 }],
    });
    keys.flushUsage();
    expect(onDisk()).toBe(9);
    await keys.encryptWithPrimary(logicalKey.id, Buffer.from('x'));
    expect(keys.due().due[0]).toMatchObject({
      level: 'due',
      reasons: [{ kind: 'uses', level: 'due', uses: 10 }],
    });
    await keys.encryptWithPrimary(logicalKey.id, Buffer.from('x'));
    // 110 % of the limit: new encryptions are refused until the key is rotated.
    await expectCode(keys.encryptWithPrimary(logicalKey.id, Buffer.from('x')), 'KEY_NOT_PERMITTED');
    const report = await keys.rotateDue();
    expect(report.rotated[0]!.reasons).toMatchObject([{ kind: 'uses', level: 'overdue' }]);
    const env = await keys.encryptWithPrimary(logicalKey.id, Buffer.from('after'));
    expect(parseEnvelope(env).versionId).toBe(keys.primary(logicalKey.id)!.id);
    await keys.close(); // close flushes
    expect(onDisk()).toBe(11);
  });

  it('a compromised primary stops at once and a replacement becomes primary; its data no longer opens', async () => {
    const clock = testClock();
    const keys = open(clock);
    const { logicalKey, version: v1 } = await keys.createKey({
      name: 'leaky',
      purpose: 'data',
      tokenSerial: hsm.serial,
    });
    const env = await keys.encryptWithPrimary(logicalKey.id, Buffer.from('secret'));
    const { compromised, replacement } = await keys.markCompromised(v1.id, { note: 'ticket 42' });
    expect(compromised).toMatchObject({ state: 'compromised', primary: false });
    expect(compromised.compromisedAt).toBe(clock.now().toISOString());
    expect(replacement).toMatchObject({ version: 2, primary: true, state: 'active' });
    await expectCode(keys.decrypt(env), 'KEY_NOT_PERMITTED');
    expect(keys.list().history.at(-1)).toMatchObject({ reason: 'compromise' });
    const tomb = await keys.destroy(v1.id, { confirm: true, confirmLabel: v1.label });
    expect(tomb.state).toBe('destroyed');
    await keys.close();
  });
});

describe('an hmac key', () => {
  it('tags with the primary, and tags made before a rotation still verify after it', async () => {
    const clock = testClock();
    const keys = open(clock);
    const { logicalKey, version: v1 } = await keys.createKey({
      name: 'macs',
      purpose: 'hmac',
      tokenSerial: hsm.serial,
    });
    expect(v1.fingerprint).toMatchObject({ kind: 'kcv', method: 'hmac' });
    const tag = await keys.macWithPrimary(logicalKey.id, Buffer.from('amount=100'));
    expect(tag).toMatch(new RegExp(`^mkm1m:${v1.id}:[A-Za-z0-9+/]{43}=$`));
    await keys.rotateNow(logicalKey.id);
    expect(await keys.verifyMac(Buffer.from('amount=100'), tag)).toBe(true);
    expect(await keys.verifyMac(Buffer.from('amount=900'), tag)).toBe(false);
    const newer = await keys.macWithPrimary(logicalKey.id, Buffer.from('amount=100'));
    expect(newer.split(':')[1]).toBe(keys.primary(logicalKey.id)!.id);
    await expectCode(keys.encryptWithPrimary(logicalKey.id, Buffer.from('x')), 'KEY_NOT_PERMITTED');
    keys.flushUsage();
    expect(keys.version(v1.id).useCount).toBe(3);
    await keys.close();
  });
});

describe('gateway transport keys', () => {
  it('register with the gateway before they become primary; a failed registration waits for resume', async () => {
    const clock = testClock();
    const calls: GatewayRegistrationRequest[] = [];
    let fail = false;
    const hook = async (request: GatewayRegistrationRequest) => {
      calls.push(request);
      if (fail) throw new MkmError('GATEWAY_UNREACHABLE');
      return { reference: `ks-${request.version.version}` };
    };
    const dirOptions = { registerWithGateway: hook };
    const keys = open(clock, dirOptions);
    const { logicalKey, version: v1 } = await keys.createKey({
      name: 'transport',
      purpose: 'gateway-transport',
      tokenSerial: hsm.serial,
    });
    expect(v1).toMatchObject({
      type: 'rsa-2048',
      objectClasses: ['private', 'public'],
      fingerprint: { kind: 'spki-sha256' },
      gateway: { status: 'registered', reference: 'ks-1' },
    });
    expect(calls[0]!.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(calls[0]!.version.state).toBe('pre-activation');

    fail = true;
    await expectCode(keys.rotateNow(logicalKey.id), 'GATEWAY_UNREACHABLE');
    const inFlight = keys.list().rotations;
    expect(inFlight).toMatchObject([{ logicalKeyId: logicalKey.id, step: 'registering' }]);
    const pending = keys.version(inFlight[0]!.newVersionId);
    expect(pending).toMatchObject({
      state: 'pre-activation',
      gateway: { status: 'failed', error: 'GATEWAY_UNREACHABLE' },
    });
    expect(keys.primary(logicalKey.id)!.id).toBe(v1.id);

    fail = false;
    const report = await keys.resume();
    expect(report.rotations).toMatchObject([{ fromStep: 'registering', versionId: pending.id }]);
    expect(keys.primary(logicalKey.id)).toMatchObject({
      id: pending.id,
      gateway: { status: 'registered', reference: 'ks-2' },
    });
    expect(keys.version(v1.id)).toMatchObject({ primary: false, graceUntil: '2026-01-08T00:00:00.000Z' });
    await keys.close();
  });

  it('without a gateway hook the registration is recorded as skipped', async () => {
    const keys = open(testClock());
    const { version } = await keys.createKey({
      name: 'no hook',
      purpose: 'gateway-transport',
      tokenSerial: hsm.serial,
    });
    expect(version.gateway.status).toBe('skipped');
    await keys.close();
  });

  it('abandoning a rotation before promotion destroys what it generated and keeps the old primary', async () => {
    const keys = open(testClock(), {
      registerWithGateway: async () => {
        throw new MkmError('GATEWAY_ERROR');
      },
    });
    await expectCode(
      keys.createKey({ name: 'never registered', purpose: 'gateway-transport', tokenSerial: hsm.serial }),
      'GATEWAY_ERROR',
    );
    const r = keys.list().rotations[0]!;
    const pending = keys.version(r.newVersionId);
    expect(await tokenIds()).toContain(pending.ckaId);
    const tomb = await keys.abandonRotation(r.logicalKeyId);
    expect(tomb).toMatchObject({ state: 'destroyed' });
    expect(await tokenIds()).not.toContain(pending.ckaId);
    expect(keys.list().rotations).toEqual([]);
    expect(keys.list().history.at(-1)).toMatchObject({ outcome: 'rolled-back' });
    await keys.close();
  });

  it('imports the gateway’s public key (public only, no token object) and keeps the previous one in grace', async () => {
    const keys = open(testClock());
    const pem = (bits: number) =>
      generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({
        type: 'spki',
        format: 'pem',
      }) as string;
    const v1 = keys.importGatewayPublicKey({ pem: pem(2048), name: 'Gateway' });
    expect(v1).toMatchObject({
      purpose: 'gateway-public',
      origin: 'imported',
      ckaId: null,
      tokenSerial: null,
      objectClasses: [],
      primary: true,
      fingerprint: { kind: 'spki-sha256' },
    });
    const v2 = keys.importGatewayPublicKey({ pem: pem(2048), logicalKeyId: v1.logicalKeyId });
    expect(v2).toMatchObject({ version: 2, primary: true });
    expect(keys.version(v1.id)).toMatchObject({ primary: false, state: 'active' });
    expect(() =>
      keys.importGatewayPublicKey({ pem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----' }),
    ).toThrow(expect.objectContaining({ code: 'PRIVATE_KEY_REFUSED' }));
    await expectCode(keys.rotateNow(v1.logicalKeyId), 'VALIDATION');
    await keys.close();
  });
});

describe('a damaged inventory', () => {
  it('refuses to open with STORE_CORRUPT; after restoring the last good copy the keys and their data are back', async () => {
    const clock = testClock();
    const dir = join(root, 'damaged');
    const options = { dir, tokens, clock: clock.now, audit: () => {}, usageFlushMs: 0 };
    let keys = KeyLifecycleService.open(options);
    const { logicalKey } = await keys.createKey({
      name: 'survivor',
      purpose: 'data',
      tokenSerial: hsm.serial,
    });
    const env = await keys.encryptWithPrimary(logicalKey.id, Buffer.from('still here'));
    await keys.close();

    const text = readFileSync(join(dir, INVENTORY_FILE), 'utf8');
    writeFileSync(join(dir, INVENTORY_FILE), text.replace('"survivor"', '"renamed by hand"'));
    const err = await expectCode(() => KeyLifecycleService.open(options), 'STORE_CORRUPT');
    expect(err.details).toMatchObject({
      reason: 'digest mismatch: edited outside the app',
      lastGoodAvailable: true,
    });

    InventoryStore.restoreLastGood(dir);
    keys = KeyLifecycleService.open(options);
    expect(keys.logicalKey(logicalKey.id).name).toBe('survivor');
    expect((await keys.decrypt(env)).toString()).toBe('still here');
    await keys.close();
  });
});

describe('reconcile with the token', () => {
  it('flags a record whose object is gone, lists unmanaged objects, and adopts one as a managed version', async () => {
    // The token is shared with the other tests: their keys are unmanaged here too.
    const clock = testClock();
    const keys = open(clock);
    const { logicalKey, version } = await keys.createKey({
      name: 'kek',
      purpose: 'kek',
      tokenSerial: hsm.serial,
    });
    let report = await keys.reconcile(hsm.serial);
    expect(report.missing).toEqual([]);

    // Behind the inventory's back: a key is deleted, another is made.
    await tokens.call('destroyObject', {
      slotId: hsm.slotId,
      id: version.ckaId!,
      class: 'secret',
      confirm: true,
    });
    const stray = await tokens.call('generateKey', {
      slotId: hsm.slotId,
      type: 'hmac-256',
      label: 'made elsewhere',
      purpose: 'hmac',
    });
    clock.advanceDays(1);
    report = await keys.reconcile(hsm.serial);
    expect(report.missing).toMatchObject([{ versionId: version.id, ckaId: version.ckaId }]);
    expect(keys.version(version.id).missingSince).toBe(clock.now().toISOString());
    expect(report.unmanaged).toContainEqual(
      expect.objectContaining({
        ckaId: stray.id,
        classes: ['secret'],
        label: 'made elsewhere',
        keyType: 'generic-secret',
      }),
    );
    expect(entries.some((e) => e.action === 'key.missing' && e.result === 'KEY_NOT_FOUND')).toBe(true);
    expect(keys.due().due).toEqual([]);
    expect(logicalKey.purpose).toBe('kek');

    const adopted = await keys.adopt({
      tokenSerial: hsm.serial,
      ckaId: stray.id,
      purpose: 'hmac',
      name: 'adopted mac',
    });
    expect(adopted).toMatchObject({
      origin: 'adopted',
      version: 1,
      state: 'active',
      primary: true,
      type: 'hmac-256',
      fingerprint: { kind: 'kcv', method: 'hmac', value: stray.kcv!.kcv },
    });
    report = await keys.reconcile(hsm.serial);
    expect(report.unmanaged.map((u) => u.ckaId)).not.toContain(stray.id);
    await expectCode(keys.adopt({ tokenSerial: hsm.serial, ckaId: stray.id, purpose: 'hmac' }), 'CONFLICT');
    await expectCode(
      keys.adopt({ tokenSerial: hsm.serial, ckaId: stray.id.slice(2) + 'ff', purpose: 'hmac' }),
      'KEY_NOT_FOUND',
    );
    await keys.close();
  });

  it('every lifecycle entry is a valid audit record (the real AuditLog accepted and chained them)', async () => {
    await auditLog.flush();
    const report = await verifyAuditLog({ dir: join(root, 'audit') });
    expect(report.ok).toBe(true);
    expect(report.entries).toBeGreaterThan(entries.length);
  });
});
