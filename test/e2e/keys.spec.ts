import { createHash } from 'node:crypto';
import { expect, test } from './fixtures';
import { generateKey, logInToDemo, openSection } from './helpers/ui';

/** Keys on the real demo SoftHSM2 token (browser mode, no mocks). */
test('an AES-256 key is generated, listed with its KCV, and destroyed only after typing its label', async ({
  app,
}) => {
  await openSection(app, 'Keys');
  await expect(app.getByText('Log in to see and use the token’s private and secret keys')).toBeVisible();
  await logInToDemo(app);
  const count = app.getByTestId('key-count');
  await expect(count).toHaveText(/^\d+ of \d+ objects$/);
  const before = (await count.textContent())!;

  await generateKey(app, { type: 'aes-256', label: 'payments-data-e2e', purpose: 'Data encryption' });
  const grid = app.getByRole('grid', { name: 'Keys and objects on the token' });
  const row = grid.getByRole('row', { name: /payments-data-e2e/ });
  await expect(row).toHaveAttribute('aria-selected', 'true');
  await expect(row).toContainText('Secret key');
  await expect(row).toContainText('256');
  const details = app.getByRole('region', { name: /payments-data-e2e/ });
  await expect(details.getByTestId('kcv')).toHaveText(/^[0-9A-F]{6}$/);
  await expect(details).toContainText('method: cmac');

  await details.getByRole('button', { name: 'Destroy…' }).click();
  const confirm = app.getByRole('alertdialog', { name: 'Destroy key?' });
  await expect(confirm).toContainText('cannot be undone');
  const destroy = confirm.getByRole('button', { name: 'Destroy key' });
  await expect(destroy).toBeDisabled();
  await confirm.getByLabel(/to confirm/).fill('payments-data');
  await expect(destroy).toBeDisabled();
  await confirm.getByLabel(/to confirm/).fill('payments-data-e2e');
  await destroy.click();
  await expect(confirm).toBeHidden();
  await expect(grid.getByRole('row', { name: /payments-data-e2e/ })).toHaveCount(0);
  await expect(count).toHaveText(before);
});

test('an RSA-2048 pair shows its SPKI fingerprint and exports its public key as PEM and JWK', async ({
  app,
  server,
}) => {
  if (server)
    await app.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.origin });
  await openSection(app, 'Keys');
  await logInToDemo(app);
  await generateKey(app, { type: 'rsa-2048', label: 'signing-e2e', purpose: 'Signing' });

  const grid = app.getByRole('grid', { name: 'Keys and objects on the token' });
  await expect(grid.getByRole('row', { name: /signing-e2e/ })).toHaveCount(2);
  const details = app.getByRole('region', { name: /signing-e2e/ });
  await expect(details).toContainText('Private key');
  const fingerprint = (await details.getByTestId('fingerprint').textContent())!;
  expect(fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);

  const pemBox = details.getByLabel('Public key as PEM');
  await expect(pemBox).toHaveValue(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n?$/);
  const pem = await pemBox.inputValue();
  // The fingerprint shown is SHA-256 over the DER SubjectPublicKeyInfo that the PEM carries.
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  expect(fingerprint.replaceAll(':', '').toLowerCase()).toBe(createHash('sha256').update(der).digest('hex'));

  await details.getByRole('button', { name: 'Copy PEM' }).click();
  await expect(details.getByText('Copied')).toBeVisible();
  if (server) expect(await app.evaluate(() => navigator.clipboard.readText())).toBe(pem);

  await details.getByRole('tab', { name: 'JWK' }).click();
  await expect(details.getByLabel('Public key as JWK')).toHaveValue(/"kty": "RSA"/);

  // A signing pair can make a CSR on the token.
  await details.getByLabel('Common name').fill('merchant.example');
  await details.getByRole('button', { name: 'Create CSR' }).click();
  await expect(details.getByLabel('Certificate signing request (PEM)')).toHaveValue(
    /^-----BEGIN CERTIFICATE REQUEST-----/,
  );
});

test('the key list is searchable, sortable and keyboard navigable', async ({ app }) => {
  await openSection(app, 'Keys');
  await logInToDemo(app);
  await generateKey(app, { type: 'hmac-256', label: 'e2e-b-hmac', purpose: 'Message authentication' });
  await generateKey(app, { type: 'aes-256', label: 'e2e-a-aes', purpose: 'Data encryption' });
  const grid = app.getByRole('grid', { name: 'Keys and objects on the token' });
  const labels = () => grid.locator('[role=row][aria-rowindex] .cell-label').allTextContents();
  await app.getByRole('searchbox', { name: 'Search keys by label or ID' }).fill('e2e-');
  await expect.poll(labels).toEqual(['e2e-a-aes', 'e2e-b-hmac']);
  await grid.getByRole('button', { name: 'Label' }).click();
  await expect.poll(labels).toEqual(['e2e-b-hmac', 'e2e-a-aes']);
  await expect(grid.getByRole('columnheader', { name: 'Label' })).toHaveAttribute('aria-sort', 'descending');
  await grid.getByRole('button', { name: 'Type' }).click();
  await expect.poll(labels).toEqual(['e2e-a-aes', 'e2e-b-hmac']);
  await grid.focus();
  await app.keyboard.press('End');
  await expect(grid.getByRole('row', { name: /e2e-b-hmac/ })).toHaveAttribute('aria-selected', 'true');
  await expect(app.getByRole('region', { name: /e2e-b-hmac/ })).toContainText('method: hmac');
  await app.keyboard.press('ArrowUp');
  await expect(grid.getByRole('row', { name: /e2e-a-aes/ })).toHaveAttribute('aria-selected', 'true');
  await expect(app.getByRole('region', { name: /e2e-a-aes/ })).toContainText('method: cmac');
});
