import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../electron/core/logger.nodejs';
import { EventBus } from '../../electron/core/registry.nodejs';
import { createNodeHostSpawner } from '../../electron/hsm/node-spawner.nodejs';
import { TokensService } from '../../electron/hsm/tokens.nodejs';
import type { Settings } from '../../shared/contract.std';

/**
 * mkm's main-process path as the app builds it: TokensService over HsmClient over a forked host
 * process, pointed at the token's library the way the CLI's --module does. Kept apart from the
 * other bench helpers so the memory benchmark can bundle it like a build would.
 */
export interface MkmTokens {
  tokens: TokensService;
  hostPid(): Promise<number>;
  close(): Promise<void>;
}

export interface MkmTokensOptions {
  /** A bundled host entry (no tsx); default: the TypeScript source through tsx, as `mkm` runs it. */
  hostEntry?: string;
}

export function mkmTokens(modulePath: string, options: MkmTokensOptions = {}): MkmTokens {
  const dataDir = mkdtempSync(join(tmpdir(), 'mkm-bench-data-'));
  // The app's defaults (DEFAULT_SETTINGS), without the settings store.
  let settings: Settings = {
    theme: 'system',
    idleLogoutMinutes: 5,
    confirmDemoToken: false,
    firstRunGuideDismissed: false,
  };
  const { hostEntry } = options;
  const tokens = new TokensService({
    dataDir,
    logger: silentLogger,
    events: new EventBus(silentLogger),
    settings: {
      get: () => settings,
      update: (patch) => (settings = { ...settings, ...patch }),
    },
    packaged: false,
    // The host inherits this process's environment, where SOFTHSM2_CONF points at the token.
    moduleOverride: modulePath,
    watchSlots: false,
    ...(hostEntry ? { spawnerFor: (env) => createNodeHostSpawner({ env, hostEntry }) } : {}),
  });
  return {
    tokens,
    async hostPid() {
      const pid = (await tokens.hsm()).hostPid;
      if (pid === undefined) throw new Error('the token host is not running');
      return pid;
    },
    async close() {
      await tokens.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** VmRSS of a live process, in KiB. */
export function rssKiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}
