import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokensService } from '../../../electron/hsm/tokens.nodejs';
import {
  KeyLifecycleService,
  type GatewayRetirementRequest,
  type KeyLifecycleOptions,
  type RotationProgress,
} from '../../../electron/lifecycle/lifecycle.nodejs';
import { MkmError } from '../../../shared/errors.std';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { auditCollector, openTokens, testClock } from './setup';

/**
 * The gateway retirement hook (a boundary: the gateway part implements it) and rotation progress,
 * on a real SoftHSM2 token. The hook here is a recording fake that can be told to fail.
 */
let hsm: SoftHsmToken;
let root: string;
let tokens: TokensService;
let n = 0;

beforeAll(async () => {
  hsm = createSoftHsmToken({ label: 'keys-retire' });
  root = mkdtempSync(join(tmpdir(), 'mkm-keys-retire-'));
  tokens = await openTokens({
    dataDir: root,
    modulePath: hsm.modulePath,
    slotId: hsm.slotId,
    pin: hsm.userPin,
  });
});

afterAll(async () => {
  await tokens?.close();
  hsm?.cleanup();
  rmSync(root, { recursive: true, force: true });
});

function fakeGateway() {
  const retired: GatewayRetirementRequest[] = [];
  let failWith: MkmError | null = null;
  return {
    retired,
    reasons: () => retired.map((r) => `v${r.version.version}:${r.reason}`),
    fail: (error: MkmError | null) => (failWith = error),
    options: {
      registerWithGateway: async (r) => ({ reference: `ks-${r.version.version}` }),
      retireAtGateway: async (r) => {
        if (failWith) throw failWith;
        retired.push(r);
      },
    } satisfies Partial<KeyLifecycleOptions>,
  };
}

function open(dir: string, clock: ReturnType<typeof testClock>, extra: Partial<KeyLifecycleOptions>) {
  const audit = auditCollector();
  const keys = KeyLifecycleService.open({ dir, tokens, clock: clock.now, audit: audit.audit, ...extra });
  return { keys, audit };
}

