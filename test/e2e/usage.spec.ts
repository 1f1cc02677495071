import { expect, test } from './fixtures';
import { logInToDemo, openSection } from './helpers/ui';

/**
 * Key usage you can see, from real counts: exchange packages signed on the demo SoftHSM2 token
 * under two managed signing keys (one with a use limit) move their counts; the dashboard ranks
 * them by use and by nearness to the limit, and the key's screen charts its uses day by day with
 * the last use and its operation.
 */
test('the usage chart and the dashboard ranking show the real counts after uses', async ({ app }) => {
  test.setTimeout(180_000);
  await logInToDemo(app);
  await app.evaluate(async () => {
    const api = window.mkm;
    const busy = await api.lifecycle.create({ name: 'busy-signer', purpose: 'signing' });
    const limited = await api.lifecycle.create({
      name: 'limited-signer',
      purpose: 'signing',
      policy: { maxUses: 5 },
    });
    const sign = (ckaId: string) =>
      api.exchange.export({ kind: 'announcement', signingKeyId: ckaId, keyIds: [ckaId] });
    for (let i = 0; i < 6; i++) await sign(busy.version.ckaId!);
    for (let i = 0; i < 4; i++) await sign(limited.version.ckaId!);
  });

  // The dashboard: most used first; the limited key at 80 % of its limit, flagged.
  await app.getByRole('tab', { name: 'Dashboard' }).click();
  const card = app.getByRole('region', { name: 'Key usage' });
  const most = card.getByTestId('dash-usage-most').getByRole('listitem');
  await expect(most).toHaveText(['busy-signer v1: 6 uses', 'limited-signer v1: 4 uses']);
  const near = card.getByTestId('dash-usage-limit').getByRole('listitem');
  await expect(near).toHaveCount(1);
  await expect(near.first()).toContainText('limited-signer v1: 4 of 5 (80 %)');
  await expect(near.first()).toContainText('near limit');
  // The due list follows the same count: the limited key is due for rotation soon (80 %).
  await expect(app.getByRole('region', { name: 'Keys', exact: true }).getByTestId('dash-due')).toContainText(
    'limited-signer',
  );
  await expect(near.first().getByRole('meter', { name: 'limited-signer uses' })).toHaveAttribute(
    'aria-valuenow',
    '4',
  );

  // The key's screen: the chart's bar for today holds the 4 uses; last use and operation.
  await openSection(app, 'Keys');
  await app.getByRole('group', { name: 'Keys view' }).getByRole('button', { name: 'Managed keys' }).click();
  await app
    .getByRole('table', { name: 'Managed keys' })
    .getByRole('button', { name: 'limited-signer' })
    .click();
  const detail = app.getByRole('region', { name: 'Managed key limited-signer' });
  const usage = detail.getByRole('region', { name: 'Usage' }).getByTestId('usage-v1');
  await expect(usage.getByTestId('usage-total')).toHaveText('4 uses of 5');
  await expect(usage).toContainText('near its use limit');
  await expect(usage.getByTestId('usage-last')).toContainText('(signature)');
  const today = new Date().toISOString().slice(0, 10);
  const chart = usage.getByRole('img', { name: /Uses per day of v1, last 30 days: 4 in total/ });
  await expect(chart.locator(`rect[data-day="${today}"]`)).toHaveAttribute('data-uses', '4');
  await expect(chart.locator('rect[data-uses="0"]')).toHaveCount(29);
  // The rotation-due notice derives from the same count.
  await expect(detail).toContainText('Rotation warning');
});
