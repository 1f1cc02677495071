import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { AuditLog, verifyAuditLog } from '../../../electron/audit/audit-log.nodejs';
import { HmacSealer } from '../../../electron/audit/software-sealer.nodejs';
import type { App } from '../../../electron/core/app.nodejs';
import type { TokensService } from '../../../electron/hsm/tokens.nodejs';
import { createFaultyModule, type FaultyModule } from '../../helpers/faulty-module';
import { realTokenObjects, tornFiles, type RealObject } from '../../helpers/real-token';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { openTokens } from '../lifecycle/setup';
import { openApp } from '../../helpers/app';

/**
 * What every fault case shares: a SoftHSM2 token reached only through the faulty module (the
 * real HSM host process loads it, as `mkm --module` would), a data folder, an audit log, and
 * the checks that must hold after any fault.
 */

/** `npm run test:faults` (MKM_FAULTS=all) runs every case; `npm test` a spread subset. */
export const ALL_FAULTS = process.env.MKM_FAULTS === 'all';

/** The answers a failing token gives, taken in turn by the generated cases. */
export const FAULT_KINDS = [
  'CKR_DEVICE_ERROR',
  'remove',
  'CKR_DEVICE_REMOVED',
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_DEVICE_MEMORY',
  'replug',
  // The token did the work, then reported a failure: the nastiest answer for a journal.
  'CKR_DEVICE_ERROR after',
] as const;

export interface Bench {
  hsm: SoftHsmToken;
  faulty: FaultyModule;
  /** The data folder (everything mkm writes lives under it). */
  root: string;
  tokens: TokensService;
  audit: AuditLog;
  auditDir: string;
  sealer: HmacSealer;
  /** The admin puts the token back in order and logs in again. */
  recover(): Promise<void>;
  /** Straight from SoftHSM2, never through the faulty module or the host. */
  objects(): RealObject[];
  close(): Promise<void>;
}

export async function openBench(label: string): Promise<Bench> {
  const hsm = createSoftHsmToken({ label });
  const faulty = createFaultyModule();
  const root = mkdtempSync(join(tmpdir(), `mkm-faults-${label}-`));
  const tokens = await openTokens({
    dataDir: root,
    modulePath: faulty.path,
    slotId: hsm.slotId,
    pin: hsm.userPin,
  });
  const auditDir = join(root, 'audit');
  const sealer = new HmacSealer();
  const audit = await AuditLog.open({
    dir: auditDir,
    actor: { osUser: 'admin', token: { serial: hsm.serial, label: hsm.label } },
    sealer,
    durable: false,
  });
  return {
    hsm,
    faulty,
    root,
    tokens,
    audit,
    auditDir,
    sealer,
    async recover() {
      faulty.clear();
      await tokens.call('login', { slotId: hsm.slotId, pin: hsm.userPin });
    },
    objects: () => realTokenObjects({ slotId: hsm.slotId, pin: hsm.userPin }),
    async close() {
      await audit.close();
      await tokens.close();
      faulty.cleanup();
      hsm.cleanup();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The app as browser mode runs it (its registry, channels and events) over the faulty module. */
export function openFaultyApp(options: { dataDir: string; faulty: FaultyModule; watchSlots?: boolean }): App {
  return openApp(options.dataDir, options.faulty.path, { watchSlots: options.watchSlots ?? false });
}

/** The audit chain (and its seals) verify, and no JSON or JSONL file in the data folder is torn. */
export async function checkFilesAndAudit(bench: Bench): Promise<void> {
  await bench.audit.flush();
  const report = await verifyAuditLog({ dir: bench.auditDir, sealer: bench.sealer });
  expect(report.firstBad ?? null, JSON.stringify(report.firstBad)).toBeNull();
  expect(report.ok).toBe(true);
  const torn = tornFiles(bench.root);
  tally.torn += torn.length;
  expect(torn).toEqual([]);
}

/** An error a fault may end an operation with: typed, with a stable code, never a crash. */
export function expectTypedError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  expect(typeof code, String(error)).toBe('string');
  expect(code).toMatch(/^[A-Z][A-Z0-9_]+$/);
  expect(code).not.toBe('INTERNAL');
  return code as string;
}

/** The figures the run prints at the end (see tally.global.ts). */
const tally = { torn: 0 };

/**
 * Wraps a fault case: records whether it survived (its body passed) and how many torn files it
 * saw, in the run's tally file.
 */
export async function faultCase(area: string, name: string, body: () => Promise<void>): Promise<void> {
  const tornBefore = tally.torn;
  let survived = false;
  try {
    await body();
    survived = true;
  } finally {
    const file = process.env.MKM_FAULT_TALLY;
    if (file) {
      appendFileSync(file, JSON.stringify({ area, name, survived, torn: tally.torn - tornBefore }) + '\n');
    }
  }
}
