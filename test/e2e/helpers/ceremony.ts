import { expect, type Locator, type Page } from '@playwright/test';
import { logInToDemo } from './ui';

/**
 * The Ceremony screen as the room uses it: the four people a two-custodian ceremony enrols, the
 * screen's parts a spec reads, and the steps every ceremony runs before its own.
 */

export const PEOPLE = [
  { name: 'Alice Admin', role: 'Administrator', option: 'Alice Admin (administrator)', pass: 'admin pass 1' },
  { name: 'Walter Witness', role: 'Witness', option: 'Walter Witness (witness)', pass: 'witness pass 2' },
  { name: 'Cora One', role: 'Custodian', option: 'Cora One (custodian 1)', pass: 'custodian pass 3' },
  { name: 'Carl Two', role: 'Custodian', option: 'Carl Two (custodian 2)', pass: 'custodian pass 4' },
] as const;
export const [ADMIN, WITNESS, CORA, CARL] = PEOPLE;
export type Person = (typeof PEOPLE)[number];

export function ceremonyScreen(app: Page): Locator {
  return app.getByRole('tabpanel', { name: 'Ceremony' });
}

export function stepPanel(app: Page): Locator {
  return ceremonyScreen(app).getByRole('region', { name: /^Now:/ });
}

export function currentStep(app: Page): Locator {
  return ceremonyScreen(app).getByRole('list', { name: 'Ceremony steps' }).locator('[aria-current="step"]');
}

/**
 * Logs in and makes the RSA key that signs the transcript, then opens the Ceremony screen. The
 * key is made through the API, so the page is reloaded to read it as after a restart.
 */
export async function openCeremonyWithSigner(app: Page, signerLabel: string): Promise<void> {
  await app.getByRole('tab', { name: 'Keys' }).click();
  await logInToDemo(app);
  await app.evaluate(async (label) => {
    const slot = (await window.mkm.tokens.list()).find((s) => s.session.loggedIn)!;
    await window.mkm.keys.generate({ slotId: slot.slotId, type: 'rsa-2048', label, purpose: 'signing' });
  }, signerLabel);
  await app.reload();
  await expect(app.getByRole('group', { name: 'Token in use' })).toContainText('Logged in');
  await app.getByRole('tab', { name: 'Ceremony' }).click();
}

/** `again` is what is typed as the passphrase the second time; only a matching one enrols. */
export async function enrol(app: Page, person: Person, again: string = person.pass): Promise<void> {
  const form = ceremonyScreen(app).getByRole('form', { name: 'Enrol a participant' });
  await form.getByLabel('Name').fill(person.name);
  await form.getByLabel('Role').selectOption({ label: person.role });
  await form.getByLabel('Passphrase', { exact: true }).fill(person.pass);
  await form.getByLabel('Passphrase again', { exact: true }).fill(again);
  await form.getByRole('checkbox').check();
  await form.getByRole('button', { name: /^Enrol as/ }).click();
  if (again === person.pass) {
    await expect(ceremonyScreen(app).getByRole('table', { name: 'Participants' })).toContainText(person.name);
  }
}

/** The current step's form: who does it and who confirms, each with their passphrase. */
export async function prove(step: Locator, actor: Person, confirmer: Person | null): Promise<void> {
  await step.getByLabel('Done by').selectOption({ label: actor.option });
  await step.getByLabel('Passphrase of who does it', { exact: true }).fill(actor.pass);
  if (confirmer) {
    await step.getByLabel('Confirmed by').selectOption({ label: confirmer.option });
    await step.getByLabel('Passphrase of who confirms', { exact: true }).fill(confirmer.pass);
  }
}

/**
 * Enrols the four, runs the preflight and identifies everyone. The runner has a network
 * interface up, so the preflight is refused first and then run with an override the transcript
 * keeps.
 */
export async function enrolAndIdentify(app: Page): Promise<void> {
  for (const person of PEOPLE) {
    await enrol(app, person);
  }
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
}
