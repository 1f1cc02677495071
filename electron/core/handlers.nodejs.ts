import pkg from '../../package.json' with { type: 'json' };
import type { AppStatus, Contract, Settings } from '../../shared/contract.std';
import { EXTERNAL_URL_ALLOWLIST } from '../../shared/contract/app.std';
import { MkmError } from '../../shared/errors.std';
import { pgpWordsOfHex } from '../../shared/formats/pgp-words.std';
import { buildHash, runningCodeRoots } from './build-hash.nodejs';
import type { TokensService } from '../hsm/tokens.nodejs';
import type { Logger } from './logger.nodejs';
import type { EventBus, Handlers } from './registry.nodejs';
import { DEFAULT_SETTINGS, type OpenedStore } from './store.nodejs';

export function isAllowedExternalUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol !== 'https:' || parsed.username || parsed.password) return false;
  return EXTERNAL_URL_ALLOWLIST.some((prefix) => {
    const allowed = new URL(prefix);
    return parsed.origin === allowed.origin && parsed.pathname.startsWith(allowed.pathname);
  });
}

export interface AppHandlerDeps {
  mode: AppStatus['mode'];
  packaged: boolean;
  versions?: { electron: string | null; chrome: string | null } | undefined;
  dataDir: string;
  startedAt: string;
  store: Pick<OpenedStore, 'movedAside' | 'restoredFrom'>;
  tokens: TokensService;
  logger: Logger;
  /** Opens a URL in the OS browser; only allow-listed URLs reach it. */
  openExternal?: ((url: string) => Promise<void>) | undefined;
}

/** The `app.*` channels. */
export function appHandlers(deps: AppHandlerDeps): Handlers<Contract>['app'] {
  const { tokens, logger } = deps;
  let built: { sha256: string; roots: string[] } | null = null;
  return {
    buildHash: () => {
      if (!built) {
        const roots = runningCodeRoots();
        built = { sha256: buildHash(roots), roots };
      }
      return { version: pkg.version, ...built, words: pgpWordsOfHex(built.sha256) };
    },
    status: (): AppStatus => ({
      app: { name: pkg.productName, version: pkg.version, packaged: deps.packaged },
      mode: deps.mode,
      runtime: {
        node: process.versions.node,
        electron: deps.versions?.electron ?? null,
        chrome: deps.versions?.chrome ?? null,
        platform: process.platform,
        arch: process.arch,
      },
      dataDir: deps.dataDir,
      startedAt: deps.startedAt,
      store: { ok: deps.store.movedAside === null, restoredFrom: deps.store.restoredFrom },
      hsm: (() => {
        // The library really in use (a CLI --module included), not only the saved choice.
        const inUse = tokens.inUse();
        return {
          modulePath: inUse.path,
          demo: inUse.source === 'demo',
          source: inUse.source,
          parameters: inUse.parameters,
          library: inUse.info
            ? `${inUse.info.manufacturer} ${inUse.info.libraryDescription} ${inUse.info.libraryVersion}`.trim()
            : null,
          waiting: tokens.operations.waiting(),
        };
      })(),
    }),
    openExternal: async ({ url }) => {
      if (!isAllowedExternalUrl(url) || !deps.openExternal) {
        logger.warn('refused to open an external link', { host: safeHost(url) });
        return { opened: false };
      }
      await deps.openExternal(url); /* eng-disable OPEN_EXTERNAL_JS_CHECK: allow-listed above */
      return { opened: true };
    },
  };
}

export interface SettingsHandlerDeps {
  settings(): Settings;
  /** Writes the whole settings object to the store. */
  save(next: Settings): void;
  events: EventBus;
  tokens: TokensService;
  logger: Logger;
}

/** The `settings.*` channels. */
export function settingsHandlers(deps: SettingsHandlerDeps): Handlers<Contract>['settings'] {
  const { settings, events, tokens, logger } = deps;
  return {
    get: () => settings(),
    update: (patch) => {
      let next: Settings = DEFAULT_SETTINGS;
      try {
        // Read inside: a settings file that cannot be read is a disk problem too.
        next = { ...settings() };
        for (const [key, value] of Object.entries(patch)) {
          if (value !== undefined) (next as unknown as Record<string, unknown>)[key] = value;
        }
        deps.save(next);
      } catch (error) {
        // A disk that refuses the write is no fault of the settings (the file is unchanged).
        const errno = (error as { code?: unknown }).code;
        if (typeof errno === 'string' && /^E[A-Z]+$/.test(errno)) {
          throw new MkmError('IO_ERROR', 'The settings file could not be read or written; it is unchanged.', {
            reason: errno,
          });
        }
        throw new MkmError(
          'VALIDATION',
          'The settings were not saved: they do not fit the settings schema.',
          {
            reason: error instanceof Error ? error.message.slice(0, 200) : 'unknown',
          },
        );
      }
      if (patch.theme) events.emit('settings.changed', { theme: patch.theme });
      if (patch.idleLogoutMinutes) tokens.setIdleLogout(patch.idleLogoutMinutes * 60_000);
      logger.info('settings changed', { fields: Object.keys(patch) });
      return next;
    },
  };
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(not a URL)';
  }
}
