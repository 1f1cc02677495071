import { readFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { parse } from 'csv-parse/sync';
import { expect, test } from './fixtures';
import { layoutProblems } from './helpers/screens';
import { logInToDemo, startBatch } from './helpers/ui';

/**
 * Results a person can read (issue 15, point 6), in browser mode on the demo token and the local
 * demo sandbox: a batch lists every failed row with every problem of it, says "done" only when
 * nothing failed, and gives a rate only over a measurable time; the support bundle preview folds
 * by section and its search keeps the matching lines; the audit and report exports say where
 * the file went and what it holds.
 */

async function connectDemoGateway(app: Page): Promise<void> {
  await app.getByRole('tab', { name: 'Keys' }).click();
  await logInToDemo(app);
  await app.evaluate(async () => {
    const api = window.mkm;
    const slot = (await api.tokens.list()).find((s) => s.session.loggedIn)!;
    const transport = await api.keys.generate({
      slotId: slot.slotId,
      type: 'rsa-2048',
      label: 'results-transport',
      purpose: 'gateway-transport',
    });
    const sandbox = await api.gateway.startEmbeddedSandbox();
    await api.gateway.registerTransportKey({
      profileId: sandbox.profileId!,
      slotId: slot.slotId,
      keyId: transport.id,
    });
    await api.gateway.sync({ profileId: sandbox.profileId! });
  });
}

async function consoleTab(app: Page, tab: string) {
  await app.getByRole('tab', { name: 'Console' }).click();
  await app.getByRole('tab', { name: tab }).click();
  const panel = app.getByRole('tabpanel', { name: tab });
  await expect(panel).toBeVisible();
  return panel;
}

test('a batch lists every problem of every failed row, warns instead of "done", and gives no rate for a blink', async ({
  app,
}) => {
  test.setTimeout(120_000);
  await connectDemoGateway(app);
  const panel = await consoleTab(app, 'Batch');
  const download = app.waitForEvent('download');
  await startBatch(panel, 'cards.csv', [
    'id,number,exp,cvv',
    'fine,4111111111111111,12/30,123',
    'two-problems,4111111111111112,12/30,12',
    'bad-month,5555555555554444,13/30,123',
  ]);
  const summary = panel.getByRole('region', { name: 'Batch summary' });
  await expect(summary).toContainText('3 rows: 1 encrypted, 2 not encrypted', { timeout: 60_000 });

  // Not a green "done": the status says how many rows failed, in the warning colour.
  const badge = summary.locator('.badge').first();
  await expect(badge).toHaveText('done with 2 failed rows');
  await expect(badge).toHaveClass(/badge-warn/);

  // Every problem of each failed row, in the table.
  const table = summary.getByRole('table', { name: 'Rows not encrypted' });
  await expect(table.locator('tbody tr')).toHaveCount(2);
  const two = table.locator('tr[data-row="2"]');
  await expect(two).toContainText('two-problems');
  await expect(two.getByRole('listitem')).toHaveCount(2);
  await expect(two.getByRole('listitem').nth(0)).toContainText('Card number:');
  await expect(two.getByRole('listitem').nth(0)).toContainText('luhn');
  await expect(two.getByRole('listitem').nth(1)).toContainText('CVV / CSC:');
  await expect(two.getByRole('listitem').nth(1)).toContainText('length');
  await expect(table.locator('tr[data-row="3"]')).toContainText('Expiration:');

  // Three rows take milliseconds: the count and the time, no rows per second.
  const speed = summary.locator('.fact', { hasText: 'Speed' }).locator('dd');
  await expect(speed).toHaveText(/^3 rows in \d+ ms$/);

  // The output file holds the same problems.
  const saved = await download;
  const rows = parse(readFileSync((await saved.path())!, 'utf8'), { columns: true }) as Record<
    string,
    string
  >[];
  expect(rows[1]!.error).toMatch(/^number\.luhn: .*; csc\.length: /);
  expect(await layoutProblems(app)).toEqual([]);
});

test('the support bundle preview folds by section and its search keeps what matches', async ({ app }) => {
  const panel = await consoleTab(app, 'Support bundle');
  await panel.getByRole('button', { name: 'Build preview' }).click();
  const preview = panel.getByRole('region', { name: 'Bundle preview' });
  const sections = preview.locator('details.bundle-section[data-section]');
  await expect(sections.first()).toBeVisible();
  const count = await sections.count();
  expect(count).toBeGreaterThan(5);
  await expect(preview.locator('details.bundle-section[data-section][open]')).toHaveCount(0);

  // A section opens and closes; its values wrap (nothing runs off the side).
  const app_ = preview.locator('details[data-section="app"]');
  await app_.locator('summary').click();
  await expect(app_).toHaveAttribute('open', '');
  await expect(app_.locator('.bundle-line').first()).toBeVisible();
  expect(await layoutProblems(app)).toEqual([]);
  await app_.locator('summary').click();
  await expect(app_).not.toHaveAttribute('open', '');

  // Search: only the sections that hold a match, opened, with the matches marked.
  await preview.getByLabel('Search the bundle').fill('mkm-support-bundle');
  await expect(sections).toHaveCount(1);
  await expect(sections.first()).toHaveAttribute('data-section', 'bundle');
  await expect(sections.first()).toHaveAttribute('open', '');
  await expect(sections.first().locator('.bundle-line')).toHaveCount(1);
  await expect(sections.first().locator('mark')).toHaveText('mkm-support-bundle');
  await expect(preview.getByRole('status')).toHaveText('1 matching line in 1 section');
  await preview.getByLabel('Search the bundle').fill('');
  await expect(sections).toHaveCount(count);
});

test('the audit and report exports say where the file went and what it holds', async ({ app }) => {
  test.setTimeout(120_000);
  await app.getByRole('tab', { name: 'Audit' }).click();
  const [csv] = await Promise.all([
    app.waitForEvent('download'),
    app.getByRole('button', { name: 'Export CSV' }).click(),
  ]);
  const text = readFileSync((await csv.path())!, 'utf8');
  const entries = (parse(text, { columns: true }) as unknown[]).length;
  const said = app.getByRole('group', { name: 'Export' }).getByRole('status');
  await expect(said).toContainText(`Saved as ${csv.suggestedFilename()} in your downloads`);
  await expect(said).toContainText(
    `${entries} entr${entries === 1 ? 'y' : 'ies'}, CSV, ${Buffer.byteLength(text).toLocaleString('en-US')} bytes, the whole log.`,
  );

  await app.getByRole('tab', { name: 'Compliance' }).click();
  const [html] = await Promise.all([
    app.waitForEvent('download'),
    app.getByRole('button', { name: 'Export HTML' }).click(),
  ]);
  const status = app.getByTestId('pci-export-status');
  await expect(status).toContainText(`Saved as ${html.suggestedFilename()} in your downloads (HTML,`);
  await expect(status).toContainText(
    /the PCI DSS key-management report, \d+ met, \d+ needs attention, \d+ manual evidence, \d+ not applicable\./,
  );
});

test('a batch scheme the gateway cannot decrypt is started only after an explicit override', async ({
  app,
}) => {
  test.setTimeout(120_000);
  await connectDemoGateway(app);
  const panel = await consoleTab(app, 'Batch');
  // Unchosen, the scheme is the one the gateway's key advertises (OAEP for the demo sandbox).
  await expect(panel.getByLabel('Scheme')).toHaveValue('oaep');
  await panel.getByLabel('Input CSV').setInputFiles({
    name: 'override.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('id,number,exp,cvv\nfine,4111111111111111,12/30,123\n'),
  });
  await panel.getByLabel('Scheme').selectOption('paytrace');
  await expect(panel.getByTestId('batch-scheme-mismatch')).toContainText('will not decrypt there');
  const start = panel.getByRole('button', { name: 'Start batch' });
  await expect(start).toBeDisabled();
  await panel.getByLabel('Encrypt with this scheme anyway (recorded in the audit log)').check();
  const download = app.waitForEvent('download');
  await start.click();
  const summary = panel.getByRole('region', { name: 'Batch summary' });
  await expect(summary).toContainText('1 encrypted', { timeout: 60_000 });
  await download;
  const entries = await app.evaluate(() => window.mkm.audit.query({}));
  const batch = entries.entries.find((e) => e.action === 'console.batch');
  expect(batch?.details).toMatchObject({ scheme: 'paytrace', overrideScheme: true });
});
