import { expect, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { filesUnder } from '../helpers/scan';
import { test } from './fixtures';
import {
  ADMIN,
  ceremonyScreen as screen,
  CORA,
  currentStep,
  enrolAndIdentify,
  openCeremonyWithSigner,
  prove,
  stepPanel,
  WITNESS,
} from './helpers/ceremony';

/**
 * A split-key ceremony on the demo token in browser mode, to the first custodian's reveal: the
 * component sheet is made in the page from the revealed component and printed from there (the
 * page's own print, stubbed here to count), it goes when the screen is cleared, and nothing of
 * the component lands in the data folder. Then the transcript prints as HTML and PDF.
 */

async function startSplitKey(app: Page): Promise<void> {
  await openCeremonyWithSigner(app, 'ceremony-signer-sheets');
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
  await enrolAndIdentify(app);
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
