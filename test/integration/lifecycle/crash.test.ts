import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokensService } from '../../../electron/hsm/tokens.nodejs';
import { CRASH_POINTS, KeyLifecycleService } from '../../../electron/lifecycle/lifecycle.nodejs';
import type { ManagedPurpose } from '../../../shared/lifecycle/vocabulary.std';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { openTokens } from './setup';

/**
 * Kill at every step: a child process rotates a key and SIGKILLs itself right after step N is
 * journaled (or in the middle of a step: after the token made the key but before the journal
 * knows its CKA_ID, after the gateway accepted it but before that is recorded, between the temp
 * file and the rename of an inventory write), for every N in turn. Then a fresh service calls
 * resume() and the test checks the invariants against the real SoftHSM2 token: every key object
 * on the token is in the inventory and every live record's object is on the token, every
 * logical key has exactly one primary, no version is lost, old data still decrypts.
 *
 * All iterations share one token and one inventory, so the invariants are checked across every
 * crash so far, not just the last one.
 */
const NOW = '2026-03-01T00:00:00.000Z';
let hsm: SoftHsmToken;
let root: string;
let keysDir: string;
let hookLog: string;
let tokens: TokensService;

const open = () =>
  KeyLifecycleService.open({
    dir: keysDir,
    tokens,
    audit: () => {},
    clock: () => new Date(NOW),
    usageFlushMs: 0,
    registerWithGateway: async ({ version }) => {
      appendFileSync(hookLog, `${version.id}\n`);
      return { reference: `ks-${version.version}` };
    },
  });

function runChild(
  env: Record<string, string>,
): Promise<{ code: number | null; signal: string | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'rotate-child.ts')], {
      env: {
        ...hsm.env,
        MKM_KEYS_DIR: keysDir,
        MKM_MODULE: hsm.modulePath,
        MKM_SLOT: String(hsm.slotId),
        MKM_PIN: hsm.userPin,
        MKM_NOW: NOW,
        MKM_HOOK_LOG: hookLog,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, out }));
  });
}

/** The invariants, against the token itself. */
async function checkInvariants(keys: KeyLifecycleService) {
  const data = keys.list();
  const objects = (await tokens.call('listObjects', { slotId: hsm.slotId })).filter((o) =>
    ['secret', 'private', 'public'].includes(o.class),
  );
  const live = data.versions.filter((v) => v.state !== 'destroyed' && v.ckaId !== null);
  // No key on the token the inventory does not know.
  for (const o of objects) {
    expect(
      live.some((v) => v.ckaId === o.id && v.objectClasses.includes(o.class)),
      `unknown ${o.label}`,
    ).toBe(true);
  }
  // Every live record's objects are on the token; destroyed ones are gone.
  for (const v of live) {
    for (const cls of v.objectClasses)
      expect(objects.some((o) => o.id === v.ckaId && o.class === cls)).toBe(true);
  }
  for (const v of data.versions.filter((x) => x.state === 'destroyed' && x.ckaId)) {
    expect(objects.some((o) => o.id === v.ckaId)).toBe(false);
  }
  // Exactly one primary per logical key, versions 1..n without gaps, nothing in flight.
  expect(data.rotations).toEqual([]);
  for (const key of data.logicalKeys) {
    const versions = data.versions.filter((v) => v.logicalKeyId === key.id);
    expect(
      versions.filter((v) => v.primary),
      key.name,
    ).toHaveLength(1);
    expect(versions.map((v) => v.version).sort((a, b) => a - b)).toEqual(versions.map((_, i) => i + 1));
    expect(versions.filter((v) => v.state === 'pre-activation')).toEqual([]);
  }
  expect(data.versions.filter((v) => v.missingSince !== null)).toEqual([]);
}

