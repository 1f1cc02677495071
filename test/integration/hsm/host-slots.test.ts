import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HsmClient } from '../../../electron/hsm/client.nodejs';
import { createLogger } from '../../../electron/core/logger.nodejs';
import { createNodeHostSpawner } from '../../../electron/hsm/node-spawner.nodejs';
import type { SlotsChange } from '../../../electron/hsm/slots.std';
import type { ClientTimers } from '../../../electron/hsm/timers.std';
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

/**
 * The client's timers, with the watch's poll interval held: the test runs each poll when it
 * wants (the first one, scheduled at 0, runs at once), so "seen at the next poll" is asserted
 * without a clock.
 */
const POLL_MS = 60_000;
let held: { run: () => void } | undefined;
let onArmed: (() => void) | undefined;
const timers: ClientTimers = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    if (ms !== POLL_MS) return setTimeout(callback, ms);
    held = { run: callback };
    onArmed?.();
    return held;
  },
  clearTimeout(handle) {
    if (handle === held) held = undefined;
    else clearTimeout(handle as Parameters<typeof clearTimeout>[0]);
  },
};

/** Resolves once the watcher finished a poll and armed the next one. */
function pollDone(): Promise<void> {
  return new Promise((resolve) => {
    if (held) return resolve();
    onArmed = () => {
      onArmed = undefined;
      resolve();
    };
  });
}

/** Runs the next poll now, and resolves once it is done. */
async function poll(): Promise<void> {
  const next = held!;
  held = undefined;
  const done = pollDone();
  next.run();
  await done;
}

beforeAll(async () => {
  hsm = createSoftHsmToken({ setProcessEnv: false });
  client = new HsmClient({ logger, timers, spawner: createNodeHostSpawner({ env: hsm.env, logger }) });
  await client.start();
  await client.call('loadModule', { path: hsm.modulePath });
});

afterAll(async () => {
  await client?.stop();
  hsm?.cleanup();
});

describe('watching slots on SoftHSM2', () => {
  it('reports a second token initialized in another slot at the next poll', async () => {
    const changes: SlotsChange[] = [];
    client.on('slots-changed', (c) => changes.push(c));
    const stop = client.watchSlots({ intervalMs: POLL_MS });
    try {
      await pollDone();
      expect(changes).toHaveLength(1);
      expect(changes[0]).toMatchObject({ initial: true });
      const free = changes[0]!.slots.find((s) => s.token && !s.token.flags.tokenInitialized);
      expect(free).toBeDefined();

      const made = await client.call('initToken', {
        slotId: free!.slotId,
        soPin: hsm.soPin,
        label: 'second',
      });
      await poll();
      expect(changes).toHaveLength(2);
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

  it('reports a token made by another process at the first poll after the module is reloaded', async () => {
    const changes: SlotsChange[] = [];
    client.on('slots-changed', (c) => changes.push(c));
    const stop = client.watchSlots({ intervalMs: POLL_MS });
    try {
      await pollDone();
      const outside = hsm.addToken('outside');
      // Invisible to the loaded module (SoftHSM2 reads its store in C_Initialize).
      await poll();
      expect(changes.some((c) => c.added.some((s) => s.token?.serial.trim() === outside.serial))).toBe(false);
      await client.call('unloadModule');
      await client.call('loadModule', { path: hsm.modulePath });
      await poll();
      expect(changes.some((c) => c.added.some((s) => s.token?.serial.trim() === outside.serial))).toBe(true);
    } finally {
      stop();
      client.removeAllListeners('slots-changed');
    }
  });
});
