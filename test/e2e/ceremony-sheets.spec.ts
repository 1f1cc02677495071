import { expect, type Locator, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { filesUnder } from '../helpers/scan';
import { test } from './fixtures';
import { logInToDemo } from './helpers/ui';

/**
 * A split-key ceremony on the demo token in browser mode, to the first custodian's reveal: the
 * component sheet is made in the page from the revealed component and printed from there (the
 * page's own print, stubbed here to count), it goes when the screen is cleared, and nothing of
 * the component lands in the data folder. Then the transcript prints as HTML and PDF.
 */

const PEOPLE = [
  { name: 'Alice Admin', role: 'Administrator', option: 'Alice Admin (administrator)', pass: 'admin pass 1' },
  { name: 'Walter Witness', role: 'Witness', option: 'Walter Witness (witness)', pass: 'witness pass 2' },
  { name: 'Cora One', role: 'Custodian', option: 'Cora One (custodian 1)', pass: 'custodian pass 3' },
  { name: 'Carl Two', role: 'Custodian', option: 'Carl Two (custodian 2)', pass: 'custodian pass 4' },
] as const;
const [ADMIN, WITNESS, CORA] = PEOPLE;
type Person = (typeof PEOPLE)[number];

const screen = (app: Page) => app.getByRole('tabpanel', { name: 'Ceremony' });
const stepPanel = (app: Page) => screen(app).getByRole('region', { name: /^Now:/ });
const currentStep = (app: Page) =>
  screen(app).getByRole('list', { name: 'Ceremony steps' }).locator('[aria-current="step"]');

async function prove(step: Locator, actor: Person, confirmer: Person): Promise<void> {
  await step.getByLabel('Done by').selectOption({ label: actor.option });
  await step.getByLabel('Passphrase of who does it', { exact: true }).fill(actor.pass);
  await step.getByLabel('Confirmed by').selectOption({ label: confirmer.option });
  await step.getByLabel('Passphrase of who confirms', { exact: true }).fill(confirmer.pass);
}

async function startSplitKey(app: Page): Promise<void> {
  await app.getByRole('tab', { name: 'Keys' }).click();
  await logInToDemo(app);
  await app.evaluate(async () => {
    const slot = (await window.mkm.tokens.list()).find((s) => s.session.loggedIn)!;
    await window.mkm.keys.generate({
      slotId: slot.slotId,
      type: 'rsa-2048',
      label: 'ceremony-signer-sheets',
      purpose: 'signing',
    });
  });
  await app.reload();
  await expect(app.getByRole('group', { name: 'Token in use' })).toContainText('Logged in');
  await app.getByRole('tab', { name: 'Ceremony' }).click();
  const card = screen(app).getByRole('region', { name: 'New ceremony' });
  await card.getByLabel('Template').selectOption('split-key');
  await card.getByLabel('Key type').selectOption('tdes-2key');
  await card.getByLabel('Components').fill('2');
  await card.getByLabel('Label').fill('zmk-sheets');
  await card.getByLabel('Purpose').selectOption('kek');
  await expect(card.getByLabel('Transcript signing key')).toContainText('ceremony-signer-sheets');
  await card.getByRole('button', { name: 'Review the script' }).click();
  await card.getByRole('button', { name: 'Start the ceremony' }).click();
  await expect(currentStep(app)).toHaveAttribute('data-step', 'preflight');

  for (const person of PEOPLE) {
    const form = screen(app).getByRole('form', { name: 'Enrol a participant' });
    await form.getByLabel('Name').fill(person.name);
    await form.getByLabel('Role').selectOption({ label: person.role });
    await form.getByLabel('Passphrase', { exact: true }).fill(person.pass);
    await form.getByLabel('Passphrase again', { exact: true }).fill(person.pass);
    await form.getByRole('checkbox').check();
    await form.getByRole('button', { name: /^Enrol as/ }).click();
    await expect(screen(app).getByRole('table', { name: 'Participants' })).toContainText(person.name);
  }
  // The runner has a network interface up: the preflight runs with a recorded override.
  await prove(stepPanel(app), ADMIN, WITNESS);
  await stepPanel(app).getByRole('button', { name: 'Run the preflight' }).click();
  await expect(stepPanel(app).getByRole('alert')).toContainText('CEREMONY_AIR_GAP');
  await stepPanel(app)
    .getByRole('checkbox', { name: /Record an override/ })
    .check();
  await stepPanel(app)
    .getByLabel(/Reason for the override/)
    .fill('E2E runner: container with a virtual NIC');
  await prove(stepPanel(app), ADMIN, WITNESS);
  await stepPanel(app).getByRole('button', { name: 'Run the preflight with the override' }).click();
  await expect(currentStep(app)).toHaveAttribute('data-step', 'identify');
  await prove(stepPanel(app), ADMIN, WITNESS);
  await stepPanel(app).getByRole('button', { name: 'Everyone is identified' }).click();
  await expect(currentStep(app)).toHaveAttribute('data-step', 'generate-key');
  await prove(stepPanel(app), ADMIN, WITNESS);
  await stepPanel(app).getByRole('button', { name: 'Do this step' }).click();
  await expect(currentStep(app)).toHaveAttribute('data-step', 'reveal-component-1');
}

test('a revealed component’s sheet is printed from the page and dropped with it; nothing of it reaches the data folder', async ({
  app,
  dataDir,
}) => {
  await startSplitKey(app);
  // The page's print is counted, not run (headless Chromium has no printer).
  await app.evaluate(() => {
    (window as unknown as { printed: number }).printed = 0;
    window.print = () => {
      (window as unknown as { printed: number }).printed++;
    };
  });
  const panel = stepPanel(app);
  await prove(panel, CORA, WITNESS);
  await panel.getByRole('button', { name: 'Reveal component 1 to custodian 1' }).click();
  const revealed = screen(app).getByTestId('revealed-component');
  await expect(revealed).toHaveText(/^([0-9A-F]{4} ){7}[0-9A-F]{4}$/);
  const component = (await revealed.textContent())!;

  // The sheet holds what the screen shows, the check values and the ceremony, only on paper.
  const sheet = screen(app).getByTestId('component-sheet');
  await expect(sheet).toBeHidden();
  await expect(sheet).toContainText('Key component 1 of 2');
  await expect(sheet).toContainText(component);
  await expect(sheet).toContainText('SECRET: for Cora One only');
  await expect(sheet).toContainText(/Component KCV, legacy[0-9A-F]{6} - legacy/);
  await expect(sheet).toContainText(/Key KCV, legacy[0-9A-F]{6}/);
  await expect(sheet).toContainText('Witness: Walter Witness');
  await screen(app).getByRole('button', { name: 'Print the component sheet' }).click();
  expect(await app.evaluate(() => (window as unknown as { printed: number }).printed)).toBe(1);
  // On paper the sheet is all there is.
  await app.emulateMedia({ media: 'print' });
  await expect(app.getByTestId('component-sheet')).toBeVisible();
  await expect(app.getByTestId('revealed-component')).toBeHidden();
  await expect(app.getByText('Print the component sheet')).toBeHidden();
  await app.emulateMedia({ media: 'screen' });

  await screen(app).getByRole('button', { name: 'I have it on my sheet: clear the screen' }).click();
  await expect(screen(app).getByTestId('component-sheet')).toHaveCount(0);
  const html = await screen(app).innerHTML();
  expect(html).not.toContain(component);
  expect(html).not.toContain(component.replace(/ /g, ''));

  // Nothing of the component in any file of the data folder, in any usual spelling.
  const hex = component.replace(/ /g, '');
  const bytes = Buffer.from(hex, 'hex');
  const forms = [hex, hex.toLowerCase(), component, component.toLowerCase(), bytes.toString('base64')];
  const found: string[] = [];
  for (const file of filesUnder(dataDir)) {
    const raw = readFileSync(file);
    for (const f of forms) if (raw.toString('latin1').includes(f)) found.push(`${file}: ${f.slice(0, 4)}…`);
    if (raw.includes(bytes)) found.push(`${file}: raw bytes`);
  }
  expect(found).toEqual([]);

  // The ceremony is aborted; its transcript prints as HTML and PDF from the page, with every
  // entry of the signed record and nothing of the component.
  await screen(app).getByRole('button', { name: 'Abort the ceremony…' }).click();
  const confirm = app.getByRole('alertdialog', { name: 'Abort this ceremony?' });
  await confirm.getByLabel('Reason').fill('The second custodian is not available today');
  await confirm.getByLabel('Aborted by').selectOption({ label: WITNESS.option });
  await confirm.getByLabel('Their passphrase', { exact: true }).fill(WITNESS.pass);
  await confirm.getByRole('button', { name: 'Abort the ceremony' }).click();
  await expect(confirm).toBeHidden();
  const saved: Record<string, Buffer> = {};
  for (const [button, ext] of [
    ['Download the signed transcript (.mkmx)', 'mkmx'],
    ['Printable transcript (HTML)', 'html'],
    ['Printable transcript (PDF)', 'pdf'],
  ] as const) {
    const download = app.waitForEvent('download');
    await screen(app).getByRole('button', { name: button }).click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(new RegExp(`^ceremony-split-key-.*\\.${ext}$`));
    saved[ext] = readFileSync((await file.path())!);
  }
  const record = JSON.parse(saved.mkmx!.toString('utf8')) as { entries: { hash: string }[] };
  const printed = saved.html!.toString('utf8');
  for (const e of record.entries) expect(printed).toContain(e.hash);
  expect(printed).toContain('The second custodian is not available today');
  expect(saved.pdf!.subarray(0, 5).toString()).toBe('%PDF-');
  for (const text of [printed, saved.pdf!.toString('latin1')]) {
    for (const f of forms) expect(text).not.toContain(f);
  }
});
