import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditLog } from '../../../electron/audit/audit-log.nodejs';
import { LOG_FILE } from '../../../electron/audit/record.nodejs';
import { dataPaths } from '../../../electron/core/paths.nodejs';
import { KeyUsageService } from '../../../electron/lifecycle/usage.nodejs';
import { auditKeyName } from '../../../electron/lifecycle/usage.std';
import type { LifecycleSystemUsageView } from '../../../shared/contract/lifecycle.std';
import type { PciReport } from '../../../shared/contract/report.std';
import { mkmOn } from '../../helpers/mkm-cli';
import { createSoftHsmToken, softHsmAvailable, type SoftHsmToken } from '../../helpers/softhsm';
import { openApp } from '../../helpers/app';

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
    const app = openApp(dataDir, hsm.modulePath, { usageFlushMs: 0 });
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
      const counted = () => app.usage.entryOf({ auditKey: auditKeyName(key) })?.operations['audit-seal'] ?? 0;
      expect(counted()).toBe(before.length);
      const N = 3;
      for (let i = 0; i < N; i++) {
        await call('lifecycle.create', { name: `sealed ${i}`, purpose: 'data' });
        await log().seal();
      }
      const after = seals();
      expect(after.length - before.length).toBeGreaterThanOrEqual(N);
      expect(counted() - before.length).toBe(after.length - before.length);
      // The PCI report's crypto-period evidence (3.7.4) names the audit key and its seals.
      app.usage.flush();
      const report = await app.registry.dispatch('report.pci', {}, { transport: 'cli' });
      if (!report.ok) throw new Error(report.error.code);
      const facts = (report.result as PciReport).requirements.find((r) => r.id === '3.7.4')!.facts;
      const fact = facts.find((f) => f.label === `Uses: audit key ${key.id} (KCV ${key.kcv})`)?.value;
      expect(fact).toMatch(new RegExp(`^${counted()} seals \\(audit log ${counted()}, state files 0\\)$`));
    } finally {
      await app.close();
    }
    // Written at close with the last seal: another process reads the same count from the file.
    const total = seals().length;
    const again = new KeyUsageService({ inventoryDir: join(dataDir, 'keys'), audit: () => {}, flushMs: 0 });
    const name = again.auditKeys()[0]!;
    expect(again.auditKeys()).toEqual([auditKeyName(seals().at(-1)!.sealKey)]);
    expect(again.entryOf({ auditKey: name })!.operations['audit-seal']).toBe(total);
    // `mkm keys system-usage`, its own process: the same count from the file.
    const cli = mkmOn(() => ({ dataDir, token: hsm }));
    const json = await cli(['keys', 'system-usage', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const view = JSON.parse(json.stdout) as LifecycleSystemUsageView;
    expect(view.auditKeys).toEqual([
      expect.objectContaining({
        uses: total,
        operations: { 'audit-seal': total },
        lastOperation: 'audit-seal',
      }),
    ]);
    expect(`${view.auditKeys[0]!.id}:${view.auditKeys[0]!.kcv}`).toBe(name);
    const text = await cli(['keys', 'system-usage']);
    expect(text.stdout).toContain(`(KCV ${view.auditKeys[0]!.kcv}): ${total} uses; last `);
  }, 120_000);
});
