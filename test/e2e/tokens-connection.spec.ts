import { readFileSync } from 'node:fs';
import { expect, test } from './fixtures';
import { logInToDemo, openSection } from './helpers/ui';

/** The PKCS#11 host: the child of the browser-mode process (which we started) that runs host.host. */
function hostProcesses(pid: number): number[] {
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return '';
    }
  };
  return read(`/proc/${pid}/task/${pid}/children`)
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((child) => /host\.host\.|host\.js|hsm-host/.test(read(`/proc/${child}/cmdline`)));
}

test('when the token host dies the UI says so, reconnects, and asks to log in again', async ({
  app,
  server,
}, testInfo) => {
  test.skip(
    testInfo.project.name === 'electron' || process.platform !== 'linux',
    'needs the browser-mode child',
  );
  await openSection(app, 'Keys');
  await logInToDemo(app);
  await expect(app.getByTestId('key-count')).toHaveText(/^\d+ of \d+ objects$/);

  // The PKCS#11 host is the browser-mode process's child: kill it as a crashing vendor library would.
  const hosts = hostProcesses(server!.child.pid!);
  expect(hosts.length).toBeGreaterThan(0);
  for (const pid of hosts) process.kill(pid, 'SIGKILL');

  const banners = app.getByTestId('token-banner');
  await expect(
    banners.filter({ hasText: /Reconnected to the token|connection to the token was lost/ }).first(),
  ).toBeVisible({
    timeout: 20_000,
  });
  const header = app.getByRole('group', { name: 'Token in use' });
  await expect(header).toContainText('Logged out', { timeout: 20_000 });
  await expect(app.getByText('Log in to see and use the token’s private and secret keys')).toBeVisible();
  // The banner offers to log in again, and that works.
  await banners.getByRole('button', { name: 'Log in…' }).first().click();
  const dialog = app.getByRole('dialog', { name: /Log in to MKM Demo/ });
  await dialog.getByLabel('User PIN', { exact: true }).fill('123456');
  await dialog.getByLabel('User PIN', { exact: true }).press('Enter');
  await expect(header).toContainText('Logged in');
});
