import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox, type SandboxHandle } from '../../electron/gateway/sandbox/server.nodejs';
import { call, login, type Target } from '../integration/sandbox/client';
import { expect, test } from './fixtures';
import { generateKey, logInToDemo } from './helpers/ui';

/**
 * The Gateway screen against the real sandbox gateway on 127.0.0.1 and the demo SoftHSM2 token
 * (browser mode, no mocks): add a pinned profile, register a transport key made on the token,
 * sync and ping; the gateway rotates its public key, then its key-set signing key, and the admin
 * confirms each after comparing fingerprints; the gateway goes away and the screen says OFFLINE.
 */
const USER = 'merchant-e2e';
const PASSWORD = 'e2e gateway pass 6620';

let sandbox: SandboxHandle | null = null;
let sandboxDir: string;

test.beforeEach(async () => {
  sandboxDir = mkdtempSync(join(tmpdir(), 'mkm-e2e-sandbox-'));
  sandbox = await startSandbox({ port: 0, dataDir: sandboxDir, users: [{ name: USER, password: PASSWORD }] });
});

test.afterEach(async () => {
  await sandbox?.close();
  sandbox = null;
  rmSync(sandboxDir, { recursive: true, force: true });
});

const grouped = (hex: string) => (hex.match(/.{1,4}/g) ?? []).join(' ');

