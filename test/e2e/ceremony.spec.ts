import AxeBuilder from '@axe-core/playwright';
import { expect, type Page } from '@playwright/test';
import { test } from './fixtures';
import {
  ADMIN,
  CARL,
  ceremonyScreen as screen,
  CORA,
  currentStep,
  enrol,
  openCeremonyWithSigner,
  PEOPLE,
  prove,
  stepPanel,
  WITNESS,
} from './helpers/ceremony';
import { applyTheme, THEMES } from './helpers/screens';

/**
 * A form-key ceremony on the demo SoftHSM2 token in browser mode, through the Ceremony screen as
 * the room uses it: reviewed with its hash, started, four people enrolled, the air-gap preflight
 * overridden (this machine has a network interface up), everyone identified, and the first
 * custodian's masked component field. The component steps themselves run on the token host
 * process; the full two-custodian flow, through the key formed on the token, is the last test.
 */

// The known TDES key of issue 11 (every byte of odd parity), as custodian 1 types it.
const COMPONENT_1 = '0123456789ABCDEFFEDCBA9876543210';
// Custodian 2's: the issue's second known key with each byte set to odd parity, as a real component has.
const COMPONENT_2 = 'F138131AEC83D36B169BDCD5B32AAE8F';

/** Logs in, makes a transcript signing key, and starts a 2-component TDES form-key ceremony. */
async function startFormKey(app: Page): Promise<{ scriptHash: string }> {
  await openCeremonyWithSigner(app, 'ceremony-signer-e2e');
  await expect(screen(app).getByText('No ceremony yet')).toBeVisible();

  const card = screen(app).getByRole('region', { name: 'New ceremony' });
  await card.getByLabel('Template').selectOption('form-key');
  await card.getByLabel('Key type').selectOption('tdes-2key');
  await card.getByLabel('Components').fill('2');
  await card.getByLabel('Label').fill('zmk-e2e');
  await card.getByLabel('Purpose').selectOption('kek');
  await expect(card.getByLabel('Transcript signing key')).toContainText('ceremony-signer-e2e');
  await card.getByRole('button', { name: 'Review the script' }).click();

  const review = card.getByRole('region', { name: 'Script for review' });
  await expect(review.getByRole('heading')).toHaveText('Form TDES (2-key) key “zmk-e2e” from 2 components');
  // Preflight, identify, two components, form the key, sign-off: each with who does it.
  await expect(review.getByRole('listitem')).toHaveCount(6);
  await expect(review.getByRole('listitem').nth(2)).toContainText('Custodian 1 enters component 1');
  await expect(review.getByRole('listitem').nth(2)).toContainText('Custodian');
  // The hash shown is the engine's for these parameters, in groups of four and as 32 words.
  const expected = await app.evaluate(
    async () =>
      (
        await window.mkm.ceremony.review({
          template: 'form-key',
          keyType: 'tdes-2key',
          components: 2,
          label: 'zmk-e2e',
          purpose: 'kek',
        })
      ).scriptHash,
  );
  const shown = (await review.getByTestId('script-hash').textContent())!;
  expect(shown.replace(/ /g, '').toLowerCase()).toBe(expected);
  expect(shown).toMatch(/^([0-9A-F]{4} ){15}[0-9A-F]{4}$/);
  expect((await review.getByTestId('script-hash-words').textContent())!.split(' ')).toHaveLength(32);

  await review.getByRole('button', { name: 'Start the ceremony' }).click();
  await expect(screen(app).getByRole('heading', { name: /Form TDES \(2-key\) key “zmk-e2e”/ })).toBeVisible();
  await expect(screen(app).getByTestId('ceremony-script-hash')).toHaveText(shown);
  return { scriptHash: expected };
}

