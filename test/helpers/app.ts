import { createApp, type App, type AppOptions } from '../../electron/core/app.nodejs';
import { silentLogger } from '../../electron/core/logger.nodejs';

/**
 * The app as browser mode runs it, on one PKCS#11 library, quiet, trusting every sender: how
 * integration tests drive the real channels without a window. `options` adds to or overrides that.
 */
export const openApp = (dataDir: string, modulePath: string, options: Partial<AppOptions> = {}): App =>
  createApp({
    mode: 'browser',
    dataDir,
    moduleOverride: modulePath,
    isTrustedSender: () => true,
    logger: silentLogger,
    ...options,
  });
