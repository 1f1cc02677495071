import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { startSandbox, type SandboxHandle } from '../../electron/gateway/sandbox/server.nodejs';
import { expect, test } from './fixtures';
import { logInToDemo, openSection } from './helpers/ui';

/**
 * Guard rails where a mistake costs (issue 15 point 5), in browser mode against the real sandbox
 * gateway and the demo SoftHSM2 token: a CSE scheme the gateway cannot decrypt is encrypted only
 * after an explicit confirmation, and the round trip checks that scheme; a first pin stays
 * "unconfirmed" until the fingerprint the gateway's operator reads out is typed in, by a name.
 */
const USER = 'guards-e2e';
const PASSWORD = 'guards e2e pass 4471';
process.env.MKM_GATEWAY_PASSWORD = PASSWORD;

let sandbox: SandboxHandle;
let sandboxDir: string;

test.beforeAll(async () => {
  sandboxDir = mkdtempSync(join(tmpdir(), 'mkm-e2e-guards-sandbox-'));
  // The gateway's key is for OAEP (the sandbox's default padding).
  sandbox = await startSandbox({ port: 0, dataDir: sandboxDir, users: [{ name: USER, password: PASSWORD }] });
});
test.afterAll(async () => {
  await sandbox?.close();
  rmSync(sandboxDir, { recursive: true, force: true });
});

const grouped = (hex: string) => (hex.match(/.{1,4}/g) ?? []).join(' ');

/** A CSE profile (OAEP) whose gateway key is fetched, i.e. pinned on first sight. */
async function profileWithPinnedKey(app: Page): Promise<void> {
  await openSection(app, 'Keys');
  await logInToDemo(app);
  await app.evaluate(
    async ({ url, pin, user }) => {
      const profile = await window.mkm.gateway.addProfile({
        name: 'Guards sandbox',
        baseUrl: url,
        username: user,
        tlsPinSha256: pin,
        cse: 'RSAES-OAEP-SHA256',
        passwordEnv: 'MKM_GATEWAY_PASSWORD',
      });
      await window.mkm.gateway.fetchKey({ profileId: profile.id });
    },
    { url: sandbox.url, pin: sandbox.pin, user: USER },
  );
}

test('PKCS#1 v1.5 against a gateway that decrypts OAEP needs a confirmation; the round trip verifies what was composed', async ({
  app,
}) => {
  test.setTimeout(120_000);
  await profileWithPinnedKey(app);
  await app.getByRole('tab', { name: 'Console' }).click();
  await app.getByLabel('Preset').selectOption({ label: 'Mastercard ••••4444 (paypal)' });
  await app.getByRole('form', { name: 'Test payload' }).getByLabel('Scheme').selectOption('paytrace');
  await expect(app.getByTestId('scheme-mismatch')).toContainText('will not decrypt there');

  // Encrypt asks first; keeping the gateway's scheme encrypts nothing.
  await app.getByRole('button', { name: 'Encrypt', exact: true }).click();
  const ask = app.getByRole('alertdialog', { name: 'Encrypt with a scheme the gateway cannot decrypt?' });
  await expect(ask).toContainText('RSAES-OAEP-SHA256');
  await ask.getByRole('button', { name: 'Cancel' }).click();
  await expect(ask).toBeHidden();
  await expect(app.getByTestId('console-body')).toBeHidden();

  await app.getByRole('button', { name: 'Encrypt', exact: true }).click();
  await ask.getByRole('button', { name: 'Encrypt anyway' }).click();
  await expect(ask).toBeHidden();
  const result = app.getByRole('region', { name: 'Encrypted request' });
  await expect(result).toContainText('RSAES-PKCS1-V1_5');
  await expect(result).toContainText('Override confirmed');

  // The round trip encrypts with the scheme composed (PKCS#1 v1.5), not the profile's OAEP.
  await app.getByRole('tab', { name: 'Round trip' }).click();
  await app.getByRole('button', { name: 'Verify at the gateway' }).click();
  const cse = app.getByRole('region', { name: '/v1/encryption/verify' });
  await expect(cse).toContainText('RSAES-PKCS1-V1_5', { timeout: 30_000 });
  await expect(cse).toContainText('all fields match');
});

test('the first pin shows its fingerprint, refuses a different read-out, and records who confirmed it', async ({
  app,
}) => {
  test.setTimeout(120_000);
  await profileWithPinnedKey(app);
  await app.getByRole('tab', { name: 'Gateway' }).click();
  const keyCard = app.getByRole('region', { name: 'Gateway public key' });
  await expect(keyCard.getByText('pinned, unconfirmed', { exact: true })).toBeVisible();
  await expect(keyCard.getByTestId('pin-unconfirmed-encryption')).toBeVisible();

  const readOut = sandbox.fingerprints().encryption;
  await keyCard.getByRole('button', { name: 'Confirm fingerprint…' }).click();
  const dialog = app.getByRole('alertdialog', { name: /Confirm the gateway's public key/ });
  await expect(dialog.getByTestId('pin-fingerprint')).toHaveText(grouped(readOut));

  // A read-out that differs confirms nothing.
  const wrong = `${readOut.slice(0, 60)}${readOut.endsWith('0000') ? '1111' : '0000'}`;
  await dialog.getByLabel('Fingerprint read out by the gateway operator').fill(grouped(wrong));
  await dialog.getByLabel('Your name').fill('A. Admin');
  await dialog.getByLabel('Your role (optional)').fill('key custodian');
  await dialog.getByRole('button', { name: 'Confirm: the fingerprints match' }).click();
  await expect(dialog).toContainText('PIN_FINGERPRINT_MISMATCH');
  await expect(dialog).toBeVisible();

  await dialog.getByLabel('Fingerprint read out by the gateway operator').fill(grouped(readOut));
  await dialog.getByRole('button', { name: 'Confirm: the fingerprints match' }).click();
  await expect(dialog).toBeHidden();
  await expect(keyCard.getByTestId('pin-confirmed-encryption')).toContainText(
    'Fingerprint confirmed by A. Admin (key custodian)',
  );
  await expect(keyCard.getByText('pinned, unconfirmed', { exact: true })).toBeHidden();
  await expect(keyCard.getByText('pinned', { exact: true })).toBeVisible();
});
