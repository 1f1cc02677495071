import { expect, type Locator, type Page } from '@playwright/test';
import { logInToDemo, startBatch } from './ui';

/**
 * Every screen and dialog of the app, reached as a person would, over one fixed showcase of
 * content on the demo token and the local demo sandbox gateway: the layout and accessibility
 * specs walk this list, so a screen or dialog added here is checked by both.
 */

export type Theme = 'light' | 'dark';
/**
 * A local time is not as wide at every hour of the day ("9:05:03 PM", "11:05:03 PM", "12/7/2026",
 * "12/17/2026"), so its masked box would change the picture with the clock of the machine that
 * runs the test. While `shoot` runs, every one (the renderer writes them all through <Timestamp>)
 * is a box of one width, wider than the longest. The app's CSP refuses the <style> that
 * Playwright's `stylePath` adds, so the rule comes as a constructed style sheet, which CSP does
 * not govern; it is taken away again so that the layout checks see the real page.
 */
export async function withSteadyTimes(app: Page, shoot: () => Promise<void>): Promise<void> {
  const add = (css: string) => {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    (window as { __steadyTimes?: CSSStyleSheet }).__steadyTimes = sheet;
  };
  await app.evaluate(add, 'time.timestamp { display: inline-block; width: 26ch; white-space: nowrap; }');
  try {
    await shoot();
  } finally {
    await app.evaluate(() => {
      const w = window as { __steadyTimes?: CSSStyleSheet };
      document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => s !== w.__steadyTimes);
      delete w.__steadyTimes;
    });
  }
}

export const THEMES: Theme[] = ['light', 'dark'];
export const SIZES = [
  { width: 1024, height: 700 },
  { width: 1440, height: 900 },
] as const;

/** Labels long enough to need room, short enough to be real. */
export const SHOWCASE = {
  data: 'card-data-2026 (primary AES key for the card vault)',
  transport: 'transport-2026',
  hmac: 'hmac-webhooks-2026',
  managed: 'settlement-file-encryption',
} as const;

/** Logs in and puts the showcase content in place through the app's own API (fast, and the same
 * services the screens read). */
export async function prepareShowcase(app: Page): Promise<void> {
  await app.getByRole('tab', { name: 'Keys' }).click();
  await logInToDemo(app);
  await app.evaluate(async (names) => {
    const api = window.mkm;
    const slot = (await api.tokens.list()).find((s) => s.session.loggedIn)!;
    const slotId = slot.slotId;
    await api.keys.generate({ slotId, type: 'aes-256', label: names.data, purpose: 'data' });
    await api.keys.generate({ slotId, type: 'hmac-256', label: names.hmac, purpose: 'hmac' });
    const transport = await api.keys.generate({
      slotId,
      type: 'rsa-2048',
      label: names.transport,
      purpose: 'gateway-transport',
    });
    // Three versions: v1 deactivated (can be destroyed), v2 replaced but active, v3 the primary.
    const created = await api.lifecycle.create({ name: names.managed, purpose: 'data', slotId });
    await api.lifecycle.rotate({ ref: names.managed });
    await api.lifecycle.rotate({ ref: names.managed });
    await api.lifecycle.deactivate({ versionId: created.version.id });
    const sandbox = await api.gateway.startEmbeddedSandbox();
    const profileId = sandbox.profileId!;
    await api.gateway.registerTransportKey({ profileId, slotId, keyId: transport.id });
    await api.gateway.sync({ profileId });
  }, SHOWCASE);
  // The screens read it all afresh, as after a restart.
  await app.reload();
  await expect(app.getByRole('group', { name: 'Token in use' })).toContainText('Logged in');
  // The light theme chosen in the header, whatever the system's; applyTheme switches after.
  await app.getByRole('combobox', { name: 'Theme' }).selectOption('light');
  await expect(app.locator('html')).toHaveAttribute('data-theme', 'light');
}

