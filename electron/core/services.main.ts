import type { AppAudit } from '../audit/app-audit.main';
import type { GatewayService } from '../gateway/gateway-service.main';
import type { TokensService } from '../hsm/tokens.main';
import type { KeyLifecycleService } from '../keys/lifecycle.main';
import type { KeyUsageService } from '../keys/usage.main';
import type { Settings } from '../../shared/contract.std';
import type { Logger } from './logger.main';
import type { DataPaths } from './paths.main';
import type { EventBus } from './registry.main';
import type { AppOptions } from './app.main';
import type { FileDialogs, FileHandles } from './destination.main';

/**
 * What a domain's handlers may use: the services `createApp` composed once. Each domain's
 * `handlers.main.ts` takes this and returns its slice of the contract's handlers, so a new
 * domain is wired without touching the others.
 */
export interface AppServices {
  mode: AppOptions['mode'];
  packaged: boolean;
  paths: DataPaths;
  logger: Logger;
  events: EventBus;
  settings(): Settings;
  tokens: TokensService;
  audit: AppAudit;
  gateway: GatewayService;
  /** Opens on first use (it holds a lock on its folder). */
  keyLifecycle(): KeyLifecycleService;
  /** Every use of a key is counted here (see electron/keys/usage.main.ts). */
  usage: KeyUsageService;
  /** Electron's main-side file dialogs; absent in browser mode and the CLI. */
  dialogs?: FileDialogs | undefined;
  /** Inputs picked or uploaded, outputs waiting for download: pages hold ids, never paths. */
  files: FileHandles;
  /** Work to finish or cancel before the token host stops (e.g. a batch in flight). */
  onClose(fn: () => Promise<void> | void): void;
}
