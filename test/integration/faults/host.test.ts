import { constants, publicEncrypt, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../electron/core/logger.nodejs';
import { HsmClient } from '../../../electron/hsm/client.nodejs';
import { createNodeHostSpawner } from '../../../electron/hsm/node-spawner.nodejs';
import { createFaultyModule, faultyModuleAvailable, type FaultyModule } from '../../helpers/faulty-module';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { faultCase } from './setup';

/**
 * The host's unwrapKey (a session key from a wrapped blob, as a gateway key set arrives) with
 * the token failing at each call after C_UnwrapKey made the key: the caller gets the token's own
 * error (not "the token cannot compute a check value"), and no session key is left behind that
 * nobody knows the id of.
 */
const available = faultyModuleAvailable();
const logger = createLogger({ name: 'main', level: 'error', stderrLevel: 'error' });

let hsm: SoftHsmToken;
let faulty: FaultyModule;
let host: HsmClient;
let transportId: string;
let wrapped: string;

const unwrap = () =>
  host.call('unwrapKey', {
    slotId: hsm.slotId,
    unwrappingKeyId: transportId,
    mechanism: 'RSA_OAEP_SHA1',
    wrapped,
    keyType: 'aes-256',
    label: 'faults unwrap',
    token: false,
  });
const strays = async () =>
  (await host.call('listObjects', { slotId: hsm.slotId, class: 'secret' })).filter((o) => !o.token);

const learned = available
  ? await (async () => {
      hsm = createSoftHsmToken({ label: 'faults-unwrap', setProcessEnv: false });
      faulty = createFaultyModule({ setProcessEnv: false });
      host = new HsmClient({
        logger,
        spawner: createNodeHostSpawner({ env: { ...hsm.env, ...faulty.env }, logger }),
      });
      await host.start();
      await host.call('loadModule', { path: faulty.path });
      await host.call('login', { slotId: hsm.slotId, pin: hsm.userPin });
      transportId = (
        await host.call('generateKey', {
          slotId: hsm.slotId,
          type: 'rsa-2048',
          label: 'faults-transport',
          purpose: 'gateway-transport',
        })
      ).id;
      const { pem } = await host.call('exportPublicKey', {
        slotId: hsm.slotId,
        id: transportId,
        format: 'pem',
      });
      wrapped = publicEncrypt(
        { key: pem!, padding: constants.RSA_PKCS1_OAEP_PADDING },
        randomBytes(32),
      ).toString('base64');
      faulty.clear();
      const clean = await unwrap();
      const calls = faulty.stats().calls;
      await host.call('destroyObject', { slotId: hsm.slotId, id: clean.id, class: 'secret', confirm: true });
      return calls;
    })()
  : null;

afterAll(async () => {
  await host?.stop();
  faulty?.cleanup();
  hsm?.cleanup();
});

// The calls that follow C_UnwrapKey in a clean run: reading the new key and computing its KCV.
const AFTER_UNWRAP = ['C_GetAttributeValue', 'C_EncryptInit', 'C_Encrypt', 'C_SignInit', 'C_Sign'];

describe.skipIf(!available)('host unwrapKey with the token failing after the key was made', () => {
  const cases = learned
    ? AFTER_UNWRAP.flatMap((fn) => Array.from({ length: learned[fn] ?? 0 }, (_, i) => ({ fn, call: i + 1 })))
    : [];
  it('the clean unwrap read and checked the new key', () => {
    expect(cases.length).toBeGreaterThan(1);
  });
  for (const { fn, call } of cases) {
    it(`${fn} #${call} → CKR_DEVICE_ERROR: the token's error, no stray session key`, () =>
      faultCase('host unwrap', `${fn}#${call}`, async () => {
        faulty.control([`${fn} ${call} CKR_DEVICE_ERROR`]);
        const outcome = await unwrap().then(
          (r) => ({ ok: true as const, id: r.id }),
          (e: { code: string }) => ({ ok: false as const, code: e.code }),
        );
        expect(faulty.stats().fired).toMatchObject([{ fn, call }]);
        faulty.clear();
        if (outcome.ok) {
          await host.call('destroyObject', {
            slotId: hsm.slotId,
            id: outcome.id,
            class: 'secret',
            confirm: true,
          });
        } else expect(outcome.code).toBe('DEVICE_ERROR');
        expect(await strays()).toEqual([]);
      }));
  }
});

describe.skipIf(!available)(
  'host encryptBatch when the token fails to destroy its session copy of the key',
  () => {
    it('the key stays usable by its id, and the copy does not stay in the session', () =>
      faultCase('host batch', 'C_DestroyObject#1 of the key copy', async () => {
        const key = await host.call('generateKey', {
          slotId: hsm.slotId,
          type: 'aes-256',
          label: 'faults-batch-key',
          purpose: 'data',
        });
        const items = Array.from({ length: 40 }, () => ({
          iv: randomBytes(16).toString('base64'),
          data: randomBytes(48).toString('base64'),
        }));
        const encrypt = () =>
          host.call('encryptBatch', { slotId: hsm.slotId, id: key.id, mechanism: 'AES_CBC_PAD', items });
        faulty.control(['C_DestroyObject 1 CKR_DEVICE_ERROR']);
        const first = await encrypt();
        expect(first.keyCopy).toBe(true);
        expect(faulty.stats().fired).toMatchObject([{ fn: 'C_DestroyObject', call: 1 }]);
        faulty.clear();
        // Not CONFLICT ("more than one object has this id"): the copy never carried the key's id.
        expect((await encrypt()).items).toHaveLength(items.length);
        expect(await strays()).toEqual([]);
        await host.call('destroyObject', { slotId: hsm.slotId, id: key.id, class: 'secret', confirm: true });
      }));
  },
);
