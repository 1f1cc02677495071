import { expect, test } from './fixtures';
import {
  applyTheme,
  DIALOGS,
  layoutProblems,
  prepareShowcase,
  SCREENS,
  SIZES,
  THEMES,
  volatile,
  withSteadyTimes,
} from './helpers/screens';

/**
 * The layout holds on every screen and dialog at 1024x700 and 1440x900, light and dark: nothing
 * scrolls sideways, the key columns of tables are not cut, code boxes wrap (helpers/screens.ts
 * says how each is checked). Each section's screenshot at 1024x700, light and dark, is compared
 * with its approved baseline (times, ids and fingerprints masked), so a layout regression fails
 * here. After a wanted change: `npx playwright test layout --update-snapshots`, and look at them.
 */
test('every screen and dialog holds its layout at 1024x700 and 1440x900 in both themes', async ({
  app,
}, testInfo) => {
  test.setTimeout(150_000);
  await app.setViewportSize(SIZES[0]);
  await prepareShowcase(app);
  // The baselines are Chromium's rendering in browser mode; Electron's would differ by a pixel.
  const screenshots = testInfo.project.name === 'browser-mode';

  const checkEverySize = async (what: string) => {
    for (const theme of THEMES) {
      await applyTheme(app, theme);
      for (const size of SIZES) {
        await app.setViewportSize(size);
        const where = `${what}, ${theme}, ${size.width}x${size.height}`;
        expect.soft(await layoutProblems(app), where).toEqual([]);
      }
    }
    await app.setViewportSize(SIZES[0]);
  };

  for (const screen of SCREENS) {
    await screen.open(app);
    await checkEverySize(screen.name);
    if (!screen.baseline || !screenshots) {
      await screen.leave?.(app);
      continue;
    }
    // No hover or focus ring left over from getting here.
    await app.mouse.move(0, 0);
    await app.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    for (const theme of THEMES) {
      await applyTheme(app, theme);
      await withSteadyTimes(app, () =>
        expect.soft(app).toHaveScreenshot(`${screen.name}-${theme}.png`, {
          fullPage: true,
          mask: volatile(app),
          // A glyph's descender may peek out of a masked box by a pixel.
          maxDiffPixels: 40,
        }),
      );
    }
    await screen.leave?.(app);
  }
  for (const d of DIALOGS) {
    const { dialog } = await d.open(app);
    await checkEverySize(`dialog ${d.name}`);
    await app.keyboard.press('Escape');
    await expect(dialog).toBeHidden();
    await d.restore?.(app);
  }
});
