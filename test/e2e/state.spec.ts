import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { DEMO_USER_PIN } from '../../electron/hsm/demo-token.nodejs';
import { expect, test } from './fixtures';
import { prepareDemoToken } from './helpers/demo-token';

/**
 * One truth for the app's state (issue 15, point 1): each state is changed behind the UI's back,
 * by calling main's channels straight from the page's `window.mkm` (no view's own mutation hears
 * of it) or by another process on the token, and every screen follows main's `state.changed`.
 */
const LIBC = '/lib/x86_64-linux-gnu/libc.so.6';
const OPENSC = '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so';

test.use({ launchModules: [LIBC] });

/** Calls `window.mkm.<ns>.<method>(arg)` in the page: the result, or the error's code. */
async function behind<T = unknown>(app: Page, channel: string, arg?: unknown): Promise<T | { code: string }> {
  return app.evaluate(
    async ([name, request]) => {
      const [ns, method] = name.split('.') as [string, string];
      const api = (
        window as unknown as { mkm: Record<string, Record<string, (r?: unknown) => Promise<unknown>>> }
      ).mkm;
      try {
        return await api[ns]![method]!(request);
      } catch (error) {
        return { code: (error as { code?: string }).code ?? String(error) };
      }
    },
    [channel, arg] as const,
  ) as Promise<T | { code: string }>;
}

async function demoSlotId(app: Page): Promise<number> {
  const slots = (await behind(app, 'tokens.list')) as { slotId: number; token: { label: string } | null }[];
  return slots.find((s) => s.token?.label.trim() === 'MKM Demo')!.slotId;
}

async function auditActions(app: Page, action: string) {
  const r = (await behind(app, 'audit.query', { filter: { action } })) as {
    entries: { action: string; result: string; details?: Record<string, unknown> }[];
  };
  return r.entries;
}

function screens(app: Page) {
  return {
    header: app.getByRole('banner'),
    token: app.getByTestId('dashboard').getByRole('region', { name: 'Token' }),
    seal: app.getByTestId('dash-seal'),
    library: app.getByTestId('status-card').locator('.fact', { hasText: 'PKCS#11 library' }),
  };
}

async function openTroubleshoot(app: Page) {
  await app.getByRole('tab', { name: 'Console', exact: true }).click();
  await app.getByRole('tab', { name: 'Troubleshoot', exact: true }).click();
  return app.getByRole('tabpanel', { name: 'Troubleshoot' });
}

test('login, logout and a broken seal done behind the UI are followed by every screen, and audited', async ({
  app,
  dataDir,
}) => {
  test.setTimeout(120_000);
  const s = screens(app);
  await expect(s.token).toContainText('Logged out');
  // The demo library is loaded: the status card names it (not "None chosen yet").
  await expect(s.library).toContainText('libsofthsm2.so');
  await expect(s.library).not.toContainText('None chosen yet');
  await expect(s.seal).toContainText('Not sealing');

  const slotId = await demoSlotId(app);
  expect(await behind(app, 'tokens.login', { slotId, pin: DEMO_USER_PIN })).not.toHaveProperty('code');
  await expect(s.header).toContainText('Logged in');
  await expect(s.token).toContainText('Logged in');
  await expect(s.seal).toContainText('Sealed on the token');
  const trouble = await openTroubleshoot(app);
  await expect(trouble.getByLabel('Token')).toContainText('The logged-in token');
  await expect(trouble.getByLabel('Token').locator('option', { hasText: 'MKM Demo' })).toHaveCount(1);

  // Another process destroys the audit key: the next seal fails, is recorded and shown.
  const { confPath, modulePath } = prepareDemoToken(dataDir);
  const destroyed = execFileSync(
    process.execPath,
    [join(import.meta.dirname, 'helpers', 'destroy-by-label.mjs'), 'mkm-audit-key'],
    {
      env: {
        ...process.env,
        SOFTHSM2_CONF: confPath,
        MKM_SEED_MODULE: modulePath,
        MKM_SEED_PIN: DEMO_USER_PIN,
      },
    },
  );
  expect(String(destroyed).trim()).toBe('1');
  await behind(app, 'settings.update', { theme: 'dark' });
  await app.getByRole('tab', { name: 'Dashboard' }).click();
  // The audit log seals every 5 s: the failure shows once that seal was tried.
  await expect(s.seal).toContainText('Seal failed', { timeout: 20_000 });
  await expect(s.seal).not.toContainText('Sealed on the token');
  expect((await auditActions(app, 'audit.seal.failed')).length).toBeGreaterThan(0);

  // Logged out behind the UI: every screen says so, and nothing says "sealed".
  expect(await behind(app, 'tokens.logout', { slotId })).not.toHaveProperty('code');
  await expect(s.header).toContainText('Logged out');
  await expect(s.token).toContainText('Logged out');
  await expect(s.seal).toContainText('Not sealing');
  await openTroubleshoot(app);
  await expect(trouble.getByLabel('Token')).toContainText('None logged in');
  expect((await auditActions(app, 'token.logout')).length).toBe(1);
});

