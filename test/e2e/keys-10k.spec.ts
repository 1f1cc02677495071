import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test as base } from './fixtures';
import { seedSecretKeys } from './helpers/demo-token';
import { logInToDemo, openSection } from './helpers/ui';

/**
 * Ten thousand objects on the real demo token. They are put there through pkcs11js before the
 * app starts (in a RAM-backed folder where there is one: SoftHSM2 rewrites an object's file once
 * per attribute, which a disk makes slow), and the app finds the token as it would its own.
 */
const COUNT = 10_000;
/** The seeded objects, and whatever else is on the token (the app may keep a key of its own). */
const ALL = /^10,0\d\d of 10,0\d\d objects$/;

const test = base.extend<{ dataDir: string }>({
  dataDir: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'mkm-e2e-10k-'));
      const ms = seedSecretKeys(dir, COUNT);
      console.log(`seeded ${COUNT} objects in ${ms} ms`);
      await use(dir);
      rmSync(dir, { recursive: true, force: true });
    },
    { scope: 'test', timeout: 180_000 },
  ],
});

test('the key list stays usable with 10,000 objects: it renders a window of rows, searches and scrolls', async ({
  app,
}) => {
  test.setTimeout(120_000);
  await openSection(app, 'Keys');
  await logInToDemo(app);

  const started = Date.now();
  const grid = app.getByRole('grid', { name: 'Keys and objects on the token' });
  await expect(grid.getByRole('row', { name: /bulk 00000/ })).toBeVisible({ timeout: 30_000 });
  const renderMs = Date.now() - started;
  console.log(`10,000 objects listed and rendered in ${renderMs} ms`);
  await expect(app.getByTestId('key-count')).toHaveText(ALL);
  const rowCount = Number(await grid.getAttribute('aria-rowcount'));
  expect(rowCount).toBeGreaterThan(COUNT);

  const body = app.getByTestId('key-grid-body');
  const renderedRows = () => body.getByRole('row').count();
  expect(await renderedRows()).toBeLessThan(60);

  // Scrolling to the middle renders the rows there, and still only a window of them.
  await grid.evaluate((el) => (el.scrollTop = el.scrollHeight / 2));
  await expect(grid.getByRole('row', { name: /bulk 0500\d/ }).first()).toBeVisible();
  expect(await renderedRows()).toBeLessThan(60);
  await expect(grid.getByRole('row', { name: /bulk 00000/ })).toHaveCount(0);

  // The keyboard reaches the last row.
  await grid.focus();
  await app.keyboard.press('End');
  const selected = grid.locator('[role=row][aria-selected=true]');
  await expect(selected).toHaveAttribute('aria-rowindex', String(rowCount));
  await expect(selected).toBeVisible();
  await expect(
    app.getByRole('region', { name: (await selected.locator('.cell-label').textContent())! }),
  ).toBeVisible();
  expect(await renderedRows()).toBeLessThan(60);

  // Search finds one object by label, and by ID.
  const search = app.getByRole('searchbox', { name: 'Search keys by label or ID' });
  const typed = Date.now();
  await search.fill('bulk 04321');
  await expect(app.getByTestId('key-count')).toHaveText(/^1 of 10,0\d\d objects$/);
  console.log(`search answered in ${Date.now() - typed} ms`);
  await expect(body.getByRole('row')).toHaveCount(1);
  await expect(body.getByRole('row')).toContainText('bulk 04321');
  await search.fill((4321).toString(16).padStart(8, '0'));
  await expect(body.getByRole('row')).toHaveCount(1);
  await expect(body.getByRole('row')).toContainText('bulk 04321');
  await search.fill('');
  await expect(app.getByTestId('key-count')).toHaveText(ALL);
});
