import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSP } from '../../../shared/csp.std';
import {
  APP_INDEX_URL,
  rendererHeaders,
  rendererUrl,
  resolveAppUrl,
} from '../../../electron/core/renderer-files.nodejs';

/**
 * The app:// protocol's file root (issue 10, point 6): a URL names a file under the renderer's
 * folder or nothing. Real files and symlinks in a temp folder; Electron itself is not needed.
 */
let base: string;
let root: string;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'mkm-app-proto-'));
  root = join(base, 'renderer');
  mkdirSync(join(root, 'assets'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html>');
  writeFileSync(join(root, 'assets', 'index-abc.js'), 'export {}');
  writeFileSync(join(root, 'assets', 'index-abc.css'), 'body{}');
  writeFileSync(join(root, 'assets', 'font.woff2'), 'w');
  writeFileSync(join(root, 'assets', 'notes.txt'), 'unknown type');
  writeFileSync(join(root, '.env'), 'SECRET=1');
  writeFileSync(join(base, 'outside.js'), 'stolen');
  writeFileSync(join(base, 'secret.html'), 'stolen');
  symlinkSync(join(base, 'outside.js'), join(root, 'assets', 'link-out.js'));
  symlinkSync(join(root, 'assets', 'index-abc.js'), join(root, 'assets', 'link-in.js'));
  symlinkSync(base, join(root, 'up'));
  mkdirSync(join(root, 'dir.js'));
});

afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('app:// resolution', () => {
  it.each([
    ['app://mkm/index.html', 'index.html', 'text/html; charset=utf-8'],
    ['app://mkm/', 'index.html', 'text/html; charset=utf-8'],
    ['app://mkm/assets/index-abc.js', 'assets/index-abc.js', 'text/javascript; charset=utf-8'],
    ['app://mkm/assets/index-abc.js?v=1#x', 'assets/index-abc.js', 'text/javascript; charset=utf-8'],
    ['app://mkm/assets/index-abc.css', 'assets/index-abc.css', 'text/css; charset=utf-8'],
    ['app://mkm/assets/font.woff2', 'assets/font.woff2', 'font/woff2'],
    ['app://mkm/assets/link-in.js', 'assets/index-abc.js', 'text/javascript; charset=utf-8'],
    ['app://mkm/assets/index%2Dabc.js', 'assets/index-abc.js', 'text/javascript; charset=utf-8'],
  ])('serves %s', (url, file, type) => {
    expect(resolveAppUrl(root, url)).toEqual({ ok: true, file: join(root, file), type });
  });

  it.each([
    // The URL parser folds an encoded `..` itself: what is left is looked up under the root.
    ['a parent segment, encoded', 'app://mkm/%2e%2e/secret.html', 404],
    ['a parent segment, half encoded', 'app://mkm/assets/.%2E/.%2e/secret.html', 404],
    // Decoded once only: `%2e%2e` is then a folder name, and there is none.
    ['a parent segment, double encoded', 'app://mkm/%252e%252e/secret.html', 404],
    ['an encoded slash and parent', 'app://mkm/assets%2f..%2f..%2fsecret.html', 403],
    ['a backslash', 'app://mkm/assets%5c..%5c..%5csecret.html', 400],
    ['a NUL byte', 'app://mkm/index.html%00.js', 400],
    ['broken percent-encoding', 'app://mkm/%E0%A4%A.js', 400],
    ['a hidden file', 'app://mkm/.env', 403],
    ['an unknown extension', 'app://mkm/assets/notes.txt', 403],
    ['no extension', 'app://mkm/assets', 403],
    ['a symlink out of the root', 'app://mkm/assets/link-out.js', 404],
    ['a symlinked folder out of the root', 'app://mkm/up/outside.js', 404],
    ['a folder', 'app://mkm/dir.js', 404],
    ['a missing file', 'app://mkm/assets/missing.js', 404],
    ['another host', 'app://evil/index.html', 404],
    ['credentials', 'app://user:pw@mkm/index.html', 404],
    ['another scheme', 'file:///etc/passwd.html', 404],
    ['not a URL', 'not a url', 400],
  ])('refuses %s', (_label, url, status) => {
    expect(resolveAppUrl(root, url)).toEqual({ ok: false, status });
  });

  it('answers with the CSP and no sniffing', () => {
    expect(rendererHeaders('text/html; charset=utf-8')).toMatchObject({
      'Content-Security-Policy': CSP,
      'X-Content-Type-Options': 'nosniff',
      'Content-Type': 'text/html; charset=utf-8',
    });
    expect(CSP).toContain("script-src 'self'");
    expect(CSP).not.toMatch(/unsafe-|file:|https?:|\*/);
  });
});

describe('the URL the window loads', () => {
  it('is the app protocol when packaged, whatever VITE_DEV_SERVER_URL says', () => {
    expect(rendererUrl({ packaged: true, devServerUrl: 'http://localhost:5173/' })).toBe(APP_INDEX_URL);
    expect(rendererUrl({ packaged: true, devServerUrl: undefined })).toBe('app://mkm/index.html');
  });

  it('is a local dev server only when unpackaged', () => {
    expect(rendererUrl({ packaged: false, devServerUrl: 'http://localhost:5173/' })).toBe(
      'http://localhost:5173/',
    );
    expect(rendererUrl({ packaged: false, devServerUrl: 'https://evil.test/' })).toBe(APP_INDEX_URL);
    expect(rendererUrl({ packaged: false, devServerUrl: 'http://evil.test:5173/' })).toBe(APP_INDEX_URL);
    expect(rendererUrl({ packaged: false, devServerUrl: 'nonsense' })).toBe(APP_INDEX_URL);
  });
});
