import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../electron/core/logger.nodejs';
import {
  CeremonyComponentStore,
  type TokenCaller,
} from '../../../electron/ceremony/executors/component-store.nodejs';
import { HsmClient } from '../../../electron/hsm/client.nodejs';
import { createNodeHostSpawner } from '../../../electron/hsm/node-spawner.nodejs';
import { kcv } from '../../../electron/crypto/kcv.nodejs';
import { failure } from '../../helpers/failure';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { componentsOf, encryptTo } from './component-ops-suite';

/**
 * The real token host process: components cross the wire only as ciphertexts, and a host that
 * dies takes the session transport key with it, so what main held for a ceremony is refused
 * afterwards ("enter the components again") rather than tried against a key that is gone.
 */
let hsm: SoftHsmToken;
let client: HsmClient;
const logger = createLogger({ name: 'main', level: 'error', stderrLevel: 'silent' });

beforeAll(async () => {
  hsm = createSoftHsmToken({ setProcessEnv: false });
  client = new HsmClient({
    logger,
    spawner: createNodeHostSpawner({ env: hsm.env, logger }),
    restart: { delaysMs: [100] },
  });
  await client.start();
  await client.call('loadModule', { path: hsm.modulePath });
  await client.call('login', { slotId: hsm.slotId, pin: hsm.userPin });
}, 60_000);
afterAll(async () => {
  await client?.stop();
  hsm?.cleanup();
});

describe('components and the token host process', () => {
  it('a killed host loses the transport key: held components are refused, never tried', async () => {
    const tokens: TokenCaller = client;
    const store = new CeremonyComponentStore(tokens);
    const [c1] = componentsOf('tdes-2key', '0123456789ABCDEFFEDCBA9876543210', [
      'A1B2C3D4E5F60718293A4B5C6D7E8F90',
    ]);
    const transport = await store.transportKey('ceremony-1', hsm.slotId);
    const held = store.current('ceremony-1');
    const ciphertext = encryptTo(transport.spkiPem, c1!);
    const checked = await client.call('componentCheck', {
      slotId: hsm.slotId,
      transportKeyId: held.transportKeyId,
      keyType: 'tdes-2key',
      ciphertext,
    });
    expect(checked.kcvs[0]).toEqual(kcv('tdes-2key', c1!, 'legacy'));

    const restored = new Promise<void>((resolve) => client.once('connection-restored', () => resolve()));
    process.kill(client.hostPid!, 'SIGKILL');
    await restored;
    await client.call('login', { slotId: hsm.slotId, pin: hsm.userPin });

    // The new host never made that key: the ciphertext is useless and said to be.
    const e = await failure(
      client.call('componentCheck', {
        slotId: hsm.slotId,
        transportKeyId: held.transportKeyId,
        keyType: 'tdes-2key',
        ciphertext,
      }),
    );
    expect(e.code).toBe('CEREMONY_TRANSPORT_KEY_GONE');
    const objects = await client.call('listObjects', { slotId: hsm.slotId });
    expect(objects.filter((o) => o.id === held.transportKeyId)).toEqual([]);

    // Main, told of the lost connection, forgets what it held: the step asks again at once.
    store.forgetAll();
    expect(() => store.current('ceremony-1')).toThrow(
      expect.objectContaining({ code: 'CEREMONY_TRANSPORT_KEY_GONE' }),
    );
    const fresh = await store.transportKey('ceremony-1', hsm.slotId);
    expect(fresh.spkiSha256).not.toBe(transport.spkiSha256);
  });
});