/** Switches the theme as the app applies it (useTheme.dom.ts): the root's data-theme, which
 * every colour follows. Faster than the settings round trip, which the header's picker makes. */
export async function applyTheme(app: Page, theme: Theme): Promise<void> {
  await app.evaluate((t) => (document.documentElement.dataset.theme = t), theme);
}

/** What changes from run to run (times, ids, keys, fingerprints, ports, paths, serials): masked in
 * screenshots. Whole blocks are masked where the text is proportional, so the mask keeps its size. */
export function volatile(app: Page): Locator[] {
  // Only what shows: Playwright masks hidden elements too (closed <details>), in odd places.
  return [
    // Inline code that wraps would mask a box of changing shape: its block is masked instead.
    app.locator(
      ':is(p, li, td, th, dd, div:not(.cell-action)):has(> code), .fact dd, .mono, .gw-fp, .mono-block, textarea',
    ),
    // The audit rows' time, key, token and OS user (rows just out of the grid's view are masked too).
    app.locator(
      '.audit-row > [role="gridcell"]:is(:nth-child(1), :nth-child(4), :nth-child(5), :nth-child(6))',
    ),
    // Columns of ids; a select as wide as its options' key ids, with the button beside it; the
    // compliance findings, which name keys and dates.
    app.locator(
      '.key-row > [role="gridcell"]:nth-child(5), .gw-table tbody, form:has(> select), .pci-req summary > span:not(.pci-req-id)',
    ),
    // Local dates and times (each in a <time> of one width while the screenshot is taken:
    // withSteadyTimes), ISO dates, loopback ports, slot ids, serials and managed keys' token labels.
    app.locator('time.timestamp'),
    app.getByText(
      /\d{4}-\d\d-\d\d|\d{1,2}\/\d{1,2}\/\d{4}|127\.0\.0\.1:\d+|slot \d+|Serial|mkm\/[0-9a-f]+\//,
    ),
  ].map((l) => l.filter({ visible: true }));
}

async function openSection(app: Page, name: string): Promise<void> {
  await app.getByRole('tab', { name, exact: true }).click();
  await expect(app.getByRole('heading', { level: 1, name })).toBeVisible();
}

export interface Screen {
  /** A file-name-safe name. */
  name: string;
  /** A screenshot of it is compared with its baseline (one per section). */
  baseline: boolean;
  open(app: Page): Promise<void>;
  /** Puts back what opening it changed, once it is checked. */
  leave?(app: Page): Promise<void>;
}

const keysView = (app: Page, view: 'Token objects' | 'Managed keys') =>
  app.getByRole('group', { name: 'Keys view' }).getByRole('button', { name: view }).click();

