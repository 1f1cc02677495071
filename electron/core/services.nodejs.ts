import type { AppAudit } from '../audit/app-audit.nodejs';
import type { GatewayService } from '../gateway/gateway-service.nodejs';
import type { TokensService } from '../hsm/tokens.nodejs';
import type { KeyLifecycleService } from '../lifecycle/lifecycle.nodejs';
import type { KeyUsageService } from '../lifecycle/usage.nodejs';
import type { AppStatus, Settings } from '../../shared/contract.std';
import type { DiagnosisSummary } from '../../shared/contract/troubleshoot.std';
import type { Logger } from './logger.nodejs';
import type { DataPaths } from './paths.nodejs';
import type { EventBus } from './registry.nodejs';
import type { FileDialogs, FileHandles } from './destination.nodejs';

/**
 * The services `createApp` composed once. Every domain's handler factory takes what it uses by
 * name: most take their services one by one (`handlers.nodejs.ts`); the console's and the
 * troubleshooter's name the slice of this they read (`BatchFileDeps`, `DiagnoseDeps`).
 */
export interface AppServices {
  mode: AppStatus['mode'];
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
  /** The app's clock (AppOptions.clock); Date.now when absent. */
  clock?: () => number;
  /** Every use of a key is counted here (see electron/lifecycle/usage.nodejs.ts). */
  usage: KeyUsageService;
  /** Electron's main-side file dialogs; absent in browser mode and the CLI. */
  dialogs?: FileDialogs | undefined;
  /** Inputs picked or uploaded, outputs waiting for download: pages hold ids, never paths. */
  files: FileHandles;
  /**
   * The troubleshooter's last diagnoses, newest first (metadata only: codes, sizes): written by
   * `troubleshoot.diagnose`, read by `troubleshoot.recent` and the support bundle.
   */
  diagnoses: DiagnosisSummary[];
  /** Work to finish or cancel before the token host stops (e.g. a batch in flight). */
  onClose(fn: () => Promise<void> | void): void;
}