describe('retiring gateway-registered versions', () => {
  it('tells the gateway when a registered version is deactivated after its grace, compromised or destroyed', async () => {
    const clock = testClock();
    const gw = fakeGateway();
    const { keys, audit } = open(join(root, `inv-${++n}`), clock, gw.options);
    const { logicalKey, version: v1 } = await keys.createKey({
      name: 'transport',
      purpose: 'gateway-transport',
      tokenSerial: hsm.serial,
    });
    expect(v1.gateway.status).toBe('registered');
    const v2 = await keys.rotateNow(logicalKey.id);
    // In grace v1 still serves the gateway's in-flight traffic: nothing retired yet.
    expect(await keys.sweep()).toEqual([]);
    expect(gw.retired).toEqual([]);

    clock.advanceDays(8);
    expect(await keys.sweep()).toEqual([v1.id]);
    expect(gw.reasons()).toEqual(['v1:deactivated']);
    expect(gw.retired[0]!.version.gateway.reference).toBe('ks-1');
    expect(keys.version(v1.id).gateway).toMatchObject({ status: 'retired', error: null, reference: 'ks-1' });

    // Idempotent from our side too: a retired version is not retired again when destroyed.
    await keys.destroy(v1.id, { confirm: true, confirmLabel: v1.label });
    expect(gw.reasons()).toEqual(['v1:deactivated']);

    // A compromised primary is retired before its replacement is made.
    const { replacement } = await keys.markCompromised(v2.id);
    expect(gw.reasons()).toEqual(['v1:deactivated', 'v2:compromised']);
    expect(keys.version(v2.id).gateway.status).toBe('retired');
    expect(replacement!.gateway.status).toBe('registered');

    // Deactivating a replaced version by hand (before its grace ends) retires it too.
    const v4 = await keys.rotateNow(logicalKey.id);
    await keys.deactivate(replacement!.id);
    expect(gw.reasons().at(-1)).toBe('v3:deactivated');
    expect(keys.primary(logicalKey.id)!.id).toBe(v4.id);

    const retireEntries = audit.entries.filter((e) => e.action === 'key.gateway.retire');
    expect(retireEntries.map((e) => [e.result, e.details?.reason])).toEqual([
      ['ok', 'deactivated'],
      ['ok', 'compromised'],
      ['ok', 'deactivated'],
    ]);
    expect(retireEntries[0]!.key).toMatchObject({ id: v1.ckaId, fingerprint: v1.fingerprint!.value });
    await keys.close();
  });

  it('keeps retirePending when the gateway is unreachable, across a restart, until resume() gets through', async () => {
    const clock = testClock();
    const gw = fakeGateway();
    const dir = join(root, `inv-${++n}`);
    let { keys, audit } = open(dir, clock, gw.options);
    const { logicalKey, version: v1 } = await keys.createKey({
      name: 'transport down',
      purpose: 'gateway-transport',
      tokenSerial: hsm.serial,
    });
    await keys.rotateNow(logicalKey.id);
    gw.fail(new MkmError('GATEWAY_UNREACHABLE'));
    // The state change happens whatever the gateway says; the retirement waits.
    expect((await keys.deactivate(v1.id)).state).toBe('deactivated');
    expect(keys.version(v1.id).gateway).toMatchObject({
      status: 'retirePending',
      error: 'GATEWAY_UNREACHABLE',
    });
    expect(audit.entries.filter((e) => e.action === 'key.gateway.retire').map((e) => e.result)).toEqual([
      'GATEWAY_UNREACHABLE',
    ]);
    expect(await keys.retryRetirements()).toEqual([v1.id]);
    await keys.close();

    // Next start: the journaled retirement is still there and resume() finishes it.
    gw.fail(null);
    ({ keys, audit } = open(dir, clock, gw.options));
    expect(keys.version(v1.id).gateway.status).toBe('retirePending');
    const report = await keys.resume();
    expect(report.retirePending).toEqual([]);
    expect(gw.reasons()).toEqual(['v1:deactivated']);
    expect(keys.version(v1.id).gateway).toMatchObject({ status: 'retired', error: null });
    expect(audit.entries.filter((e) => e.action === 'key.gateway.retire').map((e) => e.result)).toEqual([
      'ok',
    ]);
    await keys.close();
  });

  it('journals the retirement without a hook (the gateway part not wired yet) and sends it once one is', async () => {
    const clock = testClock();
    const gw = fakeGateway();
    const dir = join(root, `inv-${++n}`);
    let { keys } = open(dir, clock, { registerWithGateway: gw.options.registerWithGateway });
    const { logicalKey, version: v1 } = await keys.createKey({
      name: 'transport later',
      purpose: 'gateway-transport',
      tokenSerial: hsm.serial,
    });
    await keys.rotateNow(logicalKey.id);
    await keys.markCompromised(v1.id);
    expect(keys.version(v1.id).gateway.status).toBe('retirePending');
    await keys.close();
    ({ keys } = open(dir, clock, gw.options));
    await keys.sweep();
    expect(gw.reasons()).toEqual(['v1:compromised']);
    expect(keys.version(v1.id).gateway.status).toBe('retired');
    await keys.close();
  });

  it('resume() (each login) deactivates replaced versions whose grace ended and retires them', async () => {
    const clock = testClock();
    const gw = fakeGateway();
    const { keys } = open(join(root, `inv-${++n}`), clock, gw.options);
    const { logicalKey, version: v1 } = await keys.createKey({
      name: 'transport resume',
      purpose: 'gateway-transport',
      tokenSerial: hsm.serial,
    });
    await keys.rotateNow(logicalKey.id);
    expect((await keys.resume()).deactivated).toEqual([]);
    clock.advanceDays(8);
    const report = await keys.resume();
    expect(report).toMatchObject({ deactivated: [v1.id], retirePending: [], failed: [] });
    expect(keys.version(v1.id)).toMatchObject({ state: 'deactivated', gateway: { status: 'retired' } });
    expect(gw.reasons()).toEqual(['v1:deactivated']);
    await keys.close();
  });

  it('retires a version registered by a rotation that is then abandoned before promotion', async () => {
    const clock = testClock();
    const gw = fakeGateway();
    let stopAt: string | null = null;
    const { keys } = open(join(root, `inv-${++n}`), clock, {
      ...gw.options,
      faults: (point) => {
        if (point === stopAt) throw new MkmError('CANCELLED', `stopped at ${point}`);
      },
    });
    const { logicalKey, version: v1 } = await keys.createKey({
      name: 'transport abandoned',
      purpose: 'gateway-transport',
      tokenSerial: hsm.serial,
    });
    stopAt = 'registered';
    await expect(keys.rotateNow(logicalKey.id)).rejects.toMatchObject({ code: 'CANCELLED' });
    stopAt = null;
    const [inFlight] = keys.list().rotations;
    expect(inFlight).toMatchObject({ step: 'registered' });
    expect(keys.version(inFlight!.newVersionId).gateway.status).toBe('registered');
    const abandoned = await keys.abandonRotation(logicalKey.id);
    expect(abandoned).toMatchObject({ state: 'destroyed', gateway: { status: 'retired' } });
    expect(gw.reasons()).toEqual(['v2:destroyed']);
    expect(keys.primary(logicalKey.id)!.id).toBe(v1.id);
    await keys.close();
  });

  it('never calls the hook for versions the gateway was not told about', async () => {
    const clock = testClock();
    const gw = fakeGateway();
    const { keys } = open(join(root, `inv-${++n}`), clock, gw.options);
    const { logicalKey, version: v1 } = await keys.createKey({
      name: 'data',
      purpose: 'data',
      tokenSerial: hsm.serial,
    });
    await keys.rotateNow(logicalKey.id);
    await keys.deactivate(v1.id);
    await keys.markCompromised(v1.id);
    await keys.destroy(v1.id, { confirm: true, confirmLabel: v1.label });
    expect(gw.retired).toEqual([]);
    expect(keys.version(v1.id).gateway.status).toBe('not-required');
    await keys.close();
  });
});

