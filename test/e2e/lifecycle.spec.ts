import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { generateKey, logInToDemo, openSection } from './helpers/ui';

/**
 * A managed key through its life in the UI, on the real demo SoftHSM2 token in browser mode:
 * create, see it on the dashboard, rotate with the wizard, mark compromised, destroy a version
 * with the double confirmation, and read it all back on the timeline.
 */

async function openManagedKeys(app: Page) {
  await openSection(app, 'Keys');
  await app.getByRole('group', { name: 'Keys view' }).getByRole('button', { name: 'Managed keys' }).click();
}

test('a managed AES key is created, rotated, compromised and a version destroyed, with its timeline', async ({
  app,
}) => {
  test.setTimeout(180_000);
  // The dashboard, before anything: each card says what to do.
  const tokenCard = app.getByRole('region', { name: 'Token', exact: true });
  await expect(tokenCard).toContainText('Logged out');
  await expect(tokenCard.getByRole('button', { name: 'Log in…' })).toBeVisible();
  await expect(app.getByRole('region', { name: 'Keys', exact: true })).toContainText('No managed keys yet');
  await expect(app.getByRole('region', { name: 'Gateway', exact: true })).toContainText(
    'No gateway is connected yet',
  );

  await openManagedKeys(app);
  await expect(app.getByText('No managed keys yet.')).toBeVisible();
  await logInToDemo(app);

  // Create: the dialog is a form, submitted from the keyboard.
  await app.getByRole('button', { name: 'Create managed key…' }).click();
  const create = app.getByRole('dialog', { name: 'Create a managed key' });
  await expect(create.getByLabel('Name')).toBeFocused();
  await create.getByLabel('Name').fill('card-data-e2e');
  await expect(create.getByLabel('Purpose')).toHaveValue('data');
  await expect(create.getByLabel('Type')).toHaveValue('aes-256');
  await expect(create.getByLabel('Grace period after a rotation (days)')).toHaveAttribute(
    'placeholder',
    '30',
  );
  await create.getByLabel('Name').press('Enter');
  await expect(create).toBeHidden({ timeout: 60_000 });

  const detail = app.getByRole('region', { name: 'Managed key card-data-e2e' });
  await expect(detail).toBeVisible();
  const v1 = detail.getByTestId('version-1');
  await expect(v1).toContainText('primary');
  await expect(v1).toContainText('active');
  await expect(v1).toContainText(/KCV [0-9A-F]{6}/);

  // The dashboard counts it, with nothing due.
  await app.getByRole('tab', { name: 'Dashboard' }).click();
  const keysCard = app.getByRole('region', { name: 'Keys', exact: true });
  await expect(keysCard.getByTestId('dash-key-count')).toHaveText('1 managed key');
  await expect(keysCard.getByTestId('dash-due')).toContainText('Nothing due');
  await expect(tokenCard).toContainText('Logged in');
  await expect(app.getByRole('region', { name: 'Audit log' })).toContainText('Recording');
  await keysCard.getByRole('button', { name: 'Open Keys' }).click();
  await expect(app.getByRole('heading', { level: 1, name: 'Keys' })).toBeVisible();

  // Rotate with the wizard: review, confirm, progress, result.
  await detail.getByRole('button', { name: 'Rotate now…' }).click();
  const wizard = app.getByRole('dialog', { name: 'Rotate “card-data-e2e”' });
  await expect(wizard).toContainText('Version 2 is generated inside the token');
  await expect(wizard).toContainText('grace period of 30 days');
  const go = wizard.getByRole('button', { name: 'Rotate to version 2' });
  await expect(go).toBeFocused();
  await go.press('Enter');
  await expect(wizard).toContainText('Version 2 is now the primary', { timeout: 60_000 });
  // Said once: the progress ends with "Rotation complete.", the result names the primary.
  await expect(wizard.getByText(/Version 2 is (now )?the primary/)).toHaveCount(1);
  const progress = wizard.getByTestId('rotation-progress');
  await expect(progress.locator('.lc-step-done')).toHaveCount(4);
  await expect(progress).toContainText('Generate it on the token');
  await expect(progress).toContainText('Make it the primary');
  await wizard.getByRole('button', { name: 'Close' }).press('Enter');
  await expect(wizard).toBeHidden();

  const v2 = detail.getByTestId('version-2');
  await expect(v2).toContainText('primary');
  await expect(v2).toContainText('active');
  await expect(v1).not.toContainText('primary');
  await expect(v1).toContainText('in grace');

  // Mark the primary compromised: explained first, then a replacement becomes primary.
  await detail.getByRole('button', { name: 'Mark compromised…' }).click();
  const compromise = app.getByRole('alertdialog', { name: /Mark version 2 of “card-data-e2e” compromised/ });
  await expect(compromise).toContainText('nothing can be encrypted or decrypted with it any more');
  await expect(compromise).toContainText('a new version is generated and made primary');
  await compromise.getByLabel(/Why/).fill('left on a shared drive');
  await compromise.getByRole('button', { name: 'Mark compromised' }).click();
  await expect(compromise).toContainText('Version 3 replaces it as the primary', { timeout: 60_000 });
  await compromise.getByRole('button', { name: 'Close' }).click();
  await expect(compromise).toBeHidden();
  await expect(v2).toContainText('compromised');
  await expect(detail.getByTestId('version-3')).toContainText('primary');

  // Destroy version 2: its name typed again (what differs is said), then a final confirmation,
  // then the success said before the dialog closes; keyboard only.
  await expect(v2.locator('th')).toContainText('card-data-e2e v2');
  await expect(v2.locator('th')).not.toContainText('mkm/');
  await v2.getByRole('button', { name: 'Destroy…' }).click();
  const destroy = app.getByRole('alertdialog', { name: 'Destroy card-data-e2e v2?' });
  await expect(destroy).toContainText('It cannot be undone');
  const typed = destroy.getByLabel(/to confirm/);
  await expect(typed).toBeFocused();
  await expect(destroy.getByLabel('Type card-data-e2e v2 to confirm')).toBeVisible();
  await expect(destroy.getByRole('button', { name: 'Continue' })).toBeDisabled();
  await typed.fill('card-data-e2e v3');
  await expect(destroy).toContainText('The version differs: this is v2, you typed v3.');
  await expect(destroy.getByRole('button', { name: 'Continue' })).toBeDisabled();
  await typed.fill('card-data-e2e');
  await expect(destroy).toContainText('Add the version: “card-data-e2e v2”.');
  await typed.fill('card-data-e2e v2');
  await typed.press('Enter');
  await expect(destroy).toContainText('Last step.');
  // The safe choice has the focus; the destructive one is a deliberate Tab away.
  await expect(destroy.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await app.keyboard.press('Tab');
  await expect(destroy.getByRole('button', { name: 'Destroy card-data-e2e v2' })).toBeFocused();
  await app.keyboard.press('Enter');
  await expect(destroy.getByTestId('destroy-done')).toContainText(
    'card-data-e2e v2 was destroyed on the token',
    {
      timeout: 30_000,
    },
  );
  await expect(destroy.getByRole('button', { name: 'Close' })).toBeFocused();
  await app.keyboard.press('Enter');
  await expect(destroy).toBeHidden();
  await expect(v2).toContainText('destroyed (tombstone)');
  await expect(v2.getByRole('button', { name: 'Destroy…' })).toHaveCount(0);

  // The timeline tells the story from the audit log.
  const timeline = detail.getByTestId('timeline');
  await expect(timeline).toContainText('v2 Destroyed (tombstone kept)');
  await expect(timeline).toContainText('v2 Declared compromised: left on a shared drive');
  await expect(timeline).toContainText('v3 Made primary');
  await expect(timeline).toContainText('v2 Made primary');
  await expect(timeline).toContainText('v1 Generated on the token');
  // The first version was planned by the key's creation, not by a rotation.
  await expect(timeline).toContainText('v1 Creation planned');
  await expect(timeline).not.toContainText('v1 Rotation planned');
  await expect(timeline).toContainText('v1 grace period ends');

  // The list shows the key with its new primary, and the dashboard the states.
  const list = app.getByRole('table', { name: 'Managed keys' });
  await expect(list.getByRole('row', { name: /card-data-e2e/ })).toContainText('v3');
  await app.getByRole('tab', { name: 'Dashboard' }).click();
  const states = app.getByRole('list', { name: 'Versions by state' });
  await expect(states).toContainText('active 2');
  await expect(states).toContainText('destroyed 1');
});

test('an unmanaged token key is adopted; mkm’s own audit key is shown as system; a managed key cannot be destroyed as a token object', async ({
  app,
}) => {
  test.setTimeout(120_000);
  await openSection(app, 'Keys');
  await logInToDemo(app);
  await generateKey(app, { type: 'aes-256', label: 'legacy-e2e', purpose: 'Data encryption' });

  await app.getByRole('group', { name: 'Keys view' }).getByRole('button', { name: 'Managed keys' }).click();
  await app.getByRole('button', { name: 'Unmanaged on token' }).click();
  const system = app.getByRole('list', { name: 'System keys' });
  await expect(system).toContainText('mkm-audit-key');
  await expect(system).toContainText('audit log sealing key');
  const unmanaged = app.getByRole('table', { name: 'Unmanaged keys' });
  await expect(unmanaged).not.toContainText('mkm-audit-key');
  const row = unmanaged.getByRole('row', { name: /legacy-e2e/ });
  await expect(row.getByLabel('Purpose for legacy-e2e')).toHaveValue('data');
  await row.getByLabel('Name for legacy-e2e').fill('legacy data');
  await row.getByRole('button', { name: 'Adopt' }).click();
  await expect(unmanaged.getByRole('row', { name: /legacy-e2e/ })).toHaveCount(0);

  await app.getByRole('button', { name: 'Keys', exact: true }).click();
  await app.getByRole('table', { name: 'Managed keys' }).getByRole('button', { name: 'legacy data' }).click();
  const detail = app.getByRole('region', { name: 'Managed key legacy data' });
  await expect(detail.getByTestId('version-1')).toContainText('primary');
  await expect(detail.getByTestId('timeline')).toContainText('v1 Adopted from the token');

  // The token-level destroy refuses it and points at the key's versions.
  await app.getByRole('group', { name: 'Keys view' }).getByRole('button', { name: 'Token objects' }).click();
  const grid = app.getByRole('grid', { name: 'Keys and objects on the token' });
  await grid.getByRole('row', { name: /legacy-e2e/ }).click();
  const details = app.getByRole('region', { name: /legacy-e2e/ });
  await details.getByRole('button', { name: 'Destroy…' }).click();
  const confirm = app.getByRole('alertdialog', { name: 'Destroy key?' });
  await confirm.getByLabel(/to confirm/).fill('legacy-e2e');
  await confirm.getByRole('button', { name: 'Destroy key' }).click();
  await expect(confirm.getByRole('alert')).toContainText('KEY_MANAGED');
  await expect(confirm.getByRole('alert')).toContainText('tombstone');
});
