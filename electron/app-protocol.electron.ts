import { protocol } from 'electron';
import { readFile } from 'node:fs/promises';
import type { Logger } from './core/logger.nodejs';
import { APP_SCHEME, rendererHeaders, resolveAppUrl } from './core/renderer-files.nodejs';

/**
 * The renderer's own `app://mkm/` origin (Electron's security checklist: a custom protocol, not
 * file://). Which file a URL names is decided by resolveAppUrl (unit-tested); this only wires it
 * to Electron. Privileges must be registered before the app is ready; the handler after.
 */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([
    { scheme: APP_SCHEME, privileges: { standard: true, secure: true } },
  ]);
}

export function handleAppProtocol(rendererRoot: string, logger: Logger): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const found = resolveAppUrl(rendererRoot, request.url);
    if (!found.ok) {
      logger.warn('refused an app:// request', { status: found.status });
      return new Response(null, { status: found.status, headers: rendererHeaders() });
    }
    return new Response(await readFile(found.file), { status: 200, headers: rendererHeaders(found.type) });
  });
}
