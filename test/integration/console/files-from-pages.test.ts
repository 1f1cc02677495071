import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SenderInfo } from '../../../electron/core/registry.nodejs';
import type { BatchSummary, HeldFileView } from '../../../shared/contract/console.std';
import { softHsmAvailable } from '../../helpers/softhsm';
import { findSecrets } from '../../helpers/scan';
import { createConsoleRig, type ConsoleRig } from './setup';

/**
 * A page never names a file (issue 10, point 5; issue 15, point 6): through the real registry,
 * the batch takes an upload held in main and hands its output back as a one-time download; a
 * path from a page is refused; the CLI's paths stay out of the data folder; and the support
 * bundle goes where the CLI says, never into the data folder or over a file unconfirmed.
 */
const page: SenderInfo = { transport: 'websocket', origin: 'http://127.0.0.1:1', authenticated: true };
const PANS = ['4111111111111111', '5555555555554444'];
let rig: ConsoleRig;
let dir: string;

beforeAll(async () => {
  rig = await createConsoleRig({ label: 'files-from-pages' });
  dir = mkdtempSync(join(tmpdir(), 'mkm-files-pages-'));
}, 120_000);
afterAll(async () => {
  await rig?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const fromPage = async (channel: string, request?: unknown) =>
  rig.app.registry.dispatch(channel, request, page);
const codeOf = (e: { ok: boolean; error?: { code: string } }) => (e.ok ? 'ok' : e.error!.code);
const csv = `id,number,exp\nr1,${PANS[0]},12/30\nr2,${PANS[1]},01/31\n`;

describe.runIf(softHsmAvailable())('files a page reads and writes', () => {
  it('encrypts an upload and gives the output back once as a download; no clear card data lands on disk', async () => {
    const before = readdirSync(tmpdir()).filter((n) => n.startsWith('mkm-files-'));
    const uploaded = await fromPage('console.batchUpload', { name: 'cards.csv', content: csv });
    expect(uploaded).toMatchObject({ ok: true, result: { name: 'cards.csv', bytes: csv.length } });
    const fileId = (uploaded as { result: HeldFileView }).result.fileId;
    const started = await fromPage('console.batchStart', {
      input: fileId,
      output: 'download',
      scheme: 'oaep',
      profileId: rig.profileId,
    });
    expect(started).toMatchObject({
      ok: true,
      result: { status: 'done', encrypted: 2, outputPath: 'cards-encrypted.csv' },
    });
    const summary = (started as { result: BatchSummary }).result;
    expect(summary.download?.fileName).toBe('cards-encrypted.csv');
    // The upload was used once.
    expect(
      codeOf(
        await fromPage('console.batchStart', { input: fileId, scheme: 'oaep', profileId: rig.profileId }),
      ),
    ).toBe('FILE_HANDLE_UNKNOWN');

    const privateDirs = readdirSync(tmpdir())
      .filter((n) => n.startsWith('mkm-files-') && !before.includes(n))
      .map((n) => join(tmpdir(), n));
    expect(findSecrets([...privateDirs, rig.dataDir], PANS)).toEqual([]);

    const got = await fromPage('console.batchDownload', { fileId: summary.download!.fileId });
    expect(got).toMatchObject({ ok: true, result: { fileName: 'cards-encrypted.csv', mime: 'text/csv' } });
    const content = (got as { result: { content: string } }).result.content;
    expect(content.split('\n')[0]).toBe('row,ref,status,error,encrypted_number_hex,encrypted_expiration_hex');
    expect(content).not.toContain(PANS[0]);
    expect(codeOf(await fromPage('console.batchDownload', { fileId: summary.download!.fileId }))).toBe(
      'FILE_HANDLE_UNKNOWN',
    );
    // Fetched once, the output is gone from main's private folder.
    expect(privateDirs.flatMap((d) => (existsSync(d) ? readdirSync(d) : []))).toEqual([]);
  });

  it('refuses a path from a page, and a dialog where main has none', async () => {
    const input = join(dir, 'in.csv');
    writeFileSync(input, csv);
    const out = join(dir, 'out.csv');
    for (const request of [
      { inPath: input, outPath: out, scheme: 'oaep', profileId: rig.profileId },
      { outPath: out, scheme: 'oaep', profileId: rig.profileId },
    ]) {
      expect(codeOf(await fromPage('console.batchStart', request))).toBe('PATH_NOT_ALLOWED');
    }
    expect(existsSync(out)).toBe(false);
    expect(codeOf(await fromPage('console.batchPickInput'))).toBe('PICKER_UNAVAILABLE');
    expect(codeOf(await fromPage('support.write', { outPath: join(dir, 'b.json') }))).toBe(
      'PATH_NOT_ALLOWED',
    );
    expect(codeOf(await fromPage('support.write', {}))).toBe('PICKER_UNAVAILABLE');
    expect(existsSync(join(dir, 'b.json'))).toBe(false);
  });

  it('refuses an upload over the bound', async () => {
    expect(
      codeOf(await fromPage('console.batchUpload', { name: 'big.csv', content: 'x'.repeat(1_000_001) })),
    ).toBe('VALIDATION');
  });

  it('keeps the CLI’s batch output and support bundle out of the data folder', async () => {
    const input = join(dir, 'cli-in.csv');
    writeFileSync(input, csv);
    mkdirSync(join(rig.dataDir, 'exports'), { recursive: true });
    const inData = join(rig.dataDir, 'exports', 'out.csv');
    expect(
      await rig.code('console.batchStart', {
        inPath: input,
        outPath: inData,
        scheme: 'oaep',
        profileId: rig.profileId,
      }),
    ).toBe('DESTINATION_IN_DATA_FOLDER');
    expect(await rig.code('support.write', { outPath: join(rig.dataDir, 'bundle.json') })).toBe(
      'DESTINATION_IN_DATA_FOLDER',
    );
    expect(
      await rig.code('support.write', { outPath: join(rig.dataDir, 'audit', 'audit.log'), overwrite: true }),
    ).toBe('DESTINATION_IN_DATA_FOLDER');
    expect(existsSync(inData)).toBe(false);
    expect(readFileSync(join(rig.dataDir, 'audit', 'audit.log'), 'utf8')).not.toContain('mkm-support-bundle');
  });
});