beforeAll(async () => {
  hsm = createSoftHsmToken({ label: 'keys-crash' });
  root = mkdtempSync(join(tmpdir(), 'mkm-keys-crash-'));
  keysDir = join(root, 'keys');
  hookLog = join(root, 'hook.log');
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

type Kill = { at: string; nth?: number };
// Store writes in the child: #1 is open's rewrite, #2 the plan, #3 "generated".
const STORE_KILLS: Kill[] = [
  { at: 'store:tmp-written', nth: 2 },
  { at: 'store:tmp-written', nth: 3 },
  { at: 'store:written', nth: 3 },
];
const cases: { purpose: ManagedPurpose; kills: Kill[] }[] = [
  { purpose: 'gateway-transport', kills: [...CRASH_POINTS.map((at) => ({ at })), ...STORE_KILLS] },
  // The same state machine without the gateway steps; these prove old data still decrypts after
  // a crash on each side of the promotion (kept short: the transport key covers every point).
  { purpose: 'data', kills: [{ at: 'generate:mid' }, { at: 'generated' }, { at: 'promoted' }] },
];

describe('rotation killed at every step', () => {
  for (const { purpose, kills } of cases) {
    for (const kill of kills) {
      const name = `${purpose} killed at ${kill.at}${kill.nth ? `#${kill.nth}` : ''}`;
      it(`${name}: resume() leaves token and inventory consistent, one primary, no lost version`, async () => {
        // Version 1, and data under it, from a process that ends cleanly.
        let keys = open();
        const { logicalKey, version: v1 } = await keys.createKey({
          name,
          purpose: purpose as 'data' | 'gateway-transport',
          tokenSerial: hsm.serial,
        });
        const sample =
          purpose === 'data' ? await keys.encryptWithPrimary(logicalKey.id, Buffer.from(name)) : null;
        await keys.close();

        const child = await runChild({
          MKM_MODE: 'rotate',
          MKM_TARGET: logicalKey.id,
          MKM_KILL_AT: kill.at,
          MKM_KILL_NTH: String(kill.nth ?? 1),
        });
        expect(child.signal, child.out).toBe('SIGKILL');

        keys = open();
        try {
          const inFlight = keys.list().rotations.find((r) => r.logicalKeyId === logicalKey.id);
          if (inFlight) {
            // What the crash left: the token may hold a key the journal names only by its label.
            const labelled = (await tokens.call('listObjects', { slotId: hsm.slotId })).filter(
              (o) => o.label === inFlight.label,
            );
            const recorded = keys.version(inFlight.newVersionId).ckaId;
            const midGenerate =
              kill.at === 'generate:mid' || (kill.at === 'store:tmp-written' && kill.nth === 3);
            if (midGenerate) {
              expect(recorded).toBeNull();
              expect(labelled.length).toBeGreaterThan(0);
              const pending = (await keys.reconcile(hsm.serial)).pendingRotation;
              expect(pending.map((p) => p.label)).toContain(inFlight.label);
            }
            if (kill.at === 'planned') expect(labelled).toEqual([]);
          }
          const report = await keys.resume();
          expect(report.failed).toEqual([]);
          if (inFlight) expect(report.rotations.map((r) => r.rotationId)).toEqual([inFlight.id]);
          await checkInvariants(keys);

          const versions = keys.versions(logicalKey.id);
          const primary = keys.primary(logicalKey.id)!;
          // A kill before the plan was durable leaves no trace: that rotation never happened.
          const planLost = kill.at === 'store:tmp-written' && kill.nth === 2;
          if (planLost) {
            expect(versions.map((v) => v.id)).toEqual([v1.id]);
            expect(primary.id).toBe(v1.id);
          } else {
            expect(versions.map((v) => v.version)).toEqual([2, 1]);
            expect(primary.version).toBe(2);
            expect(keys.version(v1.id)).toMatchObject({ state: 'active', primary: false });
            if (purpose === 'gateway-transport') {
              expect(primary.gateway).toMatchObject({ status: 'registered', reference: 'ks-2' });
              if (kill.at === 'register:mid') {
                // Registered twice: before the kill and on resume (the hook is idempotent per version).
                const calls = readFileSync(hookLog, 'utf8')
                  .split('\n')
                  .filter((l) => l === primary.id);
                expect(calls).toHaveLength(2);
              }
            }
            expect(keys.list().history.filter((h) => h.newVersionId === primary.id)).toMatchObject([
              { outcome: 'completed' },
            ]);
          }
          if (sample) {
            expect((await keys.decrypt(sample)).toString()).toBe(name);
            const fresh = await keys.encryptWithPrimary(logicalKey.id, Buffer.from('after'));
            expect(fresh.split(':')[1]).toBe(primary.id);
          }
          expect(existsSync(join(keysDir, 'key-inventory.json.tmp-' + process.pid))).toBe(false);
        } finally {
          await keys.close();
        }
      });
    }
  }

  it('destroy killed after its intent is journaled: resume() finishes it and leaves a tombstone', async () => {
    let keys = open();
    const { logicalKey, version: v1 } = await keys.createKey({
      name: 'destroy crash',
      purpose: 'data',
      tokenSerial: hsm.serial,
    });
    await keys.rotateNow(logicalKey.id);
    await keys.deactivate(v1.id);
    await keys.close();

    const child = await runChild({
      MKM_MODE: 'destroy',
      MKM_TARGET: v1.id,
      MKM_LABEL: v1.label,
      MKM_KILL_AT: 'destroy:journaled',
    });
    expect(child.signal, child.out).toBe('SIGKILL');

    keys = open();
    try {
      expect(keys.version(v1.id)).toMatchObject({ destroyPending: true, state: 'deactivated' });
      const report = await keys.resume();
      expect(report.destroyed).toEqual([v1.id]);
      expect(keys.version(v1.id)).toMatchObject({ destroyPending: false, state: 'destroyed' });
      await checkInvariants(keys);
    } finally {
      await keys.close();
    }
  });
});
