import { realpathSync, statSync } from 'node:fs';
import { extname, join, sep } from 'node:path';
import { CSP } from '../../shared/csp.std';

/**
 * Which file of the built renderer a URL names, for Electron's `app://` protocol and browser
 * mode's HTTP server alike. Only files under the root, by their real path (a symlink out of the
 * root is refused), with a known extension (served with its own MIME type, never sniffed); no
 * `..` or `.` segment, encoded or not, no hidden file, no backslash or NUL.
 */
export const RENDERER_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
};

/** Headers on every renderer response, app:// and browser mode's HTTP alike. */
export function rendererHeaders(type?: string): Record<string, string> {
  return {
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
    'Cross-Origin-Opener-Policy': 'same-origin',
    ...(type ? { 'Content-Type': type } : {}),
  };
}

/** The packaged app's own origin: a standard, secure scheme with one host. */
export const APP_SCHEME = 'app';
export const APP_HOST = 'mkm';
export const APP_INDEX_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

export type RendererFile = { ok: true; file: string; type: string } | { ok: false; status: 400 | 403 | 404 };

/** A URL path (still percent-encoded, as URL.pathname gives it) to a file under `root`. */
export function resolveRendererPath(root: string, encodedPathname: string): RendererFile {
  let decoded: string;
  try {
    decoded = decodeURIComponent(encodedPathname);
  } catch {
    return { ok: false, status: 400 };
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return { ok: false, status: 400 };
  const segments = decoded.split('/').filter((s) => s !== '');
  if (segments.some((s) => s.startsWith('.'))) return { ok: false, status: 403 };
  if (segments.length === 0) segments.push('index.html');
  const type = RENDERER_TYPES[extname(segments.at(-1)!).toLowerCase()];
  if (!type) return { ok: false, status: 403 };
  let realRoot: string;
  let file: string;
  try {
    realRoot = realpathSync(root);
    file = realpathSync(join(realRoot, ...segments));
  } catch {
    return { ok: false, status: 404 };
  }
  if (!file.startsWith(realRoot + sep)) return { ok: false, status: 404 };
  try {
    if (!statSync(file).isFile()) return { ok: false, status: 404 };
  } catch {
    return { ok: false, status: 404 };
  }
  return { ok: true, file, type };
}

/** An `app://mkm/...` URL to a file under `root`; any other scheme or host is not ours. */
export function resolveAppUrl(root: string, url: string): RendererFile {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, status: 400 };
  }
  if (
    parsed.protocol !== `${APP_SCHEME}:` ||
    parsed.host !== APP_HOST ||
    parsed.username ||
    parsed.password
  ) {
    return { ok: false, status: 404 };
  }
  return resolveRendererPath(root, parsed.pathname);
}

/**
 * The URL Electron's window loads: the app's own protocol, or (unpackaged only) a local Vite dev
 * server. A packaged app ignores VITE_DEV_SERVER_URL: it loads only itself.
 */
export function rendererUrl(options: { packaged: boolean; devServerUrl: string | undefined }): string {
  if (options.packaged || !options.devServerUrl) return APP_INDEX_URL;
  try {
    const dev = new URL(options.devServerUrl);
    if (dev.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(dev.hostname)) {
      return dev.toString();
    }
  } catch {
    // not a URL: ignored like any non-local one
  }
  return APP_INDEX_URL;
}
