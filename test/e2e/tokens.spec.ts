import { expect, test } from './fixtures';
import { loginDialog, logInToDemo, openSection } from './helpers/ui';

/** The Tokens screen on the real demo SoftHSM2 token (browser mode, no mocks). */
test('the token screen shows the library, its C_GetInfo, the demo token and its flags', async ({ app }) => {
  await openSection(app, 'Tokens');
  const library = app.getByRole('region', { name: /PKCS#11 library/ });
  await expect(library).toContainText('libsofthsm2.so');
  await expect(library).toContainText('SoftHSM');
  await expect(library).toContainText('2.40');
  await expect(library.getByText('DEMO', { exact: true })).toBeVisible();
  const demo = app.getByRole('article', { name: /MKM Demo/ });
  await expect(demo.getByText('DEMO', { exact: true })).toBeVisible();
  await expect(demo.getByText('Login required')).toBeVisible();
  await expect(app.getByRole('article', { name: /not initialized/ })).toContainText('Not initialized');
  // The header names the token in use on every screen.
  await expect(app.getByRole('group', { name: 'Token in use' })).toContainText('MKM Demo');

  // The page chooses among libraries main knows; browser mode says how to offer another one.
  await library.getByText('Use another library…').click();
  await expect(library.getByLabel('Installed libraries we know')).toContainText('SoftHSM2');
  await expect(library.getByLabel('Library file (full path)')).toHaveCount(0);
  await expect(library).toContainText('--module /path/to/library.so');
  await expect(library.getByRole('button', { name: 'Browse…' })).toHaveCount(0);
  await library.getByText('Advanced').click();
  await expect(library.getByLabel('Library parameters')).toBeVisible();
  // A page that names a file itself is refused with its code, and the demo stays loaded.
  const refused = await app.evaluate(async () => {
    const api = window.mkm as unknown as {
      tokens: { selectModule(r: { path: string }): Promise<unknown> };
    };
    try {
      await api.tokens.selectModule({ path: '/usr/lib/x86_64-linux-gnu/libc.so.6' });
      return 'accepted';
    } catch (e) {
      return (e as { code?: string }).code ?? 'no code';
    }
  });
  expect(refused).toBe('MODULE_NOT_ALLOWED');
  const after = await app.evaluate(async () => {
    const api = window.mkm as unknown as {
      tokens: { modules(): Promise<{ path: string | null; info: unknown; demo: boolean }> };
    };
    const m = await api.tokens.modules();
    return { path: m.path, loaded: m.info !== null, demo: m.demo };
  });
  expect(after).toMatchObject({ demo: true, loaded: true });
  expect(after.path).toContain('libsofthsm2.so');
});

test('a wrong PIN shows the tries warning; then the right PIN logs in, and logout logs out', async ({
  app,
}) => {
  await openSection(app, 'Tokens');
  const header = app.getByRole('group', { name: 'Token in use' });
  await header.getByRole('button', { name: 'Log in…' }).click();
  const dialog = loginDialog(app);
  const pin = dialog.getByLabel('User PIN', { exact: true });
  await expect(pin).toHaveAttribute('type', 'password');
  await expect(pin).toBeFocused();

  // Escape closes the dialog; nothing typed survives it.
  await pin.fill('999999');
  await app.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await header.getByRole('button', { name: 'Log in…' }).click();
  await expect(pin).toHaveValue('');

  // The reveal toggle unmasks and masks again.
  await pin.fill('0000');
  await dialog.getByRole('button', { name: 'Show User PIN' }).click();
  await expect(pin).toHaveAttribute('type', 'text');
  await dialog.getByRole('button', { name: 'Hide User PIN' }).click();
  await expect(pin).toHaveAttribute('type', 'password');

  await pin.press('Enter');
  const warning = dialog.getByRole('alert');
  await expect(warning).toContainText('The PIN is incorrect.');
  await expect(warning).toContainText('PIN_INCORRECT');
  await expect(warning).toHaveAttribute('data-pin-warning', /count-low|final-try/);
  await expect(pin).toHaveValue('');
  // The token's flags say so on the Tokens screen too.
  await expect(app.locator('article', { hasText: 'MKM Demo' }).getByText('PIN count low')).toBeAttached();

  await pin.fill('123456');
  await pin.press('Enter');
  await expect(dialog).toBeHidden();
  await expect(header).toContainText('Logged in');
  await expect(app.getByRole('article', { name: /MKM Demo/ }).getByText('Logged in')).toBeVisible();

  await header.getByRole('button', { name: 'Log out' }).click();
  await expect(header).toContainText('Logged out');
});

test('security-officer steps say what will happen before they ask for PINs', async ({ app }) => {
  await openSection(app, 'Tokens');
  await logInToDemo(app);
  await app.getByRole('button', { name: 'Initialize token…' }).click();
  const confirm = app.getByRole('alertdialog', { name: 'Initialize (erase) the token' });
  await expect(confirm).toContainText('Every key, certificate and object on “MKM Demo”');
  await expect(confirm).toContainText('cannot be undone');
  await app.keyboard.press('Escape');
  await expect(confirm).toBeHidden();

  await app.getByRole('button', { name: 'Change user PIN…' }).click();
  const change = app.getByRole('alertdialog', { name: 'Change the user PIN' });
  await change.getByLabel('Current user PIN', { exact: true }).fill('123456');
  await change.getByLabel('New user PIN', { exact: true }).fill('654321');
  await change.getByLabel('New user PIN again', { exact: true }).fill('654320');
  await change.getByRole('button', { name: 'Change PIN' }).click();
  await expect(change.getByRole('alert')).toContainText('The two new PINs differ');
  await expect(change.getByLabel('Current user PIN', { exact: true })).toHaveValue('');
  await change.getByRole('button', { name: 'Cancel' }).click();
  await expect(change).toBeHidden();

  // On the empty slot, initialize a token for real, then give it a user PIN.
  await app.getByRole('radio', { name: /Work with Slot \d+ \(not initialized\)/ }).check();
  await app.getByRole('button', { name: 'Initialize token…' }).click();
  const init = app.getByRole('alertdialog', { name: 'Initialize (erase) the token' });
  await init.getByLabel('Security officer PIN', { exact: true }).fill('87654321');
  await init.getByLabel(/New token label/).fill('E2E Second');
  await init.getByLabel(/I understand/).check();
  await init.getByRole('button', { name: 'Erase and initialize' }).click();
  await expect(init).toBeHidden();
  const second = app.locator('article', { hasText: 'E2E Second' });
  await expect(second).toBeVisible();
  await expect(second.getByText('User PIN not set')).toBeVisible();
  await app.getByRole('radio', { name: 'Work with E2E Second' }).check();
  await app.getByRole('button', { name: 'Set user PIN (security officer)…' }).click();
  const setPin = app.getByRole('alertdialog', { name: 'Set a new user PIN' });
  await expect(setPin).toContainText('“E2E Second”');
  await setPin.getByLabel('Security officer PIN', { exact: true }).fill('87654321');
  await setPin.getByLabel('New user PIN', { exact: true }).fill('24682468');
  await setPin.getByLabel('New user PIN again', { exact: true }).fill('24682468');
  await setPin.getByRole('button', { name: 'Set user PIN' }).click();
  await expect(setPin).toBeHidden();
  await expect(second.getByText('User PIN not set')).toHaveCount(0);
});