export const SCREENS: Screen[] = [
  {
    name: 'dashboard',
    baseline: true,
    open: async (app) => {
      await openSection(app, 'Dashboard');
      await expect(app.getByTestId('status-card')).toBeVisible();
    },
  },
  {
    name: 'tokens',
    baseline: true,
    open: async (app) => {
      await openSection(app, 'Tokens');
      await expect(app.getByRole('radiogroup', { name: 'Token to work with' })).toBeVisible();
    },
  },
  {
    name: 'keys',
    baseline: true,
    open: async (app) => {
      await openSection(app, 'Keys');
      await keysView(app, 'Token objects');
      const grid = app.getByRole('grid', { name: 'Keys and objects on the token' });
      await grid
        .getByRole('row', { name: new RegExp(SHOWCASE.transport) })
        .first()
        .click();
      await expect(app.getByRole('region', { name: new RegExp(SHOWCASE.transport) })).toBeVisible();
    },
  },
  {
    name: 'keys-managed',
    baseline: false,
    open: async (app) => {
      await openSection(app, 'Keys');
      await keysView(app, 'Managed keys');
      await app
        .getByRole('button', { name: new RegExp(SHOWCASE.managed) })
        .first()
        .click();
      await expect(app.getByRole('region', { name: `Managed key ${SHOWCASE.managed}` })).toBeVisible();
    },
  },
  {
    name: 'gateway',
    baseline: true,
    open: async (app) => {
      await openSection(app, 'Gateway');
      await expect(app.getByRole('region', { name: 'Connection' }).getByText('Reachable')).toBeVisible();
      await expect(app.getByRole('region', { name: 'Offline exchange' })).toBeVisible();
    },
  },
  {
    name: 'audit',
    baseline: true,
    open: async (app) => {
      await openSection(app, 'Audit');
      await expect(app.getByRole('grid')).toBeVisible();
    },
  },
  {
    name: 'compliance',
    baseline: true,
    open: async (app) => {
      await openSection(app, 'Compliance');
      await expect(app.getByTestId('pci-summary')).toBeVisible({ timeout: 30_000 });
    },
  },
  ...(
    [
      ['console', 'Compose & encrypt'],
      ['console-message', 'Key-rolling message'],
      ['console-roundtrip', 'Round trip'],
      ['console-troubleshoot', 'Troubleshoot'],
      ['console-batch', 'Batch'],
      ['console-support', 'Support bundle'],
    ] as const
  ).map(([name, tab]): Screen => ({
    name,
    baseline: name === 'console',
    open: async (app) => {
      await openSection(app, 'Console');
      await app.getByRole('tab', { name: tab }).click();
      const panel = app.getByRole('tabpanel', { name: tab });
      await expect(panel).toBeVisible();
      if (name === 'console-batch') await showBatchResults(app);
      if (name === 'console-support') await showBundlePreview(app);
    },
  })),
  {
    // Before any ceremony: the empty list, a new ceremony from a template, verifying a transcript.
    name: 'ceremony',
    baseline: true,
    open: async (app) => {
      await openSection(app, 'Ceremony');
      await expect(app.getByText('No ceremony yet')).toBeVisible();
      await expect(app.getByRole('region', { name: 'New ceremony' })).toBeVisible();
    },
  },
  {
    // A form-key ceremony in progress, its administrator and witness identified; aborted after,
    // since no gateway call leaves the machine while one runs.
    name: 'ceremony-running',
    baseline: false,
    open: async (app) => {
      await openSection(app, 'Ceremony');
      await app.evaluate(startShowcaseCeremony, SHOWCASE_CEREMONY);
      const resume = app.getByRole('button', { name: `Resume ${SHOWCASE_CEREMONY.title}` });
      // The list follows the new ceremony on main's word alone (state.changed), without a reload.
      await resume.click();
      await expect(app.getByRole('list', { name: 'Ceremony steps' })).toBeVisible();
      await expect(app.getByRole('heading', { name: /^Now: / })).toBeVisible();
    },
    leave: async (app) => {
      await app.evaluate(async (people) => {
        const api = window.mkm;
        const running = (await api.ceremony.list()).filter((c) => c.state === 'running');
        for (const c of running) {
          await api.ceremony.abort({
            id: c.id,
            actor: { participantId: 'p-1', passphrase: people.admin.passphrase },
            reason: 'the layout and accessibility walk is over',
          });
        }
      }, SHOWCASE_CEREMONY);
      await app.getByRole('button', { name: '← All ceremonies' }).click();
    },
  },
];

export const SHOWCASE_CEREMONY = {
  title: 'Form AES-256 key “zmk-showcase” from 2 components',
  admin: { name: 'Alice Administrator', passphrase: 'showcase admin passphrase' },
  witness: { name: 'Walter Witness', passphrase: 'showcase witness passphrase' },
} as const;

