import { describe, expect, it } from 'vitest';
import { appUrlMatcher, isTrustedElectronSender } from '../../../electron/core/sender-policy.main';

describe('Electron sender policy', () => {
  const isAppUrl = appUrlMatcher('file:///opt/mkm/resources/app.asar/dist/renderer/index.html');
  const good = {
    transport: 'electron' as const,
    webContentsId: 7,
    isMainFrame: true,
    frameUrl: 'file:///opt/mkm/resources/app.asar/dist/renderer/index.html',
  };

  it('accepts only the main frame of the app window at the app URL', () => {
    expect(isTrustedElectronSender(good, { webContentsId: 7, isAppUrl })).toBe(true);
  });

  it.each([
    ['a sub-frame', { ...good, isMainFrame: false }],
    ['another window', { ...good, webContentsId: 8 }],
    ['another file', { ...good, frameUrl: 'file:///tmp/evil.html' }],
    ['a web page', { ...good, frameUrl: 'https://evil.test/index.html' }],
    [
      'a page with a path trick',
      { ...good, frameUrl: 'file:///opt/mkm/resources/app.asar/dist/renderer/index.html/../../x' },
    ],
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
  });
});
