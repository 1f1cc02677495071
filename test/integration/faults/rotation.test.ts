import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyLifecycleService } from '../../../electron/lifecycle/lifecycle.nodejs';
import { everyCall, faultyModuleAvailable } from '../../helpers/faulty-module';
import type { RealObject } from '../../helpers/real-token';
import {
  ALL_FAULTS,
  FAULT_KINDS,
  checkFilesAndAudit,
  expectTypedError,
  faultCase,
  openBench,
  type Bench,
} from './setup';

/**
 * A rotation with the token failing at every PKCS#11 call it makes. A clean rotation is run
 * first and the faulty module's counts say which calls a rotation makes (C_FindObjectsInit ×3,
 * C_GenerateKey ×1, ...); then each of those calls fails in turn, answering one of FAULT_KINDS
 * (a CKR, or the token pulled or replugged right there). After each: the admin recovers the
 * token and logs in, resume() finishes the journaled rotation, and the real token (read
 * straight through SoftHSM2) and the inventory agree, with one primary per key, no version
 * lost, old data still decrypting, the audit chain verifying and every file whole.
 */
const available = faultyModuleAvailable();
const NOW = new Date('2026-03-01T00:00:00.000Z');

let bench: Bench;
let keys: KeyLifecycleService;
const registered: string[] = [];
const open = () =>
  KeyLifecycleService.open({
    dir: join(bench.root, 'keys'),
    tokens: bench.tokens,
    audit: (e) => bench.audit.append(e),
    clock: () => NOW,
    usageFlushMs: 0,
    registerWithGateway: async ({ version }) => {
      registered.push(version.id);
      return { reference: `ks-${version.version}` };
    },
  });

/** The crash test's invariants, with the token side read from SoftHSM2 itself. */
function checkInventoryAgainstToken(objects: RealObject[]) {
  const data = keys.list();
  const keyObjects = objects.filter((o) => ['secret', 'private', 'public'].includes(o.class));
  const live = data.versions.filter((v) => v.state !== 'destroyed' && v.ckaId !== null);
  for (const o of keyObjects) {
    expect(
      live.some((v) => v.ckaId === o.id && v.objectClasses.includes(o.class as 'secret')),
      `orphan object ${o.label} (${o.class})`,
    ).toBe(true);
  }
  for (const v of live) {
    for (const cls of v.objectClasses) {
      expect(
        keyObjects.some((o) => o.id === v.ckaId && o.class === cls),
        `${v.label} lost its ${cls}`,
      ).toBe(true);
    }
  }
  expect(data.rotations).toEqual([]);
  for (const key of data.logicalKeys) {
    const versions = data.versions.filter((v) => v.logicalKeyId === key.id);
    expect(
      versions.filter((v) => v.primary),
      `${key.name}: one primary`,
    ).toHaveLength(1);
    expect(versions.map((v) => v.version).sort((a, b) => a - b)).toEqual(versions.map((_, i) => i + 1));
    expect(versions.filter((v) => v.state === 'pre-activation')).toEqual([]);
  }
}

const setup = available
  ? (async () => {
      bench = await openBench('faults-rotation');
      keys = open();
      const made = [];
      for (const purpose of ['data', 'gateway-transport'] as const) {
        const { logicalKey } = await keys.createKey({
          name: `${purpose} key`,
          purpose,
          tokenSerial: bench.hsm.serial,
        });
        made.push(logicalKey.id);
      }
      const [dataKey, transportKey] = made as [string, string];
      const sample = await keys.encryptWithPrimary(dataKey, Buffer.from('written before any fault'));
      // The clean runs: what does one rotation of each ask of the token?
      const learn = async (keyId: string) => {
        bench.faulty.clear();
        await keys.rotateNow(keyId);
        return bench.faulty.stats().calls;
      };
      return {
        dataKey,
        transportKey,
        sample,
        calls: { data: await learn(dataKey), transport: await learn(transportKey) },
      };
    })()
  : null;
const learned = setup ? await setup : null;

afterAll(async () => {
  await keys?.close();
  await bench?.close();
});

describe.skipIf(!available)('rotation with the token failing at every call', () => {
  it('the clean runs made calls to fail', () => {
    expect(learned!.calls.data.C_GenerateKey).toBe(1);
    expect(learned!.calls.transport.C_GenerateKeyPair).toBe(1);
  });

  const plans = learned
    ? [
        {
          what: 'data',
          keyId: learned.dataKey,
          calls: everyCall(learned.calls.data, {
            limit: ALL_FAULTS ? undefined : 10,
            prefer: ['C_GenerateKey'],
          }),
        },
        {
          what: 'transport',
          keyId: learned.transportKey,
          calls: everyCall(learned.calls.transport, {
            limit: ALL_FAULTS ? undefined : 4,
            prefer: ['C_GenerateKeyPair'],
          }),
        },
      ]
    : [];
  let n = 0;
  for (const { what, keyId, calls } of plans) {
    for (const { fn, call } of calls) {
      const kind = FAULT_KINDS[n++ % FAULT_KINDS.length]!;
      it(`${what} key: ${fn} #${call} → ${kind}`, () =>
        faultCase('rotation', `${what} ${fn}#${call} ${kind}`, async () => {
          const before = keys.versions(keyId).map((v) => v.id);
          bench.faulty.control([`${fn} ${call} ${kind}`]);
          let failed: unknown = null;
          await keys.rotateNow(keyId).catch((e: unknown) => (failed = e));
          // The fault really hit that call (a rotation's later calls shift as the token fills,
          // but never below the clean run's count).
          expect(bench.faulty.stats().fired).toMatchObject([{ fn, call }]);
          if (failed) expectTypedError(failed);

          await bench.recover();
          const report = await keys.resume();
          expect(report.failed).toEqual([]);
          checkInventoryAgainstToken(bench.objects());
          const after = keys.versions(keyId).map((v) => v.id);
          for (const id of before) expect(after, 'no version lost').toContain(id);
          // The rotation either finished (now or on resume) or never started: never half.
          expect(after.length - before.length).toBeLessThanOrEqual(1);
          expect((await keys.decrypt(learned!.sample)).toString()).toBe('written before any fault');
          await checkFilesAndAudit(bench);
        }));
    }
  }
});
