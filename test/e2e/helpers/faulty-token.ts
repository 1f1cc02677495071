import type { Page } from '@playwright/test';
import { createFaultyModule, faultyModuleAvailable, type FaultyModule } from '../../helpers/faulty-module';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { expect, startBrowserModeProcess, test as base } from '../fixtures';
import { openSection } from './ui';

/**
 * Browser mode started with the fault-injecting module (as `mkm browser --module` loads it) over a
 * SoftHSM2 token labelled `label`: specs write `faulty.control` to make the token stall or fail.
 */
export function faultyTokenTest(label: string) {
  return base.extend<{ hsm: SoftHsmToken; faulty: FaultyModule }>({
    // eslint-disable-next-line no-empty-pattern
    hsm: async ({}, use) => {
      const hsm = createSoftHsmToken({ label, setProcessEnv: false });
      await use(hsm);
      hsm.cleanup();
    },
    // eslint-disable-next-line no-empty-pattern
    faulty: async ({}, use) => {
      const faulty = createFaultyModule({ setProcessEnv: false });
      await use(faulty);
      faulty.cleanup();
    },
    server: async ({ dataDir, hsm, faulty }, use, testInfo) => {
      if (testInfo.project.name === 'electron' || !faultyModuleAvailable()) {
        await use(null);
        return;
      }
      const server = await startBrowserModeProcess(dataDir, {
        launchModules: [faulty.path],
        env: { ...hsm.env, ...faulty.env },
      });
      await use(server);
      await server.stop();
    },
  });
}

export const FAULTY_SKIP_REASON = 'needs browser mode started with the fault-injecting module (gcc)';

/** Logs in to the faulty token from the header. */
export async function logInToFaulty(app: Page, hsm: SoftHsmToken): Promise<void> {
  const header = app.getByRole('group', { name: 'Token in use' });
  await header.getByRole('button', { name: 'Log in…' }).click();
  const dialog = app.getByRole('dialog', { name: new RegExp(`Log in to ${hsm.label}`) });
  await dialog.getByLabel('User PIN', { exact: true }).fill(hsm.userPin);
  await dialog.getByLabel('User PIN', { exact: true }).press('Enter');
  await expect(header).toContainText('Logged in');
}

/** Picks the fault-injecting library on the Tokens screen and logs in to its token. */
export async function useFaultyToken(app: Page, faulty: FaultyModule, hsm: SoftHsmToken): Promise<void> {
  await openSection(app, 'Tokens');
  const library = app.getByRole('region', { name: /PKCS#11 library/ });
  await library.getByText('Use another library…').click();
  await library.getByLabel('Installed libraries we know').selectOption(faulty.path);
  await library.getByRole('button', { name: 'Use this library' }).click();
  await expect(app.getByRole('group', { name: 'Token in use' })).toContainText(hsm.label);
  await logInToFaulty(app, hsm);
}
