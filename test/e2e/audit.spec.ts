import { readFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { DEMO_PIN, generateKey, loginDialog, openSection } from './helpers/ui';

/** The audit viewer over the real audit log of browser mode, on the real demo SoftHSM2 token. */

const WRONG_PIN = '000000';

async function openAudit(app: Page) {
  await app.getByRole('tab', { name: 'Audit' }).click();
  await expect(app.getByRole('heading', { level: 1, name: 'Audit' })).toBeVisible();
  await expect(app.getByTestId('audit-count')).toHaveText(/^\d+ entr(y|ies)/);
}

/** A wrong PIN first (an audited failure), then the right one. */
async function logInAfterAWrongPin(app: Page) {
  const header = app.getByRole('group', { name: 'Token in use' });
  await header.getByRole('button', { name: 'Log in…' }).click();
  const dialog = loginDialog(app);
  const pin = dialog.getByLabel('User PIN', { exact: true });
  await pin.fill(WRONG_PIN);
  await pin.press('Enter');
  await expect(dialog.getByRole('alert')).toContainText('PIN_INCORRECT');
  await pin.fill(DEMO_PIN);
  await pin.press('Enter');
  await expect(dialog).toBeHidden();
  await expect(header).toContainText('Logged in');
}

test('the audit screen shows logins (a wrong PIN as an error) and key generation, filters them and verifies the log', async ({
  app,
}) => {
  // Logged out, nothing is sealed yet, and the screen says why.
  await openAudit(app);
  await app.getByRole('button', { name: 'Verify the log' }).click();
  await expect(app.getByTestId('audit-verify-summary')).toContainText('The audit log is intact');
  await expect(app.getByTestId('audit-verify-unsealed')).toContainText(/\d+ entr(y is|ies are) protected/);
  await expect(app.getByTestId('audit-verify-unsealed')).toContainText('log in to seal them');

  await openSection(app, 'Keys');
  await logInAfterAWrongPin(app);
  await generateKey(app, { type: 'aes-256', label: 'audit-e2e-aes', purpose: 'Data encryption' });

  await openAudit(app);
  const grid = app.getByRole('grid', { name: 'Audit entries, newest first' });
  const rows = grid.locator('[role=row][data-action]');
  const generated = grid.locator('[role=row][data-action="key.generate"]');
  await expect(generated).toHaveCount(1);
  await expect(generated).toContainText(/KCV [0-9A-F]{6}/);
  await expect(generated).toContainText('ok');
  const logins = grid.locator('[role=row][data-action="token.login"]');
  await expect(logins).toHaveCount(2);
  // Newest first: the good login, then the wrong PIN before it.
  await expect(logins.nth(0)).toContainText('ok');
  await expect(logins.nth(1)).toContainText('PIN_INCORRECT');
  const seqs = await rows.evaluateAll((els) => els.map((e) => Number(e.id.replace('audit-row-', ''))));
  expect(seqs).toEqual([...seqs].sort((a, b) => b - a));

  // A row opens its details; the keyboard moves through the rows.
  await generated.click();
  const details = app.getByRole('region', { name: /^Audit entry \d+$/ });
  await expect(details).toContainText('key.generate');
  await expect(details.getByLabel('Entry details as JSON')).toContainText('"label": "audit-e2e-aes"');
  await grid.focus();
  await app.keyboard.press('Home');
  await expect(rows.first()).toHaveAttribute('aria-selected', 'true');
  await app.keyboard.press('End');
  await expect(rows.last()).toHaveAttribute('aria-selected', 'true');
  // The oldest entry is the log's own start.
  await expect(app.getByRole('region', { name: 'Audit entry 1' })).toContainText('audit.start');

  // Filters narrow the list: an action family, then the failed results.
  const all = await rows.count();
  await app.getByLabel('Action').fill('token');
  const actions = () => rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-action') ?? ''));
  await expect.poll(async () => (await actions()).every((a) => a.startsWith('token.'))).toBe(true);
  expect((await actions()).filter((a) => a === 'token.login')).toHaveLength(2);
  expect((await actions()).length).toBeLessThan(all);
  await app.getByLabel('Action').fill('key.generate');
  await expect(rows).toHaveCount(1);
  await expect(app.getByTestId('audit-count')).toHaveText('1 entry match');
  await app.getByLabel('Action').fill('');
  await app.getByLabel('Result').selectOption('error');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('PIN_INCORRECT');
  await app.getByRole('button', { name: 'Clear filters' }).click();
  await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(all);

  // Logged in: the seals are checked on the token (the first seal lands within seconds).
  const verify = app.getByRole('button', { name: 'Verify the log' });
  await expect(async () => {
    await verify.click();
    await expect(app.getByTestId('audit-verify-seals')).toContainText(/\d+ seals? checked on the token/, {
      timeout: 2000,
    });
  }).toPass({ timeout: 20_000 });
  await expect(app.getByTestId('audit-verify-summary')).toContainText('The audit log is intact');
  await expect(app.getByTestId('audit-verify-result')).toContainText('OK');
});

test('the audit log exports as JSON and CSV files that hold the entries and no PIN', async ({ app }) => {
  await openSection(app, 'Keys');
  await logInAfterAWrongPin(app);
  await generateKey(app, { type: 'hmac-256', label: 'audit-e2e-hmac', purpose: 'Message authentication' });
  await openAudit(app);

  const [json] = await Promise.all([
    app.waitForEvent('download'),
    app.getByRole('button', { name: 'Export JSON' }).click(),
  ]);
  expect(json.suggestedFilename()).toMatch(/^mkm-audit-\d{8}-\d{6}\.json$/);
  const text = readFileSync((await json.path())!, 'utf8');
  const entries = JSON.parse(text) as { action: string; result: string; details?: unknown }[];
  expect(entries.map((e) => e.action)).toEqual(expect.arrayContaining(['token.login', 'key.generate']));
  expect(entries.filter((e) => e.action === 'token.login').map((e) => e.result)).toEqual([
    'PIN_INCORRECT',
    'ok',
  ]);
  // No PIN in any entry's details (hashes and times are left out: digits occur there by chance).
  for (const e of entries) {
    const d = JSON.stringify(e.details ?? {});
    expect(d).not.toContain(DEMO_PIN);
    expect(d).not.toContain(WRONG_PIN);
  }
  expect(text).not.toContain(`"${DEMO_PIN}"`);
  expect(text).not.toContain(`"${WRONG_PIN}"`);
  await expect(app.getByRole('group', { name: 'Export' })).toContainText(json.suggestedFilename());

  const [csv] = await Promise.all([
    app.waitForEvent('download'),
    app.getByRole('button', { name: 'Export CSV' }).click(),
  ]);
  expect(csv.suggestedFilename()).toMatch(/^mkm-audit-\d{8}-\d{6}\.csv$/);
  const table = readFileSync((await csv.path())!, 'utf8');
  expect(table.split('\r\n')[0]).toBe(
    'seq,time,os_user,token_serial,token_label,action,key_id,key_kcv,key_fingerprint,result,details',
  );
  expect(table).toContain(',key.generate,');

  // The same text can be shown and copied where a file cannot be saved.
  await app.getByRole('button', { name: 'Show the text' }).click();
  await expect(app.getByRole('textbox', { name: /^Exported mkm-audit-.*\.csv$/ })).toHaveValue(/^seq,time,/);
});
