import type { SenderInfo } from './registry.nodejs';

/**
 * Who may call main, per transport. Kept apart from Electron so the rules are unit-tested
 * without an Electron binary.
 */
export function appUrlMatcher(appUrl: string): (url: string) => boolean {
  const expected = new URL(appUrl);
  if (expected.protocol !== 'app:' && expected.protocol !== 'http:') {
    // file:// and the rest have no origin of their own to compare: the app never runs there.
    throw new Error(`not an app URL: ${expected.protocol}`);
  }
  return (url: string) => {
    try {
      const parsed = new URL(url);
      if (parsed.username || parsed.password) return false;
      // Node gives app:// (a scheme it does not know as standard) an opaque origin: the scheme
      // and host are the app's identity, as Chromium's origin for the privileged scheme is.
      return expected.protocol === 'app:'
        ? parsed.protocol === 'app:' && parsed.host === expected.host
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