test('a library switch is transactional: a file that is not PKCS#11 changes nothing; another library is followed', async ({
  app,
}) => {
  test.setTimeout(120_000);
  const s = screens(app);
  const slotId = await demoSlotId(app);
  expect(await behind(app, 'tokens.login', { slotId, pin: DEMO_USER_PIN })).not.toHaveProperty('code');
  await expect(s.header).toContainText('Logged in');
  await expect(s.seal).toContainText('Sealed on the token');

  // libc loads as a shared library but is not PKCS#11: refused, the demo library and login stay.
  expect(await behind(app, 'tokens.selectModule', { path: LIBC })).toEqual({ code: 'MODULE_INVALID' });
  const slots = (await behind(app, 'tokens.list')) as { slotId: number; session: { loggedIn: boolean } }[];
  expect(slots.find((x) => x.slotId === slotId)?.session.loggedIn).toBe(true);
  const state = (await behind(app, 'tokens.modules')) as { path: string; error: unknown };
  expect(state.path).toContain('libsofthsm2.so');
  expect(state.error).toBeNull();
  await expect(s.header).toContainText('Logged in');
  await expect(s.seal).toContainText('Sealed on the token');
  expect((await auditActions(app, 'token.module.select')).map((e) => e.result)).toEqual(['MODULE_INVALID']);
  expect(await auditActions(app, 'token.logout')).toEqual([]);
  // Still sealing with the demo token's key: a key-needing call works.
  expect((await behind(app, 'audit.verify')) as { ok: boolean }).toMatchObject({ ok: true });

  test.skip(!existsSync(OPENSC), 'OpenSC is not installed');
  // Another library chosen behind the UI: the old login ends (audited), every screen follows.
  const switched = (await behind(app, 'tokens.selectModule', { path: OPENSC })) as { path: string };
  expect(switched.path).toBe(OPENSC);
  await expect(s.library).toContainText('opensc-pkcs11.so');
  await expect(s.header).not.toContainText('Logged in');
  await expect(s.token).not.toContainText('MKM Demo');
  await expect(s.seal).toContainText('Not sealing');
  const logouts = await auditActions(app, 'token.logout');
  expect(logouts.map((e) => e.details?.reason)).toEqual(['library-changed']);
  expect((await auditActions(app, 'token.module.select')).map((e) => e.result)).toEqual([
    'ok',
    'MODULE_INVALID',
  ]);

  // And back to the demo token.
  await behind(app, 'tokens.selectModule', { path: null, demo: true });
  await expect(s.library).toContainText('libsofthsm2.so');
  await expect(s.token).toContainText('MKM Demo');
  await expect(s.header).toContainText('Logged out');
});

test('gateway profile, sync and key set changed behind the UI show on every screen', async ({ app }) => {
  test.setTimeout(180_000);
  const slotId = await demoSlotId(app);
  expect(await behind(app, 'tokens.login', { slotId, pin: DEMO_USER_PIN })).not.toHaveProperty('code');
  const trouble = await openTroubleshoot(app);
  await expect(trouble.getByLabel('Gateway profile').locator('option')).toHaveCount(1);

  const sandbox = (await behind(app, 'gateway.startEmbeddedSandbox')) as { profileId?: string };
  const profiles = (await behind(app, 'gateway.listProfiles')) as { id: string; name: string }[];
  const profile = profiles.find((p) => /Local sandbox/.test(p.name))!;
  expect(profile, JSON.stringify(sandbox)).toBeTruthy();
  await expect(
    trouble.getByLabel('Gateway profile').locator('option', { hasText: 'Local sandbox' }),
  ).toHaveCount(1);

  await app.getByRole('tab', { name: 'Gateway' }).click();
  const panel = app.getByRole('region', { name: `Gateway profile ${profile.name}` });
  const connection = panel.getByRole('region', { name: 'Connection' });
  await expect(connection).toContainText('not synced yet');

  const key = (await behind(app, 'keys.generate', {
    slotId,
    type: 'rsa-2048',
    label: 'state-transport',
    purpose: 'gateway-transport',
  })) as { id: string };
  await behind(app, 'gateway.registerTransportKey', { profileId: profile.id, slotId, keyId: key.id });
  const transport = panel.getByRole('region', { name: 'Transport keys' });
  await expect(transport.getByRole('row', { name: /state-transport/ })).toContainText('active');

  const report = (await behind(app, 'gateway.sync', { profileId: profile.id })) as {
    ok: boolean;
    keySet: { setId: string } | null;
  };
  expect(report.ok).toBe(true);
  await expect(connection.getByText('Reachable')).toBeVisible();
  const keySet = panel.getByTestId('key-set-id');
  await expect(keySet).toHaveText(report.keySet!.setId);

  // A ping spends the set: the new one shows without touching the screen.
  await behind(app, 'gateway.ping', { profileId: profile.id });
  await expect(keySet).not.toHaveText(report.keySet!.setId);
  const status = (await behind(app, 'gateway.status', { profileId: profile.id })) as {
    keySet: { setId: string } | null;
  };
  if (status.keySet) await expect(keySet).toHaveText(status.keySet.setId);

  await app.getByRole('tab', { name: 'Dashboard' }).click();
  await expect(app.getByTestId('dashboard').getByRole('region', { name: 'Gateway' })).toContainText(
    'last sync OK',
  );
});
