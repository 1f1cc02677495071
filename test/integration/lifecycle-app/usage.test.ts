import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuditEntryView, LifecycleKeyView } from '../../../shared/contract.std';
import type { LifecycleUsageView } from '../../../shared/contract/lifecycle.std';
import type { BatchSummary, ConsoleKeyInfo } from '../../../shared/contract/console.std';
import type { PciReport } from '../../../shared/contract/report.std';
import { dataPaths } from '../../../electron/core/paths.nodejs';
import { mkmOn } from '../../helpers/mkm-cli';
import { softHsmAvailable } from '../../helpers/softhsm';
import { createConsoleRig, type ConsoleRig } from '../console/setup';

/**
 * Every use path counts where it happens, into the version it used (and only that one), through
 * the real app on a real SoftHSM2 token with the real sandbox gateway: the key-set unwrap under
 * a managed transport key (console message), AES batches under a managed data key (batch
 * --key), exchange package signatures under a managed signing key, and client-side encryption
 * under the pinned gateway key (counted per fingerprint). A version at its limit is refused
 * before the token is asked; 80 % warns in the log and in the due report.
 */
let rig: ConsoleRig;
let dir: string;
let transport: { logicalKeyId: string; versionId: string; ckaId: string };
let data: { logicalKeyId: string; versionId: string; ckaId: string };
let signing: { logicalKeyId: string; versionId: string; ckaId: string };

const usage = (ref: string) => rig.ok<LifecycleUsageView>('lifecycle.usage', { ref });
const usesOf = async (k: { logicalKeyId: string; versionId: string }) =>
  (await usage(k.logicalKeyId)).versions.find((v) => v.versionId === k.versionId)!;
/** Uses of every version, so a test can see that only one moved. */
async function allUses(): Promise<Record<string, number>> {
  const keys = await rig.ok<LifecycleKeyView[]>('lifecycle.list', {});
  return Object.fromEntries(keys.flatMap((k) => k.versions.map((v) => [v.id, v.useCount])));
}
function moved(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .filter(([id, n]) => n !== (before[id] ?? 0))
      .map(([id, n]) => [id, n - (before[id] ?? 0)]),
  );
}

let csvCount = 0;
/** A CSV of `rows` valid card rows. */
function cardCsv(rows: number): { inPath: string; outPath: string } {
  csvCount++;
  const lines = ['id,card_number,exp,cvv'];
  for (let i = 0; i < rows; i++) lines.push(`r${i},4111111111111111,12/3${i % 10},123`);
  const inPath = join(dir, `in-${csvCount}.csv`);
  writeFileSync(inPath, lines.join('\n') + '\n');
  return { inPath, outPath: join(dir, `out-${csvCount}.csv`) };
}

async function managed(
  name: string,
  purpose: 'data' | 'signing',
  policy?: { maxUses: number },
): Promise<{ logicalKeyId: string; versionId: string; ckaId: string }> {
  const made = await rig.ok<{ logicalKey: LifecycleKeyView; version: { id: string; ckaId: string } }>(
    'lifecycle.create',
    { name, purpose, ...(policy ? { policy } : {}) },
  );
  return { logicalKeyId: made.logicalKey.id, versionId: made.version.id, ckaId: made.version.ckaId };
}