test('a gateway profile: register, sync, ping, a confirmed gateway key rotation, then offline', async ({
  app,
}) => {
  test.setTimeout(180_000);
  const s = sandbox!;
  const target: Target = { url: s.url, caPem: s.caPem, pin: s.pin };

  // A transport key pair on the demo token.
  await app.getByRole('tab', { name: 'Keys' }).click();
  await logInToDemo(app);
  await generateKey(app, { type: 'rsa-2048', label: 'gw-transport-e2e', purpose: 'Gateway transport' });

  await app.getByRole('tab', { name: 'Gateway' }).click();
  await expect(app.getByRole('heading', { level: 1, name: 'Gateway' })).toBeVisible();
  await expect(app.getByText('No gateway profile yet.', { exact: true })).toBeVisible();
  await expect(app.getByRole('button', { name: 'Start the local sandbox (demo)' })).toBeVisible();

  // Add the profile: the password is masked, the pin is the sandbox's.
  await app.getByRole('button', { name: 'Add profile…' }).click();
  const add = app.getByRole('dialog', { name: 'Add a gateway profile' });
  await add.getByLabel('Name').fill('E2E sandbox');
  await add.getByLabel('Base URL').fill(s.url);
  await add.getByLabel('User').fill(USER);
  const password = add.getByLabel('Password', { exact: true });
  await expect(password).toHaveAttribute('type', 'password');
  await password.fill(PASSWORD);
  await add.getByLabel(/TLS pin/).fill(s.pin);
  await add.getByRole('button', { name: 'Add profile' }).click();
  await expect(add).toBeHidden();

  const panel = app.getByRole('region', { name: 'Gateway profile E2E sandbox' });
  await expect(panel.getByRole('heading', { name: 'E2E sandbox' })).toBeVisible();
  await expect(panel).toContainText('available to the app');
  await expect(panel).toContainText(grouped(s.pin));

  // Register the token's key as the merchant transport key.
  const transport = panel.getByRole('region', { name: 'Transport keys' });
  const option = transport.locator('option', { hasText: 'gw-transport-e2e' });
  await transport.getByLabel('Register transport key').selectOption((await option.getAttribute('value'))!);
  await transport.getByRole('button', { name: 'Register', exact: true }).click();
  await expect(transport.getByRole('status')).toContainText(
    /Registered [0-9a-f]+ with RSAES-OAEP-SHA(1|256)/,
  );
  const row = transport.getByRole('row', { name: /gw-transport-e2e/ });
  await expect(row).toContainText('present');
  await expect(row).toContainText('active');
  // The gateway holds exactly the token's public key.
  await expect(row).toContainText('same on both sides');

  // Sync: reachable, the gateway key pinned with the fingerprint the gateway serves.
  const connection = panel.getByRole('region', { name: 'Connection' });
  await connection.getByRole('button', { name: 'Sync now' }).click();
  await expect(connection.getByText('Reachable')).toBeVisible({ timeout: 30_000 });
  const bearer = await login(target, USER, PASSWORD);
  const served = (await call(target, 'GET', '/v1/encryption/public_key', { token: bearer })).body
    .spki_sha256 as string;
  const keyCard = panel.getByRole('region', { name: 'Gateway public key' });
  await expect(keyCard.getByTestId('gateway-key-fingerprint')).toHaveText(grouped(served));

  // A secure ping under a one-use key set.
  const keySet = panel.getByRole('region', { name: 'Key set and secure ping' });
  const setBefore = await keySet.getByTestId('key-set-id').textContent();
  await keySet.getByRole('button', { name: 'Secure ping' }).click();
  await expect(keySet.getByTestId('ping-result')).toContainText('Pong', { timeout: 30_000 });
  await expect(keySet.getByTestId('ping-result')).toContainText(setBefore!);
  await expect(keySet.getByTestId('key-set-id')).not.toHaveText(setBefore!);

  // The gateway rotates its public key: held until the admin compares and confirms.
  expect((await call(target, 'POST', '/sandbox/rotate_public_key', { token: bearer, json: {} })).status).toBe(
    200,
  );
  const next = (await call(target, 'GET', '/v1/encryption/public_key', { token: bearer })).body
    .spki_sha256 as string;
  expect(next).not.toBe(served);
  await connection.getByRole('button', { name: 'Sync now' }).click();
  await expect(keyCard.getByText('The gateway now serves a different public key.')).toBeVisible({
    timeout: 30_000,
  });
  await expect(keyCard.getByTestId('gateway-key-fingerprint')).toHaveText(grouped(served));
  await keyCard.getByRole('button', { name: 'Review the new key…' }).click();
  const confirm = app.getByRole('alertdialog', { name: 'Accept the gateway’s new public key?' });
  await expect(confirm.getByTestId('rotation-old')).toHaveText(grouped(served));
  await expect(confirm.getByTestId('rotation-new')).toHaveText(grouped(next));
  await confirm.getByRole('button', { name: 'The fingerprints match: use the new key' }).click();
  await expect(confirm).toBeHidden();
  await expect(keyCard.getByTestId('gateway-key-fingerprint')).toHaveText(grouped(next));
  await expect(keyCard.getByText('The gateway now serves a different public key.')).toBeHidden();

  // Contract 1.1: the key-set signing key is pinned too, and its rotation is held the same way.
  const signingCard = panel.getByRole('region', { name: 'Gateway signing key' });
  const signedBy = (await call(target, 'GET', '/v1/encryption/signing_key', { token: bearer })).body
    .spki_sha256 as string;
  await expect(signingCard.getByTestId('signing-key-fingerprint')).toHaveText(grouped(signedBy));
  expect(
    (await call(target, 'POST', '/sandbox/rotate_signing_key', { token: bearer, json: {} })).status,
  ).toBe(200);
  const nextSigning = (await call(target, 'GET', '/v1/encryption/signing_key', { token: bearer })).body
    .spki_sha256 as string;
  await connection.getByRole('button', { name: 'Sync now' }).click();
  await expect(signingCard.getByText('The gateway now signs key sets with a different key.')).toBeVisible({
    timeout: 30_000,
  });
  await expect(signingCard.getByTestId('signing-key-fingerprint')).toHaveText(grouped(signedBy));
  await signingCard.getByRole('button', { name: 'Review the new key…' }).click();
  const confirmSigning = app.getByRole('alertdialog', { name: 'Accept the gateway’s new signing key?' });
  await expect(confirmSigning.getByTestId('rotation-old')).toHaveText(grouped(signedBy));
  await expect(confirmSigning.getByTestId('rotation-new')).toHaveText(grouped(nextSigning));
  await confirmSigning.getByRole('button', { name: 'The fingerprints match: use the new key' }).click();
  await expect(confirmSigning).toBeHidden();
  await expect(signingCard.getByTestId('signing-key-fingerprint')).toHaveText(grouped(nextSigning));
  // Sets signed by the new key are accepted again: the ping's answer hands over a new set.
  const setBeforeSigned = (await keySet.getByTestId('key-set-id').textContent())!;
  await keySet.getByRole('button', { name: 'Secure ping' }).click();
  await expect(keySet.getByTestId('ping-result')).toContainText(setBeforeSigned, { timeout: 30_000 });
  await expect(keySet.getByTestId('key-set-id')).toHaveText(/^ks_/);
  await expect(keySet.getByTestId('key-set-id')).not.toHaveText(setBeforeSigned);

  // The gateway goes away: the screen says OFFLINE, with the reason.
  await s.close();
  await connection.getByRole('button', { name: 'Sync now' }).click();
  await expect(connection.getByText('OFFLINE', { exact: true })).toBeVisible({ timeout: 60_000 });
  await expect(connection).toContainText('GATEWAY_UNREACHABLE');
  await expect(connection).toContainText('The app keeps working with what the token holds');
  // What the token holds is still shown.
  await expect(row).toContainText('present');
});

