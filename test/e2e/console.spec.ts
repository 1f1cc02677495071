import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox, type SandboxHandle } from '../../electron/gateway/sandbox/server.nodejs';
import { findSecrets } from '../helpers/scan';
import { expect, test } from './fixtures';
import { logInToDemo, openSection } from './helpers/ui';

/**
 * The payload console in browser mode against the real sandbox gateway and the demo SoftHSM2
 * token: compose a payload from a preset, encrypt it into the merchant's body, verify it at the
 * sandbox (hash match shown), and run a batch with its progress bar.
 */
const USER = 'console-e2e';
const PASSWORD = 'console e2e pass 9034';
// The browser-mode child inherits the environment: the gateway password comes from here.
process.env.MKM_GATEWAY_PASSWORD = PASSWORD;

let sandbox: SandboxHandle;
let sandboxDir: string;
let files: string;

test.beforeAll(async () => {
  sandboxDir = mkdtempSync(join(tmpdir(), 'mkm-e2e-console-sandbox-'));
  files = mkdtempSync(join(tmpdir(), 'mkm-e2e-console-files-'));
  sandbox = await startSandbox({ port: 0, dataDir: sandboxDir, users: [{ name: USER, password: PASSWORD }] });
});
test.afterAll(async () => {
  await sandbox?.close();
  rmSync(sandboxDir, { recursive: true, force: true });
  rmSync(files, { recursive: true, force: true });
});

