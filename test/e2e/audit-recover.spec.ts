import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, startBrowserModeProcess, test, type BrowserModeProcess } from './fixtures';
import { generateKey, logInToDemo, openSection } from './helpers/ui';

/**
 * An audit log cut short behind mkm's back (the state file records more than the log holds):
 * browser mode opens with the log unavailable, the Audit screen says so and offers Recover, whose
 * dialog says what it does; recovering moves the damaged log aside byte for byte, and the screen
 * then follows the log's real state (no notice, no Recover, the new log intact). Real demo
 * SoftHSM2 token, browser mode started twice on the same data folder.
 */
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

let running: BrowserModeProcess | null = null;
test.afterEach(async () => {
  await running?.stop();
  running = null;
});

test('a damaged audit log: the Audit screen offers Recover, explains it, and then shows the new log', async ({
  page,
  dataDir,
}, testInfo) => {
  test.skip(testInfo.project.name === 'electron', 'restarts browser mode on the same data folder');
  // A first run that records something and closes cleanly.
  running = await startBrowserModeProcess(dataDir);
  await page.goto(running.url);
  await openSection(page, 'Keys');
  await logInToDemo(page);
  await generateKey(page, { type: 'aes-256', label: 'before-damage', purpose: 'Data encryption' });
  await page.getByRole('tab', { name: 'Audit' }).click();
  await expect(page.getByTestId('audit-count')).toHaveText(/^\d+ entr(y|ies)/);
  // A log that takes entries offers no recovery.
  await expect(page.getByTestId('audit-unavailable')).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Recover…' })).toHaveCount(0);
  await running.stop();

  const file = join(dataDir, 'audit', 'audit.log');
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  writeFileSync(file, lines.slice(0, -2).join('\n') + '\n');
  const damaged = readFileSync(file);

  running = await startBrowserModeProcess(dataDir);
  await page.goto(running.url);
  await page.getByRole('tab', { name: 'Audit' }).click();
  const notice = page.getByTestId('audit-unavailable');
  await expect(notice).toContainText('Actions that must be recorded are refused');
  await expect(notice).toContainText('AUDIT_TAMPERED');
  await notice.getByRole('button', { name: 'Recover…' }).click();
  const dialog = page.getByRole('alertdialog', { name: 'Recover the audit log' });
  await expect(dialog).toContainText('verified first');
  await expect(dialog).toContainText('moved aside untouched');
  await expect(dialog).toContainText('name the quarantine folder');
  // Logged out, the token's audit head could not move to the new log: log in first.
  await expect(dialog.getByTestId('audit-recover-login')).toContainText('Log in to the token first');
  await expect(dialog.getByRole('button', { name: 'Move aside and start a new log' })).toBeDisabled();
  // Cancel changes nothing.
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toBeHidden();
  await expect(notice).toBeVisible();
  expect(sha256(readFileSync(file))).toBe(sha256(damaged));

  await openSection(page, 'Keys');
  await logInToDemo(page);
  await page.getByRole('tab', { name: 'Audit' }).click();
  await expect(notice).toContainText('AUDIT_TAMPERED');

  await notice.getByRole('button', { name: 'Recover…' }).click();
  await expect(dialog.getByTestId('audit-recover-login')).toHaveCount(0);
  await dialog.getByRole('button', { name: 'Move aside and start a new log' }).click();
  await expect(dialog).toBeHidden();
  await expect(notice).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Recover…' })).toHaveCount(0);
  const recovered = page.getByTestId('audit-recovered');
  await expect(recovered).toContainText('The damaged log was moved to');
  const movedTo = (await recovered.locator('code').textContent()) ?? '';
  expect(movedTo).not.toBe('');
  // The damaged log is kept byte for byte where the screen says.
  const quarantined = join(dataDir, 'audit', movedTo, 'audit.log');
  expect(existsSync(quarantined)).toBe(true);
  expect(sha256(readFileSync(quarantined))).toBe(sha256(damaged));

  // The new log is intact, names the quarantine, and takes recorded actions again.
  await page.getByRole('button', { name: 'Verify the log' }).click();
  await expect(page.getByTestId('audit-verify-summary')).toContainText('The audit log is intact');
  await page.getByLabel('Action').fill('audit.recover');
  const grid = page.getByRole('grid', { name: 'Audit entries, newest first' });
  await grid.locator('[role=row][data-action="audit.recover"]').click();
  await expect(page.getByLabel('Entry details as JSON')).toContainText(movedTo);
  await openSection(page, 'Keys');
  await generateKey(page, { type: 'aes-256', label: 'after-recovery', purpose: 'Data encryption' });
});