/** In the page: a transcript signing key, a form-key ceremony, its administrator and witness. */
export async function startShowcaseCeremony(people: typeof SHOWCASE_CEREMONY): Promise<string> {
  const api = window.mkm;
  const slot = (await api.tokens.list()).find((s) => s.session.loggedIn)!;
  const signer = await api.keys.generate({
    slotId: slot.slotId,
    type: 'rsa-2048',
    label: 'ceremony-signer',
    purpose: 'signing',
  });
  const started = await api.ceremony.start({
    params: {
      template: 'form-key',
      keyType: 'aes-256',
      components: 2,
      label: 'zmk-showcase',
      purpose: 'kek',
    },
    slotId: slot.slotId,
    signingKeyId: signer.id,
  });
  for (const [role, who] of [
    ['administrator', people.admin],
    ['witness', people.witness],
  ] as const) {
    await api.ceremony.enroll({
      id: started.id,
      name: who.name,
      role,
      passphrase: who.passphrase,
      acknowledged: true,
    });
  }
  return started.id;
}

/** A batch with failed rows, so its results table is on screen (once: the panel stays mounted). */
async function showBatchResults(app: Page): Promise<void> {
  const panel = app.getByRole('tabpanel', { name: 'Batch' });
  const summary = panel.getByRole('region', { name: 'Batch summary' });
  if (await summary.isVisible()) return;
  await startBatch(panel, 'showcase.csv', [
    'id,number,exp,cvv',
    'order-2026-000001,4111111111111111,12/30,123',
    'order-2026-000002 (two problems),4111111111111112,12/30,12',
    'order-2026-000003,5555555555554444,13/30,123',
  ]);
  await expect(summary.getByRole('table', { name: 'Rows not encrypted' })).toBeVisible({ timeout: 60_000 });
}

/** The support bundle built, its first part section opened. */
async function showBundlePreview(app: Page): Promise<void> {
  const panel = app.getByRole('tabpanel', { name: 'Support bundle' });
  const preview = panel.getByRole('region', { name: 'Bundle preview' });
  if (!(await preview.isVisible())) await panel.getByRole('button', { name: 'Build preview' }).click();
  const section = preview.locator('details[data-section="app"]');
  await expect(section).toBeVisible();
  if ((await section.getAttribute('open')) === null) await section.locator('summary').click();
}

export interface DialogCase {
  name: string;
  /** Opens it; returns the opener (focus must come back to it) and the dialog. */
  open(app: Page): Promise<{ opener: Locator; dialog: Locator }>;
  /** Puts back what opening it changed, once it is closed. */
  restore?(app: Page): Promise<void>;
}

/** A dialog opened from the keyboard: its opener on `screen` is focused and Enter pressed. */
function opened(
  name: string,
  screen: string,
  opener: (app: Page) => Locator,
  found: (app: Page) => Locator,
): DialogCase {
  return {
    name,
    open: async (app) => {
      await SCREENS.find((s) => s.name === screen)!.open(app);
      const control = opener(app);
      const dialog = found(app);
      await expect(control).toBeEnabled();
      await control.focus();
      await control.press('Enter');
      await expect(dialog).toBeVisible();
      return { opener: control, dialog };
    },
  };
}

const button = (name: string) => (app: Page) => app.getByRole('button', { name, exact: true });
const inVersion = (version: number, name: string) => (app: Page) =>
  app.getByTestId(`version-${version}`).getByRole('button', { name, exact: true });
const dialog = (name: string | RegExp) => (app: Page) => app.getByRole('dialog', { name });
const alert = (name: string | RegExp) => (app: Page) => app.getByRole('alertdialog', { name });
const header = (app: Page) => app.getByRole('group', { name: 'Token in use' });

const login = opened(
  'login',
  'tokens',
  (app) => header(app).getByRole('button', { name: 'Log in…' }),
  dialog(/Log in to/),
);