test('compose from a preset, encrypt, verify at the sandbox, and batch with progress', async ({
  app,
  dataDir,
}) => {
  test.setTimeout(180_000);
  await openSection(app, 'Keys');
  await logInToDemo(app);

  // The profile through the app's own API, as the Gateway screen would add it.
  await app.evaluate(
    async ({ url, pin, user }) => {
      const api = window.mkm;
      const slot = (await api.tokens.list()).find((s) => s.session.loggedIn)!;
      const profile = await api.gateway.addProfile({
        name: 'E2E sandbox',
        baseUrl: url,
        username: user,
        tlsPinSha256: pin,
        cse: 'RSAES-OAEP-SHA256',
        passwordEnv: 'MKM_GATEWAY_PASSWORD',
        keyRolling: true,
      });
      const key = await api.keys.generate({
        slotId: slot.slotId,
        type: 'rsa-2048',
        label: 'console-e2e-transport',
        purpose: 'gateway-transport',
      });
      await api.gateway.registerTransportKey({ profileId: profile.id, slotId: slot.slotId, keyId: key.id });
      await api.gateway.fetchKey({ profileId: profile.id });
    },
    { url: sandbox.url, pin: sandbox.pin, user: USER },
  );

  await app.getByRole('tab', { name: 'Console' }).click();
  await expect(app.getByRole('heading', { level: 1, name: 'Console' })).toBeVisible();

  // Compose: a preset fills masked fields; the live checks speak.
  await app.getByLabel('Preset').selectOption({ label: 'Mastercard ••••4444 (paypal)' });
  const number = app.getByLabel('Card number', { exact: true });
  await expect(number).toHaveAttribute('type', 'password');
  await expect(app.locator('#finding-number')).toContainText('Mastercard, 16 digits, Luhn check passes');
  await app.getByRole('button', { name: 'Show Card number' }).click();
  await expect(number).toHaveValue('5555555555554444');
  await number.fill('5555555555554445');
  await expect(app.locator('#finding-number [data-code="luhn"]')).toContainText('check digit is wrong');
  await number.fill('5555555555554444');

  await app.getByRole('button', { name: 'Encrypt', exact: true }).click();
  const body = app.getByTestId('console-body');
  await expect(body).toContainText('"encrypted_number"');
  await expect(body).toContainText('"encrypted_csc"');
  await expect(body).not.toContainText('5555555555554444');
  await expect(app.getByRole('region', { name: 'Encrypted request' })).toContainText(
    '256 (the modulus length)',
  );
  await expect(app.getByRole('button', { name: 'Copy as curl' })).toBeVisible();

  // Key-rolling message: sealed in the token, each envelope part explained, opened again.
  await app.getByRole('tab', { name: 'Key-rolling message' }).click();
  await app.getByLabel(/^Message/).fill('{"hello":"sandbox"}');
  await app.getByRole('button', { name: 'Encrypt in the token' }).click();
  const envelope = app.getByRole('region', { name: 'Envelope' });
  await expect(envelope.getByRole('row', { name: /^mac / })).toContainText('HMAC-SHA256');
  await expect(envelope.getByRole('row', { name: /^iv / })).toContainText('16');
  await app.getByRole('button', { name: 'Check MAC and decrypt' }).click();
  await expect(app.getByTestId('message-clear')).toHaveText('{"hello":"sandbox"}');

  // Round trip: the same payload at both endpoints, hash match shown.
  await app.getByRole('tab', { name: 'Round trip' }).click();
  await app.getByRole('button', { name: 'Verify at the gateway' }).click();
  const cse = app.getByRole('region', { name: '/v1/encryption/verify' });
  const secure = app.getByRole('region', { name: '/v1/secure/verify_payload' });
  await expect(cse).toContainText('all fields match', { timeout: 30_000 });
  await expect(secure).toContainText('all fields match');
  await expect(secure.locator('tr[data-field="number"]')).toContainText('match');
  await expect(secure.locator('tr[data-field="number"]')).toContainText('555555••••••4444');

  // Batch: 3,000 rows with a progress bar and a summary.
  const lines = ['id,number,exp,cvv'];
  for (let i = 0; i < 3000; i++) lines.push(`r${i},4111111111111111,12/30,123`);
  const input = join(files, 'cards.csv');
  const output = join(files, 'cards.out.csv');
  writeFileSync(input, lines.join('\n') + '\n');
  await app.getByRole('tab', { name: 'Batch' }).click();
  // Browser mode: the input is uploaded through main, the output comes back as a download.
  await app.getByLabel('Input CSV').setInputFiles(input);
  await app.getByLabel('Scheme').last().selectOption('oaep');
  const download = app.waitForEvent('download');
  await app.getByRole('button', { name: 'Start batch' }).click();
  await expect(app.getByRole('progressbar', { name: 'Batch progress' })).toBeVisible();
  const summary = app.getByRole('region', { name: 'Batch summary' });
  await expect(summary).toContainText('done', { timeout: 60_000 });
  await expect(summary).toContainText('3,000 rows: 3,000 encrypted');
  await expect(app.getByRole('progressbar', { name: 'Batch progress' })).toHaveAttribute('value', '1');
  const saved = await download;
  expect(saved.suggestedFilename()).toBe('cards-encrypted.csv');
  await saved.saveAs(output);
  await expect(summary).toContainText('Saved as cards-encrypted.csv in your downloads.');
  const written = readFileSync(output, 'utf8');
  expect(written.split('\n')[0]).toBe(
    'row,ref,status,error,encrypted_number_hex,encrypted_expiration_hex,encrypted_csc_hex',
  );
  expect(written).not.toContain('4111111111111111');
  // Nothing typed reached the app's data folder (its debug-level log, audit log, gateway state).
  expect(findSecrets([dataDir], ['5555555555554444', '5555555555554445', '4111111111111111'])).toEqual([]);
});

test('without a gateway profile the payload is still composed and checked; only Encrypt waits', async ({
  app,
}) => {
  await app.getByRole('tab', { name: 'Console' }).click();
  const compose = app.getByRole('tabpanel', { name: 'Compose & encrypt' });
  await expect(compose.getByText('No gateway profile yet.')).toBeVisible();
  const number = compose.getByLabel('Card number', { exact: true });
  await number.fill('4111111111111112');
  await expect(app.locator('#finding-number [data-code="luhn"]')).toContainText('check digit is wrong');
  await number.fill('4111111111111111');
  await expect(app.locator('#finding-number')).toContainText('Luhn check passes');
  await expect(compose.getByRole('button', { name: 'Encrypt' })).toBeDisabled();
});