/** Start, enrol four, preflight with the override, identify: what runs on every branch today. */
async function upToFirstComponent(app: Page): Promise<void> {
  await startFormKey(app);
  await expect(currentStep(app)).toHaveAttribute('data-step', 'preflight');
  await expect(screen(app).getByText('Nobody is identified yet')).toBeVisible();

  // Two different passphrases are refused in the page, before anything is sent.
  await enrol(app, ADMIN, 'not the same');
  const form = screen(app).getByRole('form', { name: 'Enrol a participant' });
  await expect(form.getByRole('alert')).toContainText('The two passphrases differ');
  await expect(form.getByLabel('Passphrase', { exact: true })).toHaveValue('');
  for (const person of PEOPLE) {
    await enrol(app, person);
  }
  await expect(screen(app).getByText('Everyone the script needs is identified.')).toBeVisible();

  // The machine has an interface up: the preflight is refused with the sentence and its code,
  // naming the interfaces, and then run with an override the transcript keeps.
  const panel = stepPanel(app);
  await prove(panel, ADMIN, WITNESS);
  await panel.getByRole('button', { name: 'Run the preflight' }).click();
  await expect(panel.getByRole('alert')).toContainText('CEREMONY_AIR_GAP');
  await expect(panel.getByRole('alert')).toContainText('A network interface other than loopback is up');
  await expect(panel.getByTestId('preflight-interfaces')).not.toBeEmpty();
  // The passphrases were blanked when read: they are typed again.
  await expect(panel.getByLabel('Passphrase of who does it', { exact: true })).toHaveValue('');
  await panel.getByRole('checkbox', { name: /Record an override/ }).check();
  await panel.getByLabel(/Reason for the override/).fill('E2E runner: container with a virtual NIC');
  await prove(panel, ADMIN, WITNESS);
  await panel.getByRole('button', { name: 'Run the preflight with the override' }).click();
  await expect(currentStep(app)).toHaveAttribute('data-step', 'identify');
  // What the preflight checked, as the transcript records it: the override and its reason too.
  const checked = stepPanel(app).getByTestId('last-step');
  await expect(checked).toContainText('E2E runner: container with a virtual NIC');
  await expect(checked).toContainText('tokenSerial');
  await expect(checked).toContainText('appBuildHash');
  const steps = screen(app).getByRole('list', { name: 'Ceremony steps' });
  await expect(steps.locator('[data-step="preflight"]')).toContainText(
    'Done by Alice Admin and Walter Witness',
  );

  // The same person cannot act and confirm.
  await prove(stepPanel(app), ADMIN, ADMIN);
  await stepPanel(app).getByRole('button', { name: 'Everyone is identified' }).click();
  await expect(stepPanel(app).getByRole('alert')).toContainText('CEREMONY_DUAL_CONTROL');
  await prove(stepPanel(app), ADMIN, WITNESS);
  await stepPanel(app).getByRole('button', { name: 'Everyone is identified' }).click();
  await expect(currentStep(app)).toHaveAttribute('data-step', 'enter-component-1');
}

test('a form-key ceremony: reviewed with its hash, four people enrolled, preflight overridden, identified; component 1 waits masked', async ({
  app,
}) => {
  await upToFirstComponent(app);

  const panel = stepPanel(app);
  const field = panel.getByLabel('Component 1', { exact: true });
  await expect(field).toHaveAttribute('type', 'password');
  await expect(panel.getByLabel('Done by')).toHaveText(CORA.option);

  // A digit mistyped at the end gives byte 16 even parity: named by position, not sendable.
  await field.fill(COMPONENT_1.slice(0, -1) + '1');
  await expect(panel.getByRole('alert')).toContainText('even parity in byte 16 (digits 31 and 32)');
  await expect(panel.getByRole('button', { name: 'Enter component 1' })).toBeDisabled();
  await field.fill(COMPONENT_1);
  await expect(panel.getByRole('alert')).toHaveCount(0);
  await expect(panel.getByTestId('component-checksum')).toHaveText(/^[0-9A-F]{2}$/);
  await expect(panel.getByRole('button', { name: 'Enter component 1' })).toBeEnabled();
  // Shown on request, grouped by four as the sheet prints it; masked again on Hide.
  await panel.getByRole('button', { name: 'Show component 1' }).click();
  await expect(field).toHaveAttribute('type', 'text');
  await expect(field).toHaveValue('0123 4567 89AB CDEF FEDC BA98 7654 3210');
  await panel.getByRole('button', { name: 'Hide component 1' }).click();
  await expect(field).toHaveAttribute('type', 'password');
  // Nothing of it in the page's storage.
  const stored = await app.evaluate(
    () => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }),
  );
  expect(stored).not.toMatch(/0123|89AB|FEDC/i);

  // Abort asks first; cancelled from the keyboard, focus goes back to the button that opened it.
  const abortButton = screen(app).getByRole('button', { name: 'Abort the ceremony…' });
  await abortButton.focus();
  await app.keyboard.press('Enter');
  const confirm = app.getByRole('alertdialog', { name: 'Abort this ceremony?' });
  await expect(confirm).toContainText('cannot be resumed');
  await app.keyboard.press('Escape');
  await expect(confirm).toBeHidden();
  await expect(abortButton).toBeFocused();

  // Nothing serious or critical for axe on the running ceremony, light and dark.
  for (const theme of THEMES) {
    await applyTheme(app, theme);
    const { violations } = await new AxeBuilder({ page: app })
      .include('[role="tabpanel"]:not([hidden])')
      .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
      .analyze();
    const serious = violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')}`));
    expect.soft(serious, theme).toEqual([]);
  }
  await applyTheme(app, 'light');

  // The list shows it running, where it stands.
  await screen(app).getByRole('button', { name: '← All ceremonies' }).click();
  const list = screen(app).getByRole('table', { name: 'Ceremonies' });
  await expect(list).toContainText('running');
  await expect(list).toContainText('2 of 6 steps done; next: Custodian 1 enters component 1');
  await list.getByRole('button', { name: /^Resume / }).click();
  await expect(currentStep(app)).toHaveAttribute('data-step', 'enter-component-1');
  await expect(stepPanel(app).getByLabel('Component 1', { exact: true })).toHaveValue('');
});

