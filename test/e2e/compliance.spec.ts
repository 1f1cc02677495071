import { readFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { DEMO_PIN, logInToDemo } from './helpers/ui';

/** The PCI DSS compliance screen over the real services of browser mode and the demo SoftHSM2 token. */

const IDS = [
  '3.6.1',
  '3.6.1.1',
  '3.6.1.2',
  '3.6.1.3',
  '3.6.1.4',
  '3.7.1',
  '3.7.2',
  '3.7.3',
  '3.7.4',
  '3.7.5',
  '3.7.6',
  '3.7.7',
  '3.7.8',
  '3.7.9',
];

async function openCompliance(app: Page) {
  await app.getByRole('tab', { name: 'Compliance' }).click();
  await expect(app.getByRole('heading', { level: 1, name: 'Compliance' })).toBeVisible();
  await expect(app.getByTestId('pci-summary')).toBeVisible({ timeout: 30_000 });
}

const requirement = (app: Page, id: string) => app.getByTestId(`pci-req-${id}`);

test('the compliance report: requirements with evidence, a custodian acknowledges, the report exports as HTML and PDF', async ({
  app,
}) => {
  await openCompliance(app);
  for (const id of IDS) await expect(requirement(app, id)).toBeVisible();
  // Logged out: the token was not checked, and the screen says so instead of claiming anything.
  await expect(app.getByTestId('pci-token-note')).toContainText('token not logged in');
  await expect(requirement(app, '3.6.1.2')).toContainText('Manual evidence');
  await expect(requirement(app, '3.7.8')).toContainText('Needs attention');
  await expect(requirement(app, '3.7.8')).toContainText('No key custodian has acknowledged');
  const custodians = app.getByRole('region', { name: 'Key custodians' });
  await expect(
    custodians.getByText('No key custodian has acknowledged their responsibilities yet.'),
  ).toBeVisible();

  await logInToDemo(app);
  await app.getByRole('button', { name: 'Refresh' }).click();
  await expect(app.getByTestId('pci-token-note')).toBeHidden({ timeout: 30_000 });
  // The demo token is SoftHSM2: the report says it is no secure cryptographic device.
  await expect(requirement(app, '3.6.1.2')).toContainText('Needs attention');
  await expect(requirement(app, '3.6.1.2')).toContainText('software token');

  // Expanding a requirement shows what mkm does and the evidence.
  await requirement(app, '3.6.1.2').locator('summary').click();
  await expect(requirement(app, '3.6.1.2').getByRole('table')).toContainText('What mkm does');
  await expect(requirement(app, '3.6.1.2').getByRole('table')).toContainText('Sensitive (CKA_SENSITIVE)');

  // A custodian acknowledges the responsibilities.
  await app.getByRole('button', { name: 'Acknowledge responsibilities…' }).click();
  const dialog = app.getByRole('dialog', { name: /Key custodian responsibilities \(version \d+\)/ });
  await expect(dialog.getByRole('list', { name: 'Responsibilities' })).toContainText('PIN');
  await dialog.getByLabel('Full name').fill('Ann Lee');
  await dialog.getByLabel('Role').fill('Key custodian');
  const record = dialog.getByRole('button', { name: 'Record acknowledgement' });
  await expect(record).toBeDisabled();
  await dialog.getByRole('checkbox', { name: /I have read these responsibilities/ }).check();
  await record.click();
  await expect(dialog).toBeHidden();
  const table = app.getByRole('table', { name: 'Key custodians' });
  await expect(table).toContainText('Ann Lee');
  await expect(table).toContainText('Current');
  await expect(requirement(app, '3.7.8')).toContainText('Met', { timeout: 30_000 });
  await expect(requirement(app, '3.7.8')).toContainText('1 custodian has acknowledged');

  // Acknowledging the same text twice is refused with a reason.
  await app.getByRole('button', { name: 'Acknowledge responsibilities…' }).click();
  await dialog.getByLabel('Full name').fill('ann lee');
  await dialog.getByLabel('Role').fill('Key custodian');
  await dialog.getByRole('checkbox', { name: /I have read these responsibilities/ }).check();
  await dialog.getByRole('button', { name: 'Record acknowledgement' }).click();
  await expect(dialog.getByRole('alert')).toContainText('already acknowledged');
  await dialog.getByRole('button', { name: 'Cancel' }).click();

  const [html] = await Promise.all([
    app.waitForEvent('download'),
    app.getByRole('button', { name: 'Export HTML' }).click(),
  ]);
  expect(html.suggestedFilename()).toMatch(/^mkm-pci-report-\d{8}-\d{4}\.html$/);
  const page = readFileSync((await html.path())!, 'utf8');
  for (const id of IDS) expect(page).toContain(`id="req-${id}"`);
  expect(page).toContain('Ann Lee');
  expect(page).toContain('SoftHSM');
  expect(page).not.toContain(DEMO_PIN);
  await expect(app.getByTestId('pci-export-status')).toContainText(html.suggestedFilename());

  const [pdf] = await Promise.all([
    app.waitForEvent('download'),
    app.getByRole('button', { name: 'Export PDF' }).click(),
  ]);
  expect(pdf.suggestedFilename()).toMatch(/^mkm-pci-report-\d{8}-\d{4}\.pdf$/);
  const bytes = readFileSync((await pdf.path())!);
  expect(bytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');
  expect(bytes.length).toBeGreaterThan(5000);

  // Revoking asks first, then keeps the record.
  await table.getByRole('button', { name: 'Revoke Ann Lee' }).click();
  const confirm = app.getByRole('alertdialog', { name: 'Revoke Ann Lee?' });
  await confirm.getByLabel('Reason (optional)').fill('moved to another team');
  await confirm.getByRole('button', { name: 'Revoke', exact: true }).click();
  await expect(confirm).toBeHidden();
  await expect(custodians.getByText('No current custodian; revoked records are hidden.')).toBeVisible();
  await custodians.getByRole('checkbox', { name: 'Show revoked and superseded records' }).check();
  await expect(table).toContainText('Revoked');
});
