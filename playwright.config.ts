import { defineConfig } from '@playwright/test';
import { electronBinary } from './test/e2e/electron-binary';

/**
 * E2E specs run against browser mode in Debian's Chromium everywhere, and against the real
 * Electron app too where its binary is installed (the same specs, through `_electron`).
 */
const chromium = process.env.MKM_CHROMIUM ?? '/usr/bin/chromium';

export default defineConfig({
  testDir: 'test/e2e',
  outputDir: 'test-results/e2e-artifacts',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: process.env.CI ? [['list'], ['json', { outputFile: 'test-results/e2e.json' }]] : 'list',
  globalSetup: './test/e2e/global-setup.ts',
  use: {
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: chromium,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [
    { name: 'browser-mode', use: { browserName: 'chromium' } },
    ...(electronBinary() ? [{ name: 'electron', use: { browserName: 'chromium' as const } }] : []),
  ],
});
