import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { faultyModuleAvailable } from '../helpers/faulty-module';
import { expect } from './fixtures';
import { FAULTY_SKIP_REASON, faultyTokenTest, useFaultyToken } from './helpers/faulty-token';

/**
 * A token that stalls in the middle of a console batch (the fault-injecting module over a
 * SoftHSM2 token, as `mkm browser --module` would load it): the batch's progress says it waits
 * on the token, Cancel ends the batch, and the connection to the token is restarted (the admin
 * is asked to log in again).
 */
const test = faultyTokenTest('mkm-stall-e2e');

test('a token that stalls mid-batch: the progress says it waits on the token, and Cancel ends the batch', async ({
  app,
  hsm,
  faulty,
}, testInfo) => {
  test.skip(testInfo.project.name === 'electron' || !faultyModuleAvailable(), FAULTY_SKIP_REASON);
  await useFaultyToken(app, faulty, hsm);
  const header = app.getByRole('group', { name: 'Token in use' });

  // The batch's key, through the app's own API (the Keys screen is not what is tested here).
  const keyId = await app.evaluate(async (label) => {
    const api = window.mkm;
    const slot = (await api.tokens.list()).find((s) => s.session.loggedIn)!;
    return (await api.keys.generate({ slotId: slot.slotId, type: 'aes-256', label, purpose: 'data' })).id;
  }, 'stall-e2e-aes');

  const files = mkdtempSync(join(tmpdir(), 'mkm-e2e-stall-'));
  try {
    const lines = ['id,number,exp,cvv'];
    for (let i = 0; i < 3000; i++) lines.push(`r${i},4111111111111111,12/30,123`);
    const input = join(files, 'cards.csv');
    writeFileSync(input, lines.join('\n') + '\n');
    // The 1,500th encryption never comes back (ten minutes, longer than the test).
    faulty.control(['C_Encrypt 1500 stall 600000']);

    await app.getByRole('tab', { name: 'Console' }).click();
    await app.getByRole('tab', { name: 'Batch' }).click();
    await app.getByLabel('Input CSV').setInputFiles(input);
    await app.getByLabel('Scheme').last().selectOption('aes');
    await app.getByLabel('Token AES-256 key id (CKA_ID, hex)').fill(keyId);
    await app.getByRole('button', { name: 'Start batch' }).click();

    const progress = app.getByRole('status').filter({ hasText: /Waiting on the token/ });
    await expect(progress).toContainText(/Waiting on the token: no answer to encryptBatch for \d+ s/, {
      timeout: 30_000,
    });
    await app.getByRole('button', { name: 'Cancel' }).click();
    const summary = app.getByRole('region', { name: 'Batch summary' });
    await expect(summary).toContainText('cancelled');
    await expect(summary).toContainText('not every row is in it');
    // The host that was stuck in the token is gone; the new one needs the PIN again.
    const banners = app.getByTestId('token-banner');
    await expect(
      banners.filter({ hasText: /Reconnected to the token|connection to the token was lost/ }).first(),
    ).toBeVisible({ timeout: 20_000 });
    await expect(header).toContainText('Logged out', { timeout: 20_000 });
  } finally {
    rmSync(files, { recursive: true, force: true });
  }
});
