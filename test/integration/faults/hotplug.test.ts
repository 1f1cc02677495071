import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { App } from '../../../electron/core/app.nodejs';
import type { Envelope } from '../../../shared/contract-kit.std';
import { createFaultyModule, faultyModuleAvailable, type FaultyModule } from '../../helpers/faulty-module';
import { tornFiles } from '../../helpers/real-token';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { expectTypedError, faultCase, openFaultyApp } from './setup';

/**
 * Hot-plug, for the first time against a real module stack: the app watching its slots (as the
 * desktop app does), the token pulled and put back through the faulty module. The app says the
 * token went and came back, refuses token work in between with a typed code, and asks for the
 * PIN again afterwards (the token's login went with it).
 */
const available = faultyModuleAvailable();

let hsm: SoftHsmToken;
let faulty: FaultyModule;
let app: App;
let dataDir: string;
const events: { name: string; payload: unknown }[] = [];

const call = (channel: string, request?: unknown): Promise<Envelope> =>
  app.registry.dispatch(channel, request, { transport: 'cli' });

/**
 * Resolves at the first event `name` (seen already or to come) that `match` accepts; fails,
 * naming the events seen, if none came within `ms` (the watch polls every second).
 */
function event(name: string, match: (payload: never) => boolean, ms = 20_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${name}; saw ${JSON.stringify(events)}`)), ms);
    const seen = events.find((e) => e.name === name && match(e.payload as never));
    if (seen) {
      clearTimeout(timer);
      return resolve(seen.payload);
    }
    const stop = app.events.subscribe((n, payload) => {
      if (n === name && match(payload as never)) {
        stop();
        clearTimeout(timer);
        resolve(payload);
      }
    });
  });
}

afterAll(async () => {
  await app?.close();
  faulty?.cleanup();
  hsm?.cleanup();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe.skipIf(!available)('token pulled and put back while the app watches its slots', () => {
  it('tokens.changed (removed, then inserted), work refused in between, login asked again', () =>
    faultCase('hot-plug', 'pull and reinsert', async () => {
      hsm = createSoftHsmToken({ label: 'faults-hotplug' });
      faulty = createFaultyModule();
      dataDir = mkdtempSync(join(tmpdir(), 'mkm-faults-hotplug-'));
      app = openFaultyApp({ dataDir, faulty, watchSlots: true });
      app.events.subscribe((name, payload) => events.push({ name, payload }));
      const login = await call('tokens.login', { slotId: hsm.slotId, pin: hsm.userPin });
      expect(login.ok).toBe(true);
      const serialOf = (list: { serial?: string }[]) => list.map((t) => t.serial);
      // The watch has seen the token (its first poll only sets the baseline): two more polls.
      await app.audit.verify();
      const polls = () => faulty.stats().calls.C_GetSlotList ?? 0;
      const before = polls();
      await vi.waitFor(() => expect(polls()).toBeGreaterThan(before + 1), { timeout: 20_000, interval: 100 });

      faulty.removeToken();
      await event('tokens.changed', (p: { removed: { serial?: string }[] }) =>
        serialOf(p.removed).includes(hsm.serial),
      );
      const refused = await call('keys.generate', {
        slotId: hsm.slotId,
        type: 'aes-256',
        label: 'while-out',
        purpose: 'data',
      });
      expect(refused.ok).toBe(false);
      if (!refused.ok) expect(expectTypedError(refused.error)).toMatch(/TOKEN_REMOVED|TOKEN_NOT_PRESENT/);

      faulty.insertToken();
      await event('tokens.changed', (p: { inserted: { serial?: string }[] }) =>
        serialOf(p.inserted).includes(hsm.serial),
      );
      const listed = await call('tokens.list');
      const slot = (listed as { result: { slotId: number; session: { loggedIn: boolean } }[] }).result.find(
        (s) => s.slotId === hsm.slotId,
      )!;
      expect(slot.session.loggedIn).toBe(false);
      const again = await call('tokens.login', { slotId: hsm.slotId, pin: hsm.userPin });
      expect(again.ok).toBe(true);
      const made = await call('keys.generate', {
        slotId: hsm.slotId,
        type: 'aes-256',
        label: 'after-reinsert',
        purpose: 'data',
      });
      expect(made.ok).toBe(true);
      const report = await app.audit.verify();
      expect(report.ok).toBe(true);
      expect(tornFiles(dataDir)).toEqual([]);
    }));
});