describe.skipIf(!softHsmAvailable())('key usage, counted on every path', () => {
  beforeAll(async () => {
    rig = await createConsoleRig({ label: 'usage', log: true });
    dir = mkdtempSync(join(tmpdir(), 'mkm-usage-'));
    // The transport key the rig registered becomes a managed version (adopted as it is).
    const objects = await rig.app.tokens.call('listObjects', { slotId: rig.token.slotId, class: 'private' });
    const ckaId = objects.find((o) => o.label === 'console-transport')!.id;
    const adopted = await rig.ok<{ id: string; logicalKeyId: string }>('lifecycle.adopt', {
      ckaId,
      purpose: 'gateway-transport',
      name: 'transport',
    });
    transport = { logicalKeyId: adopted.logicalKeyId, versionId: adopted.id, ckaId };
    data = await managed('card data', 'data');
    signing = await managed('exchange signer', 'signing');
  }, 120_000);
  afterAll(async () => {
    await rig?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('console message: the key-set unwrap counts two uses (enc and MAC key) of the transport version, only', async () => {
    // The rig's set came before the key was managed; sealing with the set's own IV spends it,
    // so the next message asks the gateway for a new set and unwraps it under the transport key.
    await rig.ok('console.encryptMessage', { profileId: rig.profileId, text: '{"ping":0}', ivSource: 'set' });
    const before = await allUses();
    await rig.ok('console.encryptMessage', { profileId: rig.profileId, text: '{"ping":1}' });
    expect(moved(before, await allUses())).toEqual({ [transport.versionId]: 2 });
    const v = await usesOf(transport);
    expect(v.lastOperation).toBe('key-set-unwrap');
    expect(v.operations).toEqual({ 'key-set-unwrap': 2 });
    expect(v.days).toEqual([{ day: new Date().toISOString().slice(0, 10), uses: 2 }]);
  });

  it('batch with --key: one use of the data version per row encrypted, only', async () => {
    const before = await allUses();
    const summary = await rig.ok<BatchSummary>('console.batchStart', {
      ...cardCsv(7),
      scheme: 'aes',
      keyId: data.ckaId,
      slotId: rig.token.slotId,
    });
    expect(summary).toMatchObject({ status: 'done', rows: 7, failed: 0 });
    expect(moved(before, await allUses())).toEqual({ [data.versionId]: 7 });
    expect((await usesOf(data)).operations).toEqual({ encrypt: 7 });
  });

  it('exchange package: one signature of the signing version, only', async () => {
    const before = await allUses();
    await rig.ok('exchange.export', {
      kind: 'announcement',
      signingKeyId: signing.ckaId,
      keyIds: [signing.ckaId],
    });
    expect(moved(before, await allUses())).toEqual({ [signing.versionId]: 1 });
    expect((await usesOf(signing)).lastOperation).toBe('sign');
  });

  it('client-side encryption: counted under the pinned gateway key fingerprint, no version moves', async () => {
    const before = await allUses();
    const usage = rig.app.usage;
    const r = await rig.ok<{ key: ConsoleKeyInfo; fields: unknown[] }>('console.encrypt', {
      profileId: rig.profileId,
      fields: { number: '4111111111111111', expiration: '12/30', csc: '123' },
    });
    const fingerprint = r.key.spkiSha256;
    expect(r.fields.length).toBeGreaterThan(0);
    expect(usage.entryOf({ gatewayKey: fingerprint })?.total).toBe(r.fields.length);
    expect(usage.entryOf({ gatewayKey: fingerprint })).toMatchObject({ lastOperation: 'cse-encrypt' });
    expect(moved(before, await allUses())).toEqual({});
  });

  it('each flush is an audit entry with the counts per version and operation', async () => {
    rig.app.usage.flush();
    const { entries } = await rig.ok<{ entries: AuditEntryView[] }>('audit.query', {
      filter: { action: 'key.usage.flush' },
    });
    const all = entries.flatMap(
      (e) => (e.details!.versions as { versionId: string; uses: number; operations: object }[]) ?? [],
    );
    const sum = (id: string) => all.filter((v) => v.versionId === id).reduce((a, v) => a + v.uses, 0);
    expect(sum(transport.versionId)).toBe(2);
    expect(sum(data.versionId)).toBe(7);
    expect(sum(signing.versionId)).toBe(1);
    const gatewayKeys = entries.flatMap((e) => (e.details!.gatewayKeys as { uses: number }[]) ?? []);
    expect(gatewayKeys.reduce((a, g) => a + g.uses, 0)).toBeGreaterThan(0);
  });

  it('a version at its limit is refused with USE_LIMIT_REACHED before the token is asked; 80 % warns', async () => {
    const limited = await managed('limited data', 'data', { maxUses: 5 });
    const batch = (rows: number) =>
      rig.ok<BatchSummary>('console.batchStart', {
        ...cardCsv(rows),
        scheme: 'aes',
        keyId: limited.ckaId,
        slotId: rig.token.slotId,
      });
    expect((await batch(4)).status).toBe('done');
    // 4 of 5: the warning level, in the usage view, the due report and the log.
    expect((await usesOf(limited)).level).toBe('warning');
    const due = await rig.ok<{ due: { logicalKeyId: string; level: string }[] }>('lifecycle.due');
    expect(due.due.find((d) => d.logicalKeyId === limited.logicalKeyId)?.level).toBe('warning');
    const log = readFileSync(dataPaths(rig.dataDir).logFile, 'utf8');
    expect(log).toMatch(/near its use limit/);
    expect(log).toContain(limited.versionId);
    // Two more rows would pass the limit: refused whole, nothing encrypted.
    const encryptMany = vi.spyOn(rig.app.tokens, 'encryptManyTokenIvs');
    try {
      const over = await batch(2);
      expect(over).toMatchObject({ status: 'failed', encrypted: 0, error: { code: 'USE_LIMIT_REACHED' } });
      expect(encryptMany).not.toHaveBeenCalled();
      expect((await batch(1)).status).toBe('done');
      expect(encryptMany).toHaveBeenCalledTimes(1);
      encryptMany.mockClear();
      // At the limit: the next single use is refused, the token is not asked, the count stays.
      const next = await batch(1);
      expect(next).toMatchObject({ status: 'failed', encrypted: 0, error: { code: 'USE_LIMIT_REACHED' } });
      expect(encryptMany).not.toHaveBeenCalled();
    } finally {
      encryptMany.mockRestore();
    }
    const v = await usesOf(limited);
    expect(v).toMatchObject({ uses: 5, level: 'reached' });
    const dueNow = await rig.ok<{ due: { logicalKeyId: string; level: string; reasons: object[] }[] }>(
      'lifecycle.due',
    );
    expect(dueNow.due.find((d) => d.logicalKeyId === limited.logicalKeyId)).toMatchObject({
      level: 'due',
      reasons: [{ kind: 'uses', uses: 5, maxUses: 5 }],
    });
  });

  it('the PCI report takes its crypto-period use lines (3.7.4) from the real counts', async () => {
    const report = await rig.ok<PciReport>('report.pci', {});
    const r374 = report.requirements.find((r) => r.id === '3.7.4')!;
    const fact = (name: string) => r374.facts.find((f) => f.label === `Uses: ${name}`)?.value;
    expect(fact('card data')).toBe('primary v1: 7 of 100,000,000 allowed uses; all versions: 7');
    expect(fact('limited data')).toBe('primary v1: 5 of 5 allowed uses; all versions: 5');
    expect(fact('transport')).toBe('primary v1: 2 uses (no use limit); all versions: 2');
    expect(fact('exchange signer')).toBe('primary v1: 1 use (no use limit); all versions: 1');
  });

  it('mkm keys usage KEY --json: the real counts per version, day and operation (while the app runs); mkm console batch --key counts too', async () => {
    rig.app.usage.flush();
    const cli = mkmOn(() => ({ dataDir: rig.dataDir, token: rig.token }));
    const json = await cli(['keys', 'usage', 'card data', '--json']);
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as LifecycleUsageView;
    const today = new Date().toISOString().slice(0, 10);
    expect(report).toMatchObject({ logicalKeyId: data.logicalKeyId, name: 'card data', purpose: 'data' });
    expect(report.versions).toEqual([
      expect.objectContaining({
        versionId: data.versionId,
        uses: 7,
        level: 'ok',
        lastOperation: 'encrypt',
        operations: { encrypt: 7 },
        days: [{ day: today, uses: 7 }],
      }),
    ]);
    const later = await cli(['keys', 'usage', data.logicalKeyId, '--since', '2999-01-01', '--json']);
    expect((JSON.parse(later.stdout) as LifecycleUsageView).versions[0]!.days).toEqual([]);
    const text = await cli(['keys', 'usage', 'limited data']);
    expect(text.stdout).toMatch(/limit 5 uses, warning at 80 %/);
    expect(text.stdout).toMatch(
      /v1 primary active: 5 uses {2}LIMIT REACHED: rotate; last .* \(encrypt\); encrypt 5/,
    );
    const bad = await cli(['keys', 'usage', 'card data', '--since', 'yesterday']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/YYYY-MM-DD/);
    // `mkm console batch --key` in its own process (the app closed: the audit log is one
    // process's at a time) counts into the same file, written at its close.
    await rig.closeApp();
    const files = cardCsv(3);
    const run = await cli(
      [
        'console',
        'batch',
        '--scheme',
        'aes',
        '--key',
        data.ckaId,
        '--in',
        files.inPath,
        '--out',
        files.outPath,
      ],
      rig.token.userPin,
    );
    expect(run.code, run.stderr).toBe(0);
    const after = JSON.parse(
      (await cli(['keys', 'usage', 'card data', '--json'])).stdout,
    ) as LifecycleUsageView;
    expect(after.versions[0]).toMatchObject({ uses: 10, operations: { encrypt: 10 } });
  }, 60_000);
});