describe('rotation progress', () => {
  it('reports each step in order: planned, generating, registering (when the purpose needs it), promoting, done', async () => {
    const gw = fakeGateway();
    const { keys } = open(join(root, `inv-${++n}`), testClock(), gw.options);
    const seen: RotationProgress[] = [];
    const { logicalKey } = await keys.createKey(
      { name: 'progress data', purpose: 'data', tokenSerial: hsm.serial },
      { onProgress: (p) => seen.push(p) },
    );
    expect(seen.map((p) => `${p.step}:${p.version}`)).toEqual([
      'planned:1',
      'generating:1',
      'promoting:1',
      'done:1',
    ]);
    seen.length = 0;
    await keys.rotateNow(logicalKey.id, 'manual', { onProgress: (p) => seen.push(p) });
    expect(seen.map((p) => p.step)).toEqual(['planned', 'generating', 'promoting', 'done']);
    expect(seen.every((p) => p.logicalKeyId === logicalKey.id && p.version === 2)).toBe(true);

    seen.length = 0;
    await keys.createKey(
      { name: 'progress transport', purpose: 'gateway-transport', tokenSerial: hsm.serial },
      {
        onProgress: (p) => {
          seen.push(p);
          // A failing display must not break the rotation.
          throw new Error('listener bug');
        },
      },
    );
    expect(seen.map((p) => p.step)).toEqual(['planned', 'generating', 'registering', 'promoting', 'done']);
    await keys.close();
  });
});
