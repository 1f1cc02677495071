import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { applyTheme, DIALOGS, prepareShowcase, SCREENS, THEMES, type Theme } from './helpers/screens';

/**
 * Accessibility over every screen and dialog of the app (helpers/screens.ts), on the demo token
 * and the local demo sandbox, in one pass (one app, one showcase): axe finds nothing serious or
 * critical in either theme; every control on a screen is reached with Tab and shows where the
 * focus is; focus goes back to the control that opened a dialog, however the dialog closes.
 */

const DIALOG = '[role="dialog"], [role="alertdialog"]';

/** What the keyboard walk records in the page as the focus moves. */
type Walked = Window & { a11yWalk?: { seen: Set<string>; noIndicator: Set<string> } };

/** axe's serious and critical findings, in words. Only colours differ in the dark theme, so only
 * the contrast rule runs there. */
async function seriousViolations(app: Page, theme: Theme, include?: string): Promise<string[]> {
  // Legacy mode runs axe in the page itself (the app has no frames) rather than opening a page
  // per scan to merge frame results; only violations are gathered. Both save seconds per scan.
  let axe = new AxeBuilder({ page: app })
    .setLegacyMode(true)
    .options({ resultTypes: ['violations'] })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']);
  if (theme !== 'light') axe = axe.withRules(['color-contrast']);
  if (include) axe = axe.include(include);
  const { violations } = await axe.analyze();
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) =>
      v.nodes.map(
        (n) =>
          `${v.id} (${v.impact}): ${n.target.join(' ')} — ${n.failureSummary?.split('\n')[1]?.trim() ?? v.help}`,
      ),
    );
}

async function axeInBothThemes(app: Page, what: string, include?: string): Promise<void> {
  for (const theme of THEMES) {
    await applyTheme(app, theme);
    expect.soft(await seriousViolations(app, theme, include), `${what}, ${theme}`).toEqual([]);
  }
  await applyTheme(app, 'light');
}

/**
 * Tabs round the page once and reports what a keyboard user meets: each control that took the
 * focus without a visible indicator (outline or ring), and each control on the page (visible,
 * enabled, in the tab order; one per radio group; a tab list counts as its selected tab) that
 * Tab never reached.
 */
async function keyboardWalk(app: Page): Promise<{ noIndicator: string[]; unreached: string[] }> {
  const count = await app.evaluate(() => {
    const w = window as Walked;
    const describe = (el: Element) =>
      `${el.tagName.toLowerCase()} “${(el.getAttribute('aria-label') ?? el.textContent ?? '').trim().slice(0, 40)}”`;
    const walk = { seen: new Set<string>(), noIndicator: new Set<string>() };
    if (!w.a11yWalk) {
      document.addEventListener('focusin', (e) => {
        const el = e.target as HTMLElement;
        // Passed through: a tab list hands the focus on to its selected tab at once.
        if (el !== document.activeElement) return;
        const style = getComputedStyle(el);
        const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
        if (!outline && style.boxShadow === 'none') w.a11yWalk!.noIndicator.add(describe(el));
        const radio = el instanceof HTMLInputElement && el.type === 'radio' ? `radio:${el.name}` : null;
        const id = radio ?? el.getAttribute('data-a11y-control');
        if (id !== null) w.a11yWalk!.seen.add(id);
      });
    }
    w.a11yWalk = walk;
    const radios = new Set<string>();
    let n = 0;
    const selector =
      'button, a[href], input, select, textarea, summary, [tabindex]:not([tabindex="-1"]), [role="tab"][aria-selected="true"]';
    for (const el of document.querySelectorAll<HTMLElement>(selector)) {
      el.removeAttribute('data-a11y-control');
      if (el.matches(':disabled') || el.tabIndex < 0 || el.closest('[aria-hidden="true"], [inert]')) continue;
      // Not rendered, hidden, or in a closed <details>.
      if (!el.checkVisibility({ contentVisibilityAuto: true, visibilityProperty: true })) continue;
      if (el.getAttribute('role') === 'tablist') continue;
      if (el instanceof HTMLInputElement && el.type === 'radio') {
        if (radios.has(el.name)) continue;
        radios.add(el.name);
        el.setAttribute('data-a11y-control', `radio:${el.name}`);
      } else {
        el.setAttribute('data-a11y-control', String(n));
      }
      n++;
    }
    return n;
  });
  // Round the page once, wherever the focus was (Tab wraps from the last control to the first).
  for (let i = 0; i < 2 * count + 10; i++) {
    await app.keyboard.press('Tab');
    if (i % 20 === 19 && (await app.evaluate((n) => (window as Walked).a11yWalk!.seen.size >= n, count)))
      break;
  }
  return app.evaluate(() => {
    const walk = (window as Walked).a11yWalk!;
    const unreached = [...document.querySelectorAll<HTMLElement>('[data-a11y-control]')]
      .filter((el) => !walk.seen.has(el.getAttribute('data-a11y-control')!))
      .map(
        (el) =>
          `${el.tagName.toLowerCase()} “${(el.getAttribute('aria-label') ?? el.textContent ?? '').trim().slice(0, 40)}”`,
      );
    return { noIndicator: [...walk.noIndicator], unreached };
  });
}

test('every screen and dialog: axe in both themes, the keyboard reaches and shows every control, focus returns to a dialog’s opener', async ({
  app,
}) => {
  test.setTimeout(240_000);
  await app.setViewportSize({ width: 1440, height: 900 });
  await prepareShowcase(app);

  for (const screen of SCREENS) {
    await screen.open(app);
    await axeInBothThemes(app, screen.name);
    const walk = await keyboardWalk(app);
    expect.soft(walk.noIndicator, `${screen.name}: focus not shown on`).toEqual([]);
    expect.soft(walk.unreached, `${screen.name}: Tab never reached`).toEqual([]);
    await screen.leave?.(app);
  }

  for (const d of DIALOGS) {
    // Opened from the keyboard, scanned, closed with Escape; then opened again and cancelled.
    let { opener, dialog } = await d.open(app);
    await axeInBothThemes(app, `dialog ${d.name}`, DIALOG);
    await app.keyboard.press('Escape');
    await expect(dialog).toBeHidden();
    await expect(opener, `${d.name}, closed with Escape: focus back on its opener`).toBeFocused();
    await d.restore?.(app);
    ({ opener, dialog } = await d.open(app));
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(dialog).toBeHidden();
    await expect(opener, `${d.name}, cancelled: focus back on its opener`).toBeFocused();
    await d.restore?.(app);
  }

  // A dialog that closes on success: Generate key… has the focus back once the key is made.
  const { opener, dialog } = await DIALOGS.find((d) => d.name === 'generate-key')!.open(app);
  await dialog.getByLabel('Label', { exact: true }).fill('a11y-focus-return');
  await dialog.getByRole('button', { name: 'Generate', exact: true }).click();
  await expect(dialog).toBeHidden({ timeout: 60_000 });
  await expect(opener).toBeFocused();
});
