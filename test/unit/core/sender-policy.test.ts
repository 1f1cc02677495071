import { describe, expect, it } from 'vitest';
import { APP_INDEX_URL } from '../../../electron/core/renderer-files.nodejs';
import { appUrlMatcher, isTrustedElectronSender } from '../../../electron/core/sender-policy.nodejs';

describe('Electron sender policy', () => {
  const isAppUrl = appUrlMatcher(APP_INDEX_URL);
  const good = {
    transport: 'electron' as const,
    webContentsId: 7,
    isMainFrame: true,
    frameUrl: 'app://mkm/index.html',
  };

  it('accepts only the main frame of the app window on the app:// origin', () => {
    expect(isTrustedElectronSender(good, { webContentsId: 7, isAppUrl })).toBe(true);
    expect(
      isTrustedElectronSender({ ...good, frameUrl: 'app://mkm/#/keys' }, { webContentsId: 7, isAppUrl }),
    ).toBe(true);
  });

  it.each([
    ['a sub-frame', { ...good, isMainFrame: false }],
    ['another window', { ...good, webContentsId: 8 }],
    ['another app:// host', { ...good, frameUrl: 'app://evil/index.html' }],
    ['a host that starts like ours', { ...good, frameUrl: 'app://mkm.evil/index.html' }],
    ['credentials in the URL', { ...good, frameUrl: 'app://x@mkm/index.html' }],
    [
      'a file:// page, even the built index',
      { ...good, frameUrl: 'file:///opt/mkm/dist/renderer/index.html' },
    ],
    ['a web page', { ...good, frameUrl: 'https://evil.test/index.html' }],
    ['garbage', { ...good, frameUrl: 'not a url' }],
  ])('refuses %s', (_label, sender) => {
    expect(isTrustedElectronSender(sender, { webContentsId: 7, isAppUrl })).toBe(false);
  });

  it('refuses everything before the window exists', () => {
    expect(isTrustedElectronSender(good, { webContentsId: null, isAppUrl })).toBe(false);
  });

  it('matches a dev server by origin', () => {
    const dev = appUrlMatcher('http://localhost:5173/');
    expect(dev('http://localhost:5173/some/route')).toBe(true);
    expect(dev('http://localhost:5174/')).toBe(false);
    expect(dev('app://mkm/index.html')).toBe(false);
  });

  it('has no file:// app URL to match', () => {
    expect(() => appUrlMatcher('file:///opt/mkm/index.html')).toThrow();
  });
});