export const DIALOGS: DialogCase[] = [
  opened('generate-key', 'keys', button('Generate key…'), dialog('Generate a key')),
  opened(
    'destroy-key',
    'keys',
    (app) => app.getByRole('region', { name: SHOWCASE.transport }).getByRole('button', { name: 'Destroy…' }),
    alert(/Destroy key/),
  ),
  opened('create-managed-key', 'keys-managed', button('Create managed key…'), dialog('Create a managed key')),
  opened('rotate-wizard', 'keys-managed', button('Rotate now…'), dialog(`Rotate “${SHOWCASE.managed}”`)),
  opened('compromise', 'keys-managed', button('Mark compromised…'), alert(/Mark version 3 .* compromised\?/)),
  opened(
    'compromise-version',
    'keys-managed',
    inVersion(2, 'Compromised…'),
    alert(/Mark version 2 .* compromised\?/),
  ),
  opened('deactivate-version', 'keys-managed', inVersion(2, 'Deactivate…'), alert(/Deactivate version 2/)),
  opened('destroy-version', 'keys-managed', inVersion(1, 'Destroy…'), alert(/Destroy .* v1\?/)),
  opened('add-profile', 'gateway', button('Add profile…'), dialog('Add a gateway profile')),
  opened('gateway-password', 'gateway', button('Password…'), dialog(/Gateway password for/)),
  opened('remove-profile', 'gateway', button('Remove…'), alert(/Remove|Forget/)),
  opened('acknowledge', 'compliance', button('Acknowledge responsibilities…'), (app) =>
    app.getByRole('dialog'),
  ),
  opened('change-pin', 'tokens', button('Change user PIN…'), (app) => app.getByRole('alertdialog')),
  {
    // From the header, logged out first; logged in again after.
    ...login,
    open: async (app) => {
      await header(app).getByRole('button', { name: 'Log out' }).click();
      return login.open(app);
    },
    restore: (app) => logInToDemo(app),
  },
];

/**
 * What does not hold at the current size, in words: the page scrolling sideways; text cut off in
 * a table's first two columns (its key columns), spilling or clipped, or hidden in any other cell,
 * unless an ellipsis shows the cut and a title holds the whole; a code box (pre, textarea) whose
 * lines run past its side; a dialog wider than its box.
 */
export function layoutProblems(app: Page): Promise<string[]> {
  return app.evaluate(() => {
    const problems: string[] = [];
    const visible = (el: Element) => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden';
    };
    const name = (el: Element) =>
      `${el.tagName.toLowerCase()}${el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : ''} “${(el.textContent ?? '').trim().slice(0, 40)}”`;
    const page = document.scrollingElement!;
    if (page.scrollWidth > page.clientWidth) {
      problems.push(`the page scrolls sideways: ${page.scrollWidth} px of content in ${page.clientWidth} px`);
    }
    const clipped = (el: Element) => el.scrollWidth > el.clientWidth + 1;
    // An ellipsis is fine where the whole text is one hover away.
    const explained = (el: Element) =>
      getComputedStyle(el).textOverflow === 'ellipsis' &&
      Boolean(el.getAttribute('title') ?? el.firstElementChild?.getAttribute('title'));
    for (const row of document.querySelectorAll('table tr, [role="row"]')) {
      if (!visible(row)) continue;
      [...row.children].filter(visible).forEach((cell, column) => {
        for (const el of [cell, ...cell.querySelectorAll('*')]) {
          if (!visible(el) || !clipped(el) || explained(el)) continue;
          // The key columns may not spill either; the others may not hide what they hold.
          if (column < 2) {
            problems.push(
              `cut in a table's key column: ${name(el)} (${el.scrollWidth} > ${el.clientWidth} px)`,
            );
          } else if (getComputedStyle(el).overflowX !== 'visible') {
            problems.push(`cut in a table: ${name(el)} (${el.scrollWidth} > ${el.clientWidth} px)`);
          }
        }
      });
    }
    for (const box of document.querySelectorAll('pre, textarea, [role="dialog"], [role="alertdialog"]')) {
      if (visible(box) && clipped(box)) {
        problems.push(`lines run past the side of ${name(box)} (${box.scrollWidth} > ${box.clientWidth} px)`);
      }
    }
    return problems;
  });
}
