import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditLog } from '../../../electron/audit/audit-log.main';
import { LOG_FILE } from '../../../electron/audit/record.main';
import { createApp } from '../../../electron/core/app.main';
import { dataPaths } from '../../../electron/core/paths.main';
import { silentLogger } from '../../../electron/core/logger.main';
import { KeyUsageService, keyUsage } from '../../../electron/keys/usage.main';
import { auditKeyName } from '../../../electron/keys/usage.std';
import { createSoftHsmToken, softHsmAvailable, type SoftHsmToken } from '../../helpers/softhsm';

/**
 * Audit seals are uses of mkm's audit key on the token: the real app on a SoftHSM2 token seals
 * its log after audited actions, and the audit key's count (per its CKA_ID and KCV) moves by
 * exactly the seals written to the log.
 */
let hsm: SoftHsmToken;
let dataDir: string;

beforeAll(() => {
  hsm = createSoftHsmToken({ label: 'usage-seals' });
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-usage-seals-'));
});
afterAll(() => {
  hsm?.cleanup();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

interface SealLine {
  type: string;
  sealKey: { id: string; kcv: string };
}
const seals = (): SealLine[] =>
  readFileSync(join(dataPaths(dataDir).audit, LOG_FILE), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"type":"seal"'))
    .map((l) => JSON.parse(l) as SealLine);

describe.skipIf(!softHsmAvailable())('audit seals counted as uses of the audit key', () => {
  it('after N audited actions each sealed, the audit key counted exactly the seals in the log', async () => {
    const app = createApp({
      mode: 'browser',
      dataDir,
      moduleOverride: hsm.modulePath,
      isTrustedSender: () => true,
      logger: silentLogger,
      usageFlushMs: 0,
    });
    const call = async (channel: string, request: unknown) => {
      const e = await app.registry.dispatch(channel, request, { transport: 'cli' });
      if (!e.ok) throw new Error(`${channel}: ${e.error.code} ${e.error.message}`);
    };
    // The seam a timer or a batch of entries would trigger: sealing now, so the test waits for no time.
    const log = () => (app.audit as unknown as { log: AuditLog }).log;
    try {
      await call('tokens.login', { slotId: hsm.slotId, pin: hsm.userPin });
      const before = seals();
      expect(before.length).toBeGreaterThan(0);
      const key = before.at(-1)!.sealKey;
      const counted = () =>
        keyUsage()!.entryOf({ auditKey: auditKeyName(key) })?.operations['audit-seal'] ?? 0;
      expect(counted()).toBe(before.length);
      const N = 3;
      for (let i = 0; i < N; i++) {
        await call('lifecycle.create', { name: `sealed ${i}`, purpose: 'data' });
        await log().seal();
      }
      const after = seals();
      expect(after.length - before.length).toBeGreaterThanOrEqual(N);
      expect(counted() - before.length).toBe(after.length - before.length);
    } finally {
      await app.close();
    }
    // Written at close with the last seal: another process reads the same count from the file.
    const total = seals().length;
    const again = new KeyUsageService({ inventoryDir: join(dataDir, 'keys'), audit: () => {}, flushMs: 0 });
    const name = again.auditKeys()[0]!;
    expect(again.auditKeys()).toEqual([auditKeyName(seals().at(-1)!.sealKey)]);
    expect(again.entryOf({ auditKey: name })!.operations['audit-seal']).toBe(total);
  }, 120_000);
});
