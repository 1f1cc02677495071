import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HsmClient } from '../../../electron/hsm/client.main';
import { createLogger } from '../../../electron/core/logger.main';
import { createNodeHostSpawner } from '../../../electron/hsm/host/node-spawner.main';
import type { SlotsChange } from '../../../electron/hsm/host/slots.std';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';

/**
 * Slot watching against SoftHSM2. SoftHSM2 reads its token store once, in C_Initialize, so a
 * token that another process (softhsm2-util) initializes stays invisible to a loaded module;
 * a token initialized through the module itself appears at once. That is what is exercised
 * here; real readers report insertions through C_GetSlotList, which the same poll sees.
 */
let hsm: SoftHsmToken;
let client: HsmClient;
// Errors only: the warnings a killed host produces are the expected outcome here.
const logger = createLogger({ name: 'main', level: 'error', stderrLevel: 'error' });

beforeAll(async () => {
  hsm = createSoftHsmToken({ setProcessEnv: false });
  client = new HsmClient({ logger, spawner: createNodeHostSpawner({ env: hsm.env, logger }) });
  await client.start();
  await client.call('loadModule', { path: hsm.modulePath });
});

afterAll(async () => {
  await client?.stop();
  hsm?.cleanup();
});

describe('watching slots on SoftHSM2', () => {
  it('reports a second token initialized in another slot within 2 s', async () => {
    const changes: SlotsChange[] = [];
    client.on('slots-changed', (c) => changes.push(c));
    const stop = client.watchSlots({ intervalMs: 1000 });
    try {
      await waitFor(() => changes.length > 0, 3000);
      expect(changes[0]).toMatchObject({ initial: true });
      const free = changes[0]!.slots.find((s) => s.token && !s.token.flags.tokenInitialized);
      expect(free).toBeDefined();

      const made = await client.call('initToken', {
        slotId: free!.slotId,
        soPin: hsm.soPin,
        label: 'second',
      });
      const initialized = Date.now();
      await waitFor(() => changes.length > 1, 2000);
      expect(Date.now() - initialized).toBeLessThan(2000);
      const change = changes[1]!;
      expect(change.initial).toBe(false);
      expect(change.added.map((s) => s.token?.serial.trim())).toContain(made.serial.trim());
      expect(change.slots.map((s) => s.token?.label.trim())).toEqual(
        expect.arrayContaining(['second', hsm.label]),
      );
    } finally {
      stop();
      client.removeAllListeners('slots-changed');
    }
  });

  it('reports a token made by another process once the module is reloaded', async () => {
    const changes: SlotsChange[] = [];
    client.on('slots-changed', (c) => changes.push(c));
    const stop = client.watchSlots({ intervalMs: 1000 });
    try {
      await waitFor(() => changes.length > 0, 3000);
      const outside = hsm.addToken('outside');
      await client.call('unloadModule');
      await client.call('loadModule', { path: hsm.modulePath });
      const reloaded = Date.now();
      await waitFor(
        () => changes.some((c) => c.added.some((s) => s.token?.serial.trim() === outside.serial)),
        2000,
      );
      expect(Date.now() - reloaded).toBeLessThan(2000);
    } finally {
      stop();
      client.removeAllListeners('slots-changed');
    }
  });
});

function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (condition()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`condition not met within ${timeoutMs} ms`));
      setTimeout(check, 20);
    };
    check();
  });
}
