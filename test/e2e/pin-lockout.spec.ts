import { acquireOpenCryptoki, type OpenCryptokiToken } from '../helpers/opencryptoki';
import { expect, test as base } from './fixtures';
import { openSection } from './helpers/ui';

/**
 * The login dialog on a token with a real retry counter (openCryptoki's software token, re-made
 * for this test): few tries left, then final try, then locked, each in the dialog's alert, and
 * the token's card shows each flag as it goes. The swtok token is one per machine; the lock
 * keeps the vitest lockout test off it meanwhile.
 */
const test = base.extend<{ swtok: OpenCryptokiToken }>({
  // eslint-disable-next-line no-empty-pattern
  swtok: async ({}, use) => {
    const ock = await acquireOpenCryptoki();
    try {
      await use(await ock.remake('mkm-lockout-e2e'));
    } finally {
      ock.release();
    }
  },
  // The app holds sessions on the token until it stops, and while any are open the token cannot
  // be re-made: so the app's server depends on the token (through the library it is started
  // with), and stops before the lock is released.
  launchModules: async ({ swtok }, use) => {
    await use([swtok.modulePath]);
  },
});

test('the login dialog warns few tries left, then final try, then shows the lock', async ({
  app,
  swtok: token,
}) => {
  await openSection(app, 'Tokens');
  const library = app.getByRole('region', { name: /PKCS#11 library/ });
  await library.getByText('Use another library…').click();
  // Browser mode offers the library it was started with (--module) beside the well-known ones.
  await library.getByLabel('Installed libraries we know').selectOption(token.modulePath);
  await library.getByRole('button', { name: 'Use this library' }).click();
  await expect(library).toContainText('Meta PKCS11 LIBRARY');

  // Located by CSS, not role: while the modal dialog is open the page behind it is aria-hidden.
  const flags = app.locator('article', { hasText: 'mkm-lockout-e2e' }).locator('[aria-label="Token flags"]');
  await expect(flags).toContainText('Login required');
  await expect(flags).not.toContainText('PIN');

  const header = app.getByRole('group', { name: 'Token in use' });
  await expect(header).toContainText('mkm-lockout-e2e');
  await header.getByRole('button', { name: 'Log in…' }).click();
  const dialog = app.getByRole('dialog', { name: /Log in to mkm-lockout-e2e/ });
  const pin = dialog.getByLabel('User PIN', { exact: true });
  const alert = dialog.getByRole('alert');
  await expect(alert).toHaveCount(0);

  await pin.fill('0000');
  await pin.press('Enter');
  await expect(alert).toHaveAttribute('data-pin-warning', 'count-low');
  await expect(alert).toContainText('The PIN is incorrect. PIN_INCORRECT Few tries left');
  await expect(flags).toContainText('PIN count low');

  await pin.fill('1111');
  await pin.press('Enter');
  await expect(alert).toHaveAttribute('data-pin-warning', 'final-try');
  await expect(alert).toContainText('PIN_INCORRECT Final try: one more wrong PIN locks the token.');
  await expect(flags).toContainText('PIN final try');
  await expect(flags).not.toContainText('PIN count low');

  await pin.fill('2222');
  await pin.press('Enter');
  await expect(alert).toHaveAttribute('data-pin-warning', 'locked');
  await expect(alert).toContainText('That was the last try.');
  await expect(alert).toContainText('PIN_LOCKED');
  await expect(alert).toContainText('The user PIN is locked after too many wrong tries.');
  // Nothing more to type: the dialog offers no PIN field and no Log in button.
  await expect(pin).toHaveCount(0);
  await expect(dialog.getByRole('button', { name: 'Log in' })).toHaveCount(0);
  await expect(flags).toContainText('PIN locked');

  // Opened again later, the dialog says so from the token's flags alone.
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await header.getByRole('button', { name: 'Log in…' }).click();
  await expect(alert).toHaveAttribute('data-pin-warning', 'locked');
  await expect(pin).toHaveCount(0);
  expect(await app.content()).not.toContain(token.userPin);
});
