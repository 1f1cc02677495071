import { createRequire } from 'node:module';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * Packaging cannot run here (electron-builder downloads Electron), so the configuration goes
 * through electron-builder's own loader and schema validation, and the security-relevant
 * settings are pinned.
 */
const root = join(import.meta.dirname, '../../..');
const require = createRequire(import.meta.url);
const { getConfig, validateConfiguration } = require('app-builder-lib/out/util/config/config') as {
  getConfig(dir: string, path: string | null, fromOptions: unknown): Promise<Record<string, unknown>>;
  validateConfiguration(config: unknown, logger: unknown): Promise<void>;
};
const { DebugLogger } = require('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };

describe('electron-builder.yml', () => {
  it('passes electron-builder validation', async () => {
    const config = await getConfig(root, join(root, 'electron-builder.yml'), null);
    await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
  });

  it('would reject a broken configuration (the validation is real)', async () => {
    const config = await getConfig(root, join(root, 'electron-builder.yml'), null);
    await expect(
      validateConfiguration({ ...config, electronFuses: { runAsNode: 'maybe' } }, new DebugLogger(false)),
    ).rejects.toThrow();
  });

  it('builds every target, unpacks pkcs11js and sets the fuses', async () => {
    const config = (await getConfig(root, join(root, 'electron-builder.yml'), null)) as {
      linux: { target: string[] };
      win: { target: string[] };
      mac: { target: string[]; hardenedRuntime: boolean; entitlements: string };
      asarUnpack: string[];
      electronFuses: Record<string, boolean>;
    };
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
    expect(config.win.target).toEqual(['nsis']);
    expect(config.mac.target).toEqual(['dmg']);
    expect(config.asarUnpack).toContain('**/node_modules/pkcs11js/**/*.node');
    expect(config.electronFuses).toMatchObject({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableCookieEncryption: true,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
    });
    expect(config.mac.hardenedRuntime).toBe(true);
    const plist = readFileSync(join(root, config.mac.entitlements), 'utf8');
    expect(plist).toContain('com.apple.security.cs.disable-library-validation');
  });
});
