import { faultyModuleAvailable } from '../helpers/faulty-module';
import { expect } from './fixtures';
import { FAULTY_SKIP_REASON, faultyTokenTest, logInToFaulty, useFaultyToken } from './helpers/faulty-token';
import { openSection } from './helpers/ui';

/**
 * A token that stops answering during a key generation and during a rotation (the
 * fault-injecting module over a SoftHSM2 token, as `mkm browser --module` loads it): the dialog
 * shows the operation's "Waiting on the token" message with a Cancel that abandons the call, and
 * the header says a token call is waiting for as long as main reports one (app.status).
 */
const test = faultyTokenTest('mkm-wait-e2e');

test('a token that stops answering in a key generation and a rotation: the dialog says so and Cancel ends it; the header follows', async ({
  app,
  hsm,
  faulty,
}, testInfo) => {
  test.skip(testInfo.project.name === 'electron' || !faultyModuleAvailable(), FAULTY_SKIP_REASON);
  test.setTimeout(120_000);
  await useFaultyToken(app, faulty, hsm);
  const header = app.getByRole('group', { name: 'Token in use' });
  const badge = app.getByTestId('token-waiting-badge');
  await expect(badge).toHaveCount(0);

  // A key generation whose C_GenerateKey never comes back (ten minutes, longer than the test).
  await openSection(app, 'Keys');
  faulty.control(['C_GenerateKey 1 stall 600000']);
  await app.getByRole('button', { name: 'Generate key…' }).click();
  const generate = app.getByRole('dialog', { name: 'Generate a key' });
  await generate.getByLabel('Type').selectOption('aes-256');
  await generate.getByLabel('Label').fill('wait-e2e-aes');
  await generate.getByRole('radio', { name: 'Data encryption' }).check();
  await generate.getByRole('button', { name: 'Generate', exact: true }).click();
  const wait = generate.getByTestId('token-wait');
  await expect(wait).toContainText(/Waiting on the token: no answer to generateKey for \d+ s/, {
    timeout: 30_000,
  });
  await expect(badge).toContainText('Token not answering: generateKey', { timeout: 10_000 });
  await wait.getByRole('button', { name: 'Cancel' }).click();
  await expect(generate.getByRole('alert')).toContainText('CANCELLED', { timeout: 20_000 });
  await expect(wait).toHaveCount(0);
  // Nothing waits any more: the header says so too.
  await expect(badge).toHaveCount(0, { timeout: 10_000 });
  await generate.getByRole('button', { name: 'Cancel' }).click();
  // The host that was stuck is gone; the new one needs the PIN again.
  await expect(header).toContainText('Logged out', { timeout: 20_000 });
  faulty.control([]);
  await logInToFaulty(app, hsm);

  // A rotation whose new version's C_GenerateKey never comes back.
  await app.evaluate(() => window.mkm.lifecycle.create({ name: 'wait-rotation', purpose: 'data' }));
  await app.getByRole('group', { name: 'Keys view' }).getByRole('button', { name: 'Managed keys' }).click();
  // Made through the API, behind the list's back: read the list again.
  await app.getByRole('button', { name: 'Refresh', exact: true }).click();
  await app
    .getByRole('table', { name: 'Managed keys' })
    .getByRole('button', { name: 'wait-rotation' })
    .click();
  const detail = app.getByRole('region', { name: 'Managed key wait-rotation' });
  faulty.control(['C_GenerateKey 1 stall 600000']);
  await detail.getByRole('button', { name: 'Rotate now…' }).click();
  const wizard = app.getByRole('dialog', { name: 'Rotate “wait-rotation”' });
  await wizard.getByRole('button', { name: 'Rotate to version 2' }).click();
  const rotationWait = wizard.getByTestId('token-wait');
  await expect(rotationWait).toContainText(/Waiting on the token: no answer to generateKey for \d+ s/, {
    timeout: 30_000,
  });
  await expect(badge).toContainText('Token not answering: generateKey', { timeout: 10_000 });
  await rotationWait.getByRole('button', { name: 'Cancel' }).click();
  await expect(wizard.getByRole('alert')).toContainText('CANCELLED', { timeout: 20_000 });
  await expect(rotationWait).toHaveCount(0);
  await expect(badge).toHaveCount(0, { timeout: 10_000 });
});
