import { constants, generateKeyPairSync, publicEncrypt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';

/**
 * The console's troubleshooter and support bundle in the real app (browser mode): broken CSE
 * fields pasted in are diagnosed with the right failure first, a finding opens its evidence,
 * and the support bundle is previewed, then downloaded as exactly what was shown.
 */

const PAN = '4111111111111111';

function cseField(): string {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(PAN)).toString(
    'base64',
  );
}

async function openConsoleTab(app: Page, tab: 'Troubleshoot' | 'Support bundle') {
  await app.getByRole('tab', { name: 'Console', exact: true }).click();
  await expect(app.getByRole('heading', { level: 1, name: 'Console' })).toBeVisible();
  await app.getByRole('tab', { name: tab, exact: true }).click();
  return app.getByRole('tabpanel', { name: tab });
}

test('pasting a url-safe and a truncated CSE field names what is wrong and how to fix it', async ({
  app,
}) => {
  const panel = await openConsoleTab(app, 'Troubleshoot');
  const box = panel.getByLabel('Paste anything');
  const diagnose = panel.getByRole('button', { name: 'Diagnose' });
  await expect(diagnose).toBeDisabled();

  const field = cseField();
  await box.fill(field.replace(/\+/g, '-').replace(/\//g, '_'));
  await diagnose.click();
  const findings = panel.getByRole('list', { name: 'Findings, most severe first' }).getByRole('listitem');
  await expect(findings.first()).toHaveAttribute('data-code', 'BASE64URL');
  await expect(findings.first()).toContainText('URL-safe base64 instead of standard base64');
  await expect(findings.first()).toContainText('How to fix: Use standard base64');
  await expect(panel.getByRole('region', { name: 'Diagnosis' })).toContainText('read as base64');

  await box.fill(field.slice(0, 200));
  await diagnose.click();
  await expect(findings.first()).toHaveAttribute('data-code', 'TRUNCATED');
  await expect(findings.first()).toContainText('The ciphertext is cut short');
  // The evidence opens on demand, by keyboard too.
  const evidence = findings.first().getByText(/^Evidence/);
  await evidence.focus();
  await app.keyboard.press('Enter');
  await expect(findings.first().locator('dd').first()).toBeVisible();
  await expect(findings.first()).toContainText('expectedBytes');

  // A clear card number is shown by its shape, never echoed.
  await box.fill(JSON.stringify({ credit_card: { number: PAN } }));
  await diagnose.click();
  await expect(findings.first()).toHaveAttribute('data-code', 'CLEAR_VALUE');
  await expect(panel.getByRole('region', { name: 'Diagnosis' })).not.toContainText(PAN);
  await expect(panel.getByRole('region', { name: 'Diagnosis' })).toContainText('1111');
});

test('the support bundle is previewed, then downloaded exactly as shown, with the last diagnoses', async ({
  app,
}) => {
  const trouble = await openConsoleTab(app, 'Troubleshoot');
  await trouble.getByLabel('Paste anything').fill('not*base64');
  await trouble.getByRole('button', { name: 'Diagnose' }).click();
  await expect(trouble.getByRole('listitem').first()).toHaveAttribute('data-code', 'NOT_ENCODED');

  const panel = await openConsoleTab(app, 'Support bundle');
  await expect(panel.getByRole('button', { name: 'Download' })).toBeDisabled();
  await panel.getByRole('button', { name: 'Build preview' }).click();
  const shown = panel.getByLabel('The support bundle, exactly as it will be saved');
  await expect(shown).toContainText('"format": "mkm-support-bundle"');
  await expect(shown).toContainText('NOT_ENCODED');
  const [download] = await Promise.all([
    app.waitForEvent('download'),
    panel.getByRole('button', { name: 'Download' }).click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^mkm-support-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}\.json$/);
  const text = readFileSync((await download.path())!, 'utf8');
  expect(text).toBe(await shown.textContent());
  const bundle = JSON.parse(text) as { diagnoses: { codes: string[] }[]; tokens: unknown[] };
  expect(bundle.diagnoses[0]!.codes).toContain('NOT_ENCODED');
  await expect(panel.getByRole('status').filter({ hasText: 'Saved as' })).toBeVisible();
});