test('an aborted ceremony: the transcript is signed, downloaded as .mkmx and verified', async ({ app }) => {
  await startFormKey(app);
  await enrol(app, ADMIN);
  await enrol(app, WITNESS);
  await screen(app).getByRole('button', { name: 'Abort the ceremony…' }).click();
  const confirm = app.getByRole('alertdialog', { name: 'Abort this ceremony?' });
  await confirm.getByLabel('Reason').fill('The second custodian is not available today');
  await confirm.getByLabel('Aborted by').selectOption({ label: WITNESS.option });
  // A wrong passphrase is refused with its sentence and code; nothing is aborted.
  await confirm.getByLabel('Their passphrase', { exact: true }).fill('not the witness');
  await confirm.getByRole('button', { name: 'Abort the ceremony' }).click();
  await expect(confirm.getByRole('alert')).toContainText('CEREMONY_AUTH_FAILED');
  await expect(confirm.getByRole('alert')).toContainText('The passphrase does not match');
  await confirm.getByLabel('Their passphrase', { exact: true }).fill(WITNESS.pass);
  await confirm.getByRole('button', { name: 'Abort the ceremony' }).click();
  await expect(confirm).toBeHidden();
  await expect(screen(app).getByRole('heading', { name: /zmk-e2e/ })).toContainText('aborted');
  await expect(screen(app).getByTestId('transcript-head-words')).not.toBeEmpty();
  // Over: no step form, no exception or abort any more.
  await expect(screen(app).getByRole('region', { name: /^Now:/ })).toHaveCount(0);
  await expect(screen(app).getByRole('button', { name: 'Abort the ceremony…' })).toHaveCount(0);

  const download = app.waitForEvent('download');
  await screen(app).getByRole('button', { name: 'Download the signed transcript (.mkmx)' }).click();
  const saved = await download;
  expect(saved.suggestedFilename()).toMatch(/^ceremony-form-key-\d{4}-\d{2}-\d{2}-[0-9a-f]{8}\.mkmx$/);
  await expect(screen(app).getByRole('status').filter({ hasText: 'in your downloads' })).toBeVisible();
  const file = await saved.path();

  await screen(app).getByRole('button', { name: '← All ceremonies' }).click();
  await expect(screen(app).getByRole('table', { name: 'Ceremonies' })).toContainText('aborted');
  const verify = screen(app).getByRole('region', { name: 'Verify a transcript' });
  await verify.getByLabel('Transcript file (.mkmx)').setInputFiles(file);
  await expect(verify.getByTestId('transcript-verified')).toBeVisible();
  await expect(verify.getByRole('definition').filter({ hasText: /^aborted$/ })).toBeVisible();
  await expect(verify).toContainText('Alice Admin (administrator), Walter Witness (witness)');

  // A transcript altered after signing is refused with the code of the check it fails.
  const { readFileSync } = await import('node:fs');
  const text = readFileSync(file, 'utf8').replace('The second custodian', 'The first custodian');
  await verify.getByLabel('Transcript file (.mkmx)').setInputFiles({
    name: 'altered.mkmx',
    mimeType: 'application/json',
    buffer: Buffer.from(text),
  });
  await expect(verify.getByRole('alert')).toContainText(/TRANSCRIPT_[A-Z_]+/);
  await expect(verify.getByTestId('transcript-verified')).toHaveCount(0);
});

