import { expect, type Locator, type Page } from '@playwright/test';

export const DEMO_PIN = '123456';

export function loginDialog(app: Page) {
  return app.getByRole('dialog', { name: /Log in to MKM Demo/ });
}

/** Opens the login dialog from the header and logs in to the demo token with its PIN. */
export async function logInToDemo(app: Page): Promise<void> {
  const header = app.getByRole('group', { name: 'Token in use' });
  await header.getByRole('button', { name: 'Log in…' }).click();
  const dialog = loginDialog(app);
  await dialog.getByLabel('User PIN', { exact: true }).fill(DEMO_PIN);
  await dialog.getByLabel('User PIN', { exact: true }).press('Enter');
  await expect(dialog).toBeHidden();
  await expect(header).toContainText('Logged in');
}

export async function openSection(app: Page, name: 'Status' | 'Tokens' | 'Keys'): Promise<void> {
  await app.getByRole('tab', { name }).click();
  await expect(app.getByRole('heading', { level: 1, name })).toBeVisible();
  // Only the chosen section shows (the others stay mounted, hidden).
  await expect(app.getByRole('heading', { level: 1 })).toHaveCount(1);
}

/** Generates a key through the dialog and waits until the dialog closed (the key is selected). */
export async function generateKey(
  app: Page,
  options: { type: string; label: string; purpose: string },
): Promise<void> {
  await app.getByRole('button', { name: 'Generate key…' }).click();
  const dialog = app.getByRole('dialog', { name: 'Generate a key' });
  await dialog.getByLabel('Type').selectOption(options.type);
  await dialog.getByLabel('Label', { exact: true }).fill(options.label);
  await dialog.getByRole('radio', { name: options.purpose }).check();
  await dialog.getByRole('button', { name: 'Generate', exact: true }).click();
  await expect(dialog).toBeHidden({ timeout: 60_000 });
}

/** Browser mode: uploads a CSV made of `lines` into the Batch panel and starts it (OAEP). */
export async function startBatch(panel: Locator, fileName: string, lines: string[]): Promise<void> {
  await panel.getByLabel('Input CSV').setInputFiles({
    name: fileName,
    mimeType: 'text/csv',
    buffer: Buffer.from(lines.join('\n') + '\n'),
  });
  await panel.getByLabel('Scheme').selectOption('oaep');
  await panel.getByRole('button', { name: 'Start batch' }).click();
}
