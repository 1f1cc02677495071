import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataPaths } from '../../../electron/core/paths.nodejs';
import type { BatchSummary, ConsoleVerifyResult } from '../../../shared/contract/console.std';
import type { Diagnosis } from '../../../shared/contract/troubleshoot.std';
import { searchPansInFiles } from '../../helpers/pan-search';
import { findSecrets } from '../../helpers/scan';
import { softHsmAvailable } from '../../helpers/softhsm';
import { createConsoleRig, type ConsoleRig } from './setup';

/**
 * The offline search an attacker would run, against everything the app keeps and hands out after
 * real work with a card number (real SoftHSM2 token, real sandbox gateway): the data folder
 * (persisted console history, audit log, the debug-level log, gateway state), the support bundle, the batch
 * outputs, the audit export (JSON and CSV), the PCI report, the troubleshooter's answers, and
 * what the renderer is given (history, recent diagnoses). Every Luhn-valid card number with the
 * first six and last four the files show is tried against every digest form the old code could
 * store; none may match. The same search over the old history format finds its card number, so
 * this test cannot pass by searching nothing.
 */
const PAN = '4916338506082832';
const FIXTURE = join(import.meta.dirname, '../../fixtures/console/history-v1.json');
const FIXTURE_PAN = '4539148803436467';

let rig: ConsoleRig;
let out: string;

beforeAll(async () => {
  rig = await createConsoleRig({ label: 'console-pan', log: true });
  out = mkdtempSync(join(tmpdir(), 'mkm-console-pan-out-'));
}, 120_000);
afterAll(async () => {
  await rig?.close();
  if (out) rmSync(out, { recursive: true, force: true });
});

const save = (name: string, value: unknown) =>
  writeFileSync(join(out, name), typeof value === 'string' ? value : JSON.stringify(value, null, 2));

describe.runIf(softHsmAvailable())('no recoverable card number anywhere', () => {
  it('after encrypt, verify, batch, diagnose, support bundle and exports: the search finds nothing', async () => {
    await rig.ok('console.historyPersistence', { persist: true });
    await rig.ok('console.encrypt', {
      profileId: rig.profileId,
      scheme: 'oaep',
      fields: { number: PAN, expiration: '12/30', csc: '123' },
    });
    const verify = await rig.ok<ConsoleVerifyResult>('console.verify', {
      profileId: rig.profileId,
      fields: { number: PAN.replace(/(\d{4})(?=\d)/g, '$1 '), expiration: '12/30', csc: '123' },
    });
    expect(verify.cse?.ok).toBe(true);
    save('verify.json', verify);

    const input = join(out, 'cards.csv');
    writeFileSync(input, `id,number,exp,cvv\nref-${PAN},${PAN},12/30,123\n${PAN},${PAN},01/31,456\n`);
    const batch = await rig.ok<BatchSummary>('console.batchStart', {
      inPath: input,
      outPath: join(out, 'cards.out.csv'),
      scheme: 'oaep',
      profileId: rig.profileId,
    });
    expect(batch).toMatchObject({ status: 'done', encrypted: 2 });
    rmSync(input);

    // A card number pasted into the troubleshooter, bare and inside a body.
    for (const [i, text] of [PAN, JSON.stringify({ number: PAN, csc: '123' })].entries()) {
      save(`diagnosis-${i}.json`, await rig.ok<Diagnosis>('troubleshoot.diagnose', { input: text }));
    }
    save('recent.json', await rig.ok('troubleshoot.recent'));
    save('history.json', await rig.ok('console.history', {}));
    save('last.json', await rig.ok('console.lastCiphertexts', {}));
    await rig.ok('support.write', { outPath: join(out, 'bundle.json') });
    for (const format of ['json', 'csv'] as const) {
      save(`audit.${format}`, (await rig.ok<{ content: string }>('audit.export', { format })).content);
    }
    save('report.html', (await rig.ok<{ content: string }>('report.exportPci', { format: 'html' })).content);

    expect(statSync(dataPaths(rig.dataDir).logFile).size).toBeGreaterThan(0);
    const result = searchPansInFiles([rig.dataDir, out]);
    // The search had something to work on: the card's mask is there (history, batch ref) ...
    expect(result.masks).toContain('491633••••••2832');
    expect(result.candidates).toBeGreaterThanOrEqual(100_000);
    // ... and nothing to find.
    expect(result.found).toEqual([]);
    expect(findSecrets([rig.dataDir, out], [PAN])).toEqual([]);

    // The same search, given the old history format beside all of it, finds that card number.
    const withOld = searchPansInFiles([FIXTURE, rig.dataDir, out]);
    expect([...new Set(withOld.found.map((f) => f.pan))]).toEqual([FIXTURE_PAN]);
  }, 600_000);
});