test('a two-custodian form-key ceremony: each component entered masked, KCVs compared, screen cleared, key formed, signed off, transcript verified', async ({
  app,
}) => {
  await upToFirstComponent(app);

  for (const [index, custodian, component] of [
    [1, CORA, COMPONENT_1],
    [2, CARL, COMPONENT_2],
  ] as const) {
    const panel = stepPanel(app);
    await expect(currentStep(app)).toHaveAttribute('data-step', `enter-component-${index}`);
    await prove(panel, custodian, WITNESS);
    const field = panel.getByLabel(`Component ${index}`, { exact: true });
    await expect(field).toHaveAttribute('type', 'password');
    await field.fill(component);
    await panel.getByRole('button', { name: `Enter component ${index}` }).click();
    // The token's check values for the custodian to compare with the sheet; the field is gone.
    const kcv = panel.getByTestId('component-kcv');
    // The component's check value first, upper case as every KCV in mkm.
    await expect(kcv.getByRole('definition').first()).toHaveText(/^[0-9A-F]{6}$/);
    await expect(panel.getByLabel(`Component ${index}`, { exact: true })).toHaveCount(0);
    await kcv.getByRole('button', { name: /The check value matches/ }).click();
    // Nothing of this component is left for the next custodian.
    const html = await screen(app).innerHTML();
    expect(html).not.toContain(component.slice(0, 8));
    expect(html).not.toContain(component.slice(0, 4) + ' ' + component.slice(4, 8));
  }

  // The same custodian cannot enter a second component was checked by the engine's tests; here
  // the administrator forms the key with the witness.
  await expect(currentStep(app)).toHaveAttribute('data-step', 'form-key');
  await prove(stepPanel(app), ADMIN, WITNESS);
  await stepPanel(app).getByRole('button', { name: 'Do this step' }).click();
  await expect(currentStep(app)).toHaveAttribute('data-step', 'sign-off');
  // The formed TDES key of these two components (payShield sets odd parity) is recorded by KCV.
  await expect(screen(app).getByRole('region', { name: 'Recorded so far' })).toContainText(/kcv/i);

  // A witness exception at any time, recorded in the transcript.
  await screen(app).getByRole('button', { name: 'Record an exception…' }).click();
  const exception = app.getByRole('dialog', { name: 'Record an exception' });
  await exception.getByLabel('Exception').fill('Custodian 2 arrived ten minutes late');
  await exception.getByLabel('Witness passphrase', { exact: true }).fill(WITNESS.pass);
  await exception.getByRole('button', { name: 'Record exception' }).click();
  await expect(exception).toBeHidden();
  await expect(screen(app).getByRole('button', { name: 'Record an exception…' })).toBeFocused();

  for (const person of PEOPLE) {
    const panel = stepPanel(app);
    await panel.getByLabel('Who signs off').selectOption({ label: person.option });
    await panel.getByLabel('Their passphrase', { exact: true }).fill(person.pass);
    await panel.getByRole('button', { name: 'Sign off' }).click();
    if (person !== CARL) await expect(panel).toContainText(`Signed off: ${PEOPLE.indexOf(person) + 1} of 4`);
  }
  await expect(screen(app).getByRole('heading', { name: /zmk-e2e/ })).toContainText('completed');

  const download = app.waitForEvent('download');
  await screen(app).getByRole('button', { name: 'Download the signed transcript (.mkmx)' }).click();
  const file = await (await download).path();
  await screen(app).getByRole('button', { name: '← All ceremonies' }).click();
  await screen(app).getByLabel('Transcript file (.mkmx)').setInputFiles(file);
  await expect(screen(app).getByTestId('transcript-verified')).toBeVisible();
  await expect(screen(app).getByRole('definition').filter({ hasText: 'completed' })).toBeVisible();
});
