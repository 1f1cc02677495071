import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../electron/core/logger.nodejs';
import type { GatewayClient } from '../../../electron/gateway/client/gateway-client.nodejs';
import type { GatewayClientState } from '../../../electron/gateway/client/state.nodejs';
import { HsmClient } from '../../../electron/hsm/client.nodejs';
import { createNodeHostSpawner } from '../../../electron/hsm/node-spawner.nodejs';
import {
  createFaultyModule,
  everyCall,
  faultyModuleAvailable,
  type FaultyModule,
} from '../../helpers/faulty-module';
import { realTokenObjects, tornFiles } from '../../helpers/real-token';
import { createHarness, type Harness } from '../gateway/harness';
import { ALL_FAULTS, FAULT_KINDS, expectTypedError, faultCase } from './setup';

/**
 * A gateway key set (AES + HMAC keys wrapped under our transport key, from the real sandbox on
 * 127.0.0.1) unwrapped into the token with the token failing at every call the install makes.
 * After each: the token holds exactly the current set's two session keys (or none), its token
 * objects are exactly the transport key pair (read through SoftHSM2 itself), no set was sent
 * twice, the gateway state file is whole, and the next secure message works.
 */
const available = faultyModuleAvailable();
const logger = createLogger({ name: 'main', level: 'error', stderrLevel: 'error' });

let h: Harness;
let faulty: FaultyModule;
let client: GatewayClient;
let transportId: string;

const state = () =>
  JSON.parse(readFileSync(join(h.stateDir, 'gateway-sandbox.json'), 'utf8')) as GatewayClientState;

async function expectConsistent(): Promise<void> {
  const s = state();
  const objects = (await h.sessionObjects()).sort();
  const current = client.currentKeySet();
  if (current) {
    expect(s.keySet?.setId).toBe(current.setId);
    expect(objects, 'session keys = the current set').toEqual(
      [s.keySet!.encKeyId, s.keySet!.macKeyId].sort(),
    );
  } else {
    expect(objects, 'no orphan session key').toEqual([]);
    expect(s.keySet).toBeNull();
  }
  expect(new Set(s.usedSetIds).size).toBe(s.usedSetIds.length);
  const sent = h.audit.filter((a) => a.action === 'secure.send').map((a) => a.setId);
  expect(new Set(sent).size).toBe(sent.length);
  const tokenObjects = realTokenObjects({ slotId: h.hsm.slotId, pin: h.hsm.userPin });
  expect(tokenObjects.map((o) => `${o.class}:${o.id}`).sort()).toEqual([
    `private:${transportId}`,
    `public:${transportId}`,
  ]);
  expect(tornFiles(h.stateDir)).toEqual([]);
}

const learned = available
  ? await (async () => {
      h = await createHarness();
      // SoftHSM2 in this process (for the direct object listing) must see the harness's token.
      process.env.SOFTHSM2_CONF = h.hsm.confPath;
      faulty = createFaultyModule();
      // The harness's host, replaced by one that loads the faulty module.
      await h.host.stop();
      h.host = new HsmClient({
        logger,
        spawner: createNodeHostSpawner({ env: { ...h.hsm.env, ...faulty.env }, logger }),
        restart: { delaysMs: [50] },
      });
      await h.host.start();
      await h.host.call('loadModule', { path: faulty.path });
      await h.host.call('login', { slotId: h.hsm.slotId, pin: h.hsm.userPin });
      client = h.client();
      transportId = await h.transportKey('transport-faults');
      await client.registerTransportKey({ keyId: transportId, label: 'transport-faults' });
      await client.fetchGatewayKey();
      faulty.clear();
      await client.requestKeySet();
      return faulty.stats().calls;
    })()
  : null;

afterAll(async () => {
  await client?.close();
  await h?.close();
  faulty?.cleanup();
});

describe.skipIf(!available)('gateway key set unwrap with the token failing at every call', () => {
  it('the clean install unwrapped two keys in the token', () => {
    expect(learned!.C_UnwrapKey).toBe(2);
  });

  it('a replaced set whose keys the token failed to destroy: they are destroyed before the next set is used', async () => {
    faulty.control(['C_DestroyObject 1 CKR_DEVICE_ERROR']);
    await client.requestKeySet();
    expect(faulty.stats().fired).toMatchObject([{ fn: 'C_DestroyObject', call: 1 }]);
    expect(h.audit.filter((a) => a.action === 'key-set.discard').at(-1)).toMatchObject({
      action: 'key-set.discard',
      result: 'error',
      code: 'DEVICE_ERROR',
    });
    faulty.clear();
    expect((await client.ping()).response.pong).toBe(true);
    await expectConsistent();
  });

  for (const nth of [1, 2]) {
    it(`the token makes the ${nth === 1 ? 'encryption' : 'MAC'} key, then reports the unwrap failed: that key does not stay`, async () => {
      faulty.control([`C_UnwrapKey ${nth} CKR_DEVICE_ERROR after`]);
      expect(
        await client.requestKeySet().then(
          () => 'installed',
          (e: { code: string }) => e.code,
        ),
      ).toBe('DEVICE_ERROR');
      faulty.clear();
      await expectConsistent();
      expect((await client.ping()).response.pong).toBe(true);
      await expectConsistent();
    });
  }

  const calls = learned
    ? everyCall(learned, { limit: ALL_FAULTS ? undefined : 6, prefer: ['C_UnwrapKey', 'C_DestroyObject'] })
    : [];
  calls.forEach(({ fn, call }, n) => {
    const kind = FAULT_KINDS[(n + 5) % FAULT_KINDS.length]!;
    it(`key set: ${fn} #${call} → ${kind}`, () =>
      faultCase('gateway unwrap', `${fn}#${call} ${kind}`, async () => {
        faulty.control([`${fn} ${call} ${kind}`]);
        await client.requestKeySet().catch((e: unknown) => expectTypedError(e));
        expect(faulty.stats().fired).toMatchObject([{ fn, call }]);
        faulty.clear();
        await h.host.call('login', { slotId: h.hsm.slotId, pin: h.hsm.userPin });
        // The next secure message works (with a fresh set if the fault cost one).
        expect((await client.ping()).response.pong).toBe(true);
        await expectConsistent();
      }));
  });
});
