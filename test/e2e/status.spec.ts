import { expect, test } from './fixtures';

test('the app loads and shows its status screen', async ({ app, dataDir }) => {
  await expect(app.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  const card = app.getByTestId('status-card');
  await expect(card).toContainText('0.1.0');
  await expect(card).toContainText(dataDir);
  await expect(card).toContainText('Settings store');
  await expect(card).toContainText('OK');
});

test('the theme switches to dark and stays dark after a reload', async ({ app }) => {
  await app.getByLabel('Theme').selectOption('dark');
  await expect(app.locator('html')).toHaveAttribute('data-theme', 'dark');
  await app.reload();
  await expect(app.getByLabel('Theme')).toHaveValue('dark');
  await expect(app.locator('html')).toHaveAttribute('data-theme', 'dark');
  await app.getByLabel('Theme').selectOption('light');
  await expect(app.locator('html')).toHaveAttribute('data-theme', 'light');
});

test('the page runs under a strict CSP: no inline script executes', async ({ app }) => {
  const violations: string[] = [];
  app.on('console', (m) => m.type() === 'error' && violations.push(m.text()));
  const ran = await app.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.__inlineRan = true';
    document.head.appendChild(s);
    return (window as unknown as { __inlineRan?: boolean }).__inlineRan === true;
  });
  expect(ran).toBe(false);
  await expect.poll(() => violations.some((v) => v.includes('Content Security Policy'))).toBe(true);
});