test('with no profile the local demo sandbox is offered; a refused password is asked for again', async ({
  app,
}) => {
  test.setTimeout(180_000);
  const s = sandbox!;
  await app.getByRole('tab', { name: 'Keys' }).click();
  await logInToDemo(app);
  await app.getByRole('tab', { name: 'Gateway' }).click();

  await app.getByRole('button', { name: 'Start the local sandbox (demo)' }).click();
  const profiles = app.getByRole('navigation', { name: 'Gateway profiles' });
  await expect(profiles.getByRole('button', { name: /Local sandbox \(demo\)/ })).toContainText('DEMO', {
    timeout: 60_000,
  });
  await expect(profiles).toContainText(/Local sandbox running at https:\/\/127\.0\.0\.1:\d+/);
  const demo = app.getByRole('region', { name: 'Gateway profile Local sandbox (demo)' });
  await expect(demo).toContainText('available to the app');
  await demo.getByRole('region', { name: 'Connection' }).getByRole('button', { name: 'Sync now' }).click();
  await expect(demo.getByRole('region', { name: 'Connection' }).getByText('Reachable')).toBeVisible({
    timeout: 30_000,
  });
  await expect(demo.getByTestId('gateway-key-fingerprint')).toHaveText(/^([0-9a-f]{4} ){15}[0-9a-f]{4}$/);

  // A profile whose password the gateway refuses: the error offers to type it again.
  await app.getByRole('button', { name: 'Add profile…' }).click();
  const add = app.getByRole('dialog', { name: 'Add a gateway profile' });
  await add.getByLabel('Name').fill('Typo');
  await add.getByLabel('Base URL').fill(s.url);
  await add.getByLabel('User').fill(USER);
  await add.getByLabel('Password', { exact: true }).fill('not the password');
  await add.getByLabel(/TLS pin/).fill(s.pin);
  await add.getByRole('button', { name: 'Add profile' }).click();
  await expect(add).toBeHidden();
  const panel = app.getByRole('region', { name: 'Gateway profile Typo' });
  const keyCard = panel.getByRole('region', { name: 'Gateway public key' });
  await keyCard.getByRole('button', { name: 'Fetch key' }).click();
  await expect(keyCard.getByRole('alert')).toContainText('GATEWAY_UNAUTHORIZED', { timeout: 30_000 });
  await keyCard.getByRole('button', { name: 'Enter password…' }).click();
  const ask = app.getByRole('dialog', { name: 'Gateway password for “Typo”' });
  const field = ask.getByLabel('Password', { exact: true });
  await expect(field).toHaveAttribute('type', 'password');
  await field.fill(PASSWORD);
  await ask.getByRole('button', { name: 'Use this password' }).click();
  await expect(ask).toBeHidden();
  await keyCard.getByRole('button', { name: 'Fetch key' }).click();
  await expect(keyCard.getByTestId('gateway-key-fingerprint')).toHaveText(/^([0-9a-f]{4} ){15}[0-9a-f]{4}$/, {
    timeout: 30_000,
  });
  await expect(keyCard.getByRole('alert')).toHaveCount(0);
});
