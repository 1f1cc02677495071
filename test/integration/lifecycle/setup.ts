import type { AuditAppend } from '../../../electron/audit/audit-log.nodejs';
import { silentLogger } from '../../../electron/core/logger.nodejs';
import { EventBus } from '../../../electron/core/registry.nodejs';
import { DEFAULT_SETTINGS } from '../../../electron/core/store.nodejs';
import { TokensService } from '../../../electron/hsm/tokens.nodejs';
import type { Settings } from '../../../shared/contract.std';

/**
 * The real token path for key lifecycle tests: TokensService → HSM host process → SoftHSM2,
 * with the module chosen by override exactly as `mkm --module` does. SOFTHSM2_CONF comes from
 * createSoftHsmToken (process.env, inherited by the host process).
 */
export async function openTokens(options: {
  dataDir: string;
  modulePath: string;
  slotId: number;
  pin: string;
}): Promise<TokensService> {
  let settings: Settings = { ...DEFAULT_SETTINGS };
  const tokens = new TokensService({
    dataDir: options.dataDir,
    logger: silentLogger,
    events: new EventBus(silentLogger),
    packaged: false,
    moduleOverride: options.modulePath,
    settings: {
      get: () => settings,
      update: (patch) => (settings = { ...settings, ...patch }),
    },
  });
  await tokens.call('login', { slotId: options.slotId, pin: options.pin });
  return tokens;
}

/** A controllable clock: tests move time, they never sleep. */
export function testClock(start = '2026-01-01T00:00:00.000Z') {
  let now = new Date(start);
  return {
    now: () => new Date(now),
    set: (iso: string) => (now = new Date(iso)),
    advanceDays: (days: number) => (now = new Date(now.getTime() + days * 86_400_000)),
  };
}

export function auditCollector() {
  const entries: AuditAppend[] = [];
  return {
    entries,
    audit: (e: AuditAppend) => void entries.push(e),
    actions: () => entries.map((e) => e.action),
  };
}
