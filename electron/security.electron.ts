import { app, session, shell, type WebContents } from 'electron';
import { CSP } from '../shared/csp.std';
import { isAllowedExternalUrl } from './core/handlers.nodejs';
import type { Logger } from './core/logger.nodejs';

/**
 * Every web-content guard in one place, installed before the first window exists: no
 * navigation away from the app, no new windows (allow-listed links go to the OS browser), no
 * webviews, no permission ever granted.
 */
export function installSecurityHandlers(isAppUrl: (url: string) => boolean, logger: Logger): void {
  app.on('web-contents-created', (_event, contents: WebContents) => {
    contents.on('will-navigate', (event, url) => {
      if (!isAppUrl(url)) {
        event.preventDefault();
        logger.warn('blocked a navigation', { host: hostOf(url) });
      }
    });
    contents.on('will-redirect', (event, url) => {
      if (!isAppUrl(url)) event.preventDefault();
    });
    contents.setWindowOpenHandler(({ url }) => {
      // Only allow-listed https documentation links reach the OS browser.
      if (isAllowedExternalUrl(url)) void shell.openExternal(url); /* eng-disable OPEN_EXTERNAL_JS_CHECK */
      else logger.warn('blocked a new window', { host: hostOf(url) });
      return { action: 'deny' };
    });
    contents.on('will-attach-webview', (event) => event.preventDefault());
  });

  app.whenReady().then(() => {
    const ses = session.defaultSession;
    // app:// responses carry the CSP from their protocol handler (app-protocol.electron.ts);
    // this covers the dev server and any http(s) response that might ever reach a renderer.
    ses.webRequest.onHeadersReceived((details, callback) => {
      callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
    });
    ses.setPermissionRequestHandler((_contents, permission, callback) => {
      logger.warn('denied a permission request', { permission });
      callback(false);
    });
    ses.setPermissionCheckHandler(() => false);
    ses.setDevicePermissionHandler(() => false);
    ses.setDisplayMediaRequestHandler((_request, callback) => callback({}));
  });
}

function hostOf(url: string): string {
  try {
    return new URL(url).host || new URL(url).protocol;
  } catch {
    return '(not a URL)';
  }
}
