import type { SenderInfo } from './registry.main';

/**
 * Who may call main, per transport. Kept apart from Electron so the rules are unit-tested
 * without an Electron binary.
 */
export function appUrlMatcher(appUrl: string): (url: string) => boolean {
  const expected = new URL(appUrl);
  return (url: string) => {
    try {
      const parsed = new URL(url);
      // file:// has no origin to compare: the exact index.html path is the app's identity.
      return expected.protocol === 'file:'
        ? parsed.protocol === 'file:' &&
            parsed.pathname === expected.pathname &&
            parsed.host === expected.host
        : parsed.origin === expected.origin;
    } catch {
      return false;
    }
  };
}

export function isTrustedElectronSender(
  sender: SenderInfo,
  expected: { webContentsId: number | null; isAppUrl: (url: string) => boolean },
): boolean {
  return (
    sender.transport === 'electron' &&
    expected.webContentsId !== null &&
    sender.webContentsId === expected.webContentsId &&
    sender.isMainFrame &&
    expected.isAppUrl(sender.frameUrl)
  );
}
