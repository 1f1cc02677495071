import { expect, test } from './fixtures';
import { SHOWCASE_CEREMONY, startShowcaseCeremony } from './helpers/screens';
import { logInToDemo } from './helpers/ui';

/**
 * Never show what does not hold: the Ceremony screen follows a ceremony changed behind its back
 * (another window, a direct call of the services): here the ceremony it has open is aborted by a
 * call the screen did not make; main's word (`state.changed`, what: 'ceremony') alone brings the
 * screen up to date, without a reload.
 */
test('the Ceremony screen follows a ceremony aborted behind its back', async ({ app }) => {
  await app.getByRole('tab', { name: 'Keys' }).click();
  await logInToDemo(app);
  const id = await app.evaluate(startShowcaseCeremony, SHOWCASE_CEREMONY);

  await app.getByRole('tab', { name: 'Ceremony' }).click();
  const screen = app.getByRole('tabpanel', { name: 'Ceremony' });
  await screen.getByRole('button', { name: `Resume ${SHOWCASE_CEREMONY.title}` }).click();
  const title = screen.getByRole('heading', { level: 2, name: SHOWCASE_CEREMONY.title });
  await expect(title).toContainText('running');
  await expect(screen.getByRole('button', { name: 'Abort the ceremony…' })).toBeVisible();

  // Browser mode opens one window per secret: the abort comes from the page's API itself, not from
  // the screen, which no call of its own tells (only main's event can).
  await app.evaluate(
    async ({ ceremonyId, passphrase }) => {
      await window.mkm.ceremony.abort({
        id: ceremonyId,
        actor: { participantId: 'p-2', passphrase },
        reason: 'aborted behind the screen’s back',
      });
    },
    { ceremonyId: id, passphrase: SHOWCASE_CEREMONY.witness.passphrase },
  );

  await expect(title).toContainText('aborted');
  await expect(screen.getByRole('button', { name: 'Abort the ceremony…' })).toBeHidden();
  await expect(screen.getByRole('heading', { level: 2, name: 'Transcript' })).toBeVisible();
  await screen.getByRole('button', { name: '← All ceremonies' }).click();
  await expect(screen.getByRole('table', { name: 'Ceremonies' })).toContainText('aborted');
});
