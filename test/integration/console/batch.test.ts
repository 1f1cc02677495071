import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptField } from '../../../electron/crypto/cse.nodejs';
import type { BatchSummary } from '../../../shared/contract/console.std';
import { mkmOn } from '../../helpers/mkm-cli';
import { findSecrets } from '../../helpers/scan';
import { softHsmAvailable } from '../../helpers/softhsm';
import { createConsoleRig, openssl, PASSWORD, type ConsoleRig } from './setup';

/**
 * Batch mode with real files: 10,000 rows and more through the channel and through
 * `mkm console batch`, with progress events, a cancel mid-way whose partial output is flagged
 * by its name, bad rows reported in their own row, and nothing clear in any output. The AES
 * scheme runs through the token (tokens.encryptMany) and is checked by openssl and by NIST
 * SP 800-38A F.2.5 on an imported known key.
 */
const ROWS = 10_000;
const NIST_KEY = '603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4';
const NIST_IV = '000102030405060708090a0b0c0d0e0f';
const NIST_PLAIN =
  '6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710';
const NIST_CIPHER =
  'f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b';

let rig: ConsoleRig;
let dir: string;
/** Card numbers that appear only in the input: made unique per row so a leak of any is found. */
const uniquePans: string[] = [];

function luhnComplete(payload: string): string {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) {
    let d = payload.charCodeAt(payload.length - 1 - i) - 48;
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return payload + String((10 - (sum % 10)) % 10);
}

/** `rows` card rows; every 1000th has a mistyped number (a bad row that must not stop the batch). */
function writeInput(file: string, rows: number): void {
  const lines = ['id,card_number,exp,cvv'];
  for (let i = 1; i <= rows; i++) {
    const pan = luhnComplete(`4${String(900_000_000_000_00 + i).padStart(14, '0')}`);
    if (uniquePans.length < 200) uniquePans.push(pan);
    const number = i % 1000 === 0 ? pan.slice(0, -1) + String((Number(pan.at(-1)) + 1) % 10) : pan;
    lines.push(`r${i},${number},12/3${i % 10},${String(100 + (i % 900))}`);
  }
  writeFileSync(file, lines.join('\n') + '\n');
}

beforeAll(async () => {
  rig = await createConsoleRig({ label: 'console-batch', cse: 'RSAES-PKCS1-V1_5' });
  dir = mkdtempSync(join(tmpdir(), 'mkm-console-batch-'));
}, 120_000);
afterAll(async () => {
  await rig?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Each output in a folder of its own, so a scan of the folder is a scan of that file. */
function outFile(name: string): string {
  const folder = join(dir, `out-${name}`);
  mkdirSync(folder, { recursive: true });
  return join(folder, `${name}.csv`);
}
const scan = (file: string) => findSecrets([dirname(file)], uniquePans);

const progressOf = (operationId: string) => {
  const seen: { phase: string; fraction: number | null; message: string }[] = [];
  const stop = rig.app.events.subscribe((name, payload) => {
    const p = payload as { operationId: string; phase: string; fraction: number | null; message: string };
    if (name === 'progress' && p.operationId === operationId) seen.push(p);
  });
  return { seen, stop };
};

describe.runIf(softHsmAvailable())('console batch', () => {
  it('encrypts 10,000 rows through the channel with progress events; bad rows carry their error; nothing clear in the output', async () => {
    const input = join(dir, 'cards.csv');
    const output = outFile('cards-out');
    writeInput(input, ROWS);
    const progress = progressOf('ch-10k');
    const summary = await rig.ok<BatchSummary>('console.batchStart', {
      operationId: 'ch-10k',
      inPath: input,
      outPath: output,
      scheme: 'oaep',
      profileId: rig.profileId,
    });
    progress.stop();
    expect(summary).toMatchObject({
      status: 'done',
      rows: ROWS,
      encrypted: ROWS - 10,
      failed: 10,
      partial: false,
      outputPath: output,
    });
    expect(summary.columns).toEqual([
      'row',
      'ref',
      'status',
      'error',
      'encrypted_number_hex',
      'encrypted_expiration_hex',
      'encrypted_csc_hex',
    ]);
    expect(progress.seen[0]).toMatchObject({ phase: 'started' });
    expect(progress.seen.at(-1)).toMatchObject({ phase: 'done', fraction: 1 });

    const rows = parse(readFileSync(output), { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(ROWS);
    const bad = rows.filter((r) => r.status === 'error');
    expect(bad.map((r) => r.ref)).toEqual(Array.from({ length: 10 }, (_, k) => `r${(k + 1) * 1000}`));
    expect(bad[0]!.error).toMatch(/^number\.luhn:/);
    expect(bad[0]!.encrypted_number_hex).toBe('');
    // Spot checks decrypt to the input (the gateway's side of OAEP, what it advertises), the hex cells turned
    // back into the gateway's base64 as the batch module's doc says.
    const key = rig.gatewayPrivateKey().key;
    const b64 = (hex: string | undefined) => Buffer.from(hex!, 'hex').toString('base64');
    expect(decryptField(key, b64(rows[0]!.encrypted_number_hex), 'RSAES-OAEP-SHA256')).toBe(uniquePans[0]);
    expect(decryptField(key, b64(rows[0]!.encrypted_expiration_hex), 'RSAES-OAEP-SHA256')).toBe('12/31');
    expect(decryptField(key, b64(rows[1]!.encrypted_csc_hex), 'RSAES-OAEP-SHA256')).toBe('102');
    // No cell a spreadsheet would run as a formula.
    expect(rows.flatMap((r) => Object.values(r)).filter((c) => /^[=+\-@\t\r]/.test(c))).toEqual([]);
    expect(scan(output)).toEqual([]);

    // The output is not overwritten unless asked.
    expect(
      await rig.code('console.batchStart', {
        inPath: input,
        outPath: output,
        scheme: 'paytrace',
        profileId: rig.profileId,
      }),
    ).toBe('CONFLICT');
    expect(
      await rig.code('console.batchStart', {
        inPath: 'cards.csv',
        outPath: output,
        scheme: 'oaep',
        profileId: rig.profileId,
      }),
    ).toBe('VALIDATION');
  }, 180_000);

  it('a batch scheme the gateway cannot decrypt is refused before any row (SCHEME_MISMATCH) unless overridden, and the override is audited', async () => {
    const input = join(dir, 'scheme.csv');
    writeInput(input, 3);
    const output = outFile('scheme');
    // The sandbox's key advertises OAEP: PKCS#1 v1.5 rows would not decrypt there.
    const request = { inPath: input, outPath: output, scheme: 'paytrace', profileId: rig.profileId };
    expect(await rig.code('console.batchStart', request)).toBe('SCHEME_MISMATCH');
    expect(existsSync(output)).toBe(false);
    const done = await rig.ok<BatchSummary>('console.batchStart', { ...request, overrideScheme: true });
    expect(done.status).toBe('done');
    const { entries } = await rig.ok<{
      entries: { action: string; result: string; details: Record<string, unknown> }[];
    }>('audit.query', {});
    const batches = entries.filter((e) => e.action === 'console.batch' && e.details.inPath === input);
    // Newest first.
    expect(batches.map((e) => [e.result, e.details.overrideScheme])).toEqual([
      ['ok', true],
      ['SCHEME_MISMATCH', false],
    ]);
  });

  it('a cancel mid-way stops the batch; the partial output is flagged by its name and holds nothing clear', async () => {
    const input = join(dir, 'many.csv');
    const output = outFile('many-out');
    writeInput(input, 60_000);
    let cancelled: Promise<unknown> | null = null;
    const stop = rig.app.events.subscribe((name, payload) => {
      const p = payload as { operationId: string; phase: string };
      if (name === 'progress' && p.operationId === 'ch-cancel' && p.phase === 'running' && !cancelled) {
        cancelled = rig.ok('console.batchCancel', { operationId: 'ch-cancel' });
      }
    });
    const summary = await rig.ok<BatchSummary>('console.batchStart', {
      operationId: 'ch-cancel',
      inPath: input,
      outPath: output,
      scheme: 'oaep',
      profileId: rig.profileId,
    });
    stop();
    expect(await cancelled).toEqual({ cancelled: true });
    expect(summary.status).toBe('cancelled');
    expect(summary.partial).toBe(true);
    expect(summary.outputPath).toBe(`${output}.partial`);
    expect(existsSync(output)).toBe(false);
    expect(summary.rows).toBeGreaterThan(0);
    expect(summary.rows).toBeLessThan(60_000);
    const rows = parse(readFileSync(summary.outputPath), { columns: true }) as unknown[];
    expect(rows).toHaveLength(summary.rows);
    expect(scan(summary.outputPath)).toEqual([]);
    expect(await rig.ok('console.batchCancel', { operationId: 'ch-cancel' })).toEqual({ cancelled: false });
  }, 180_000);

  it('AES-256-CBC through the token: a fresh IV per row from the token RNG; openssl decrypts each row with the known key', async () => {
    const imported = await rig.app.tokens.call('importKey', {
      slotId: rig.token.slotId,
      type: 'aes-256',
      label: 'console-batch-aes',
      purpose: 'data',
      keyHex: NIST_KEY,
    });
    const input = join(dir, 'aes.csv');
    const output = outFile('aes-out');
    writeInput(input, ROWS);
    const summary = await rig.ok<BatchSummary>('console.batchStart', {
      inPath: input,
      outPath: output,
      scheme: 'aes',
      keyId: imported.id,
    });
    expect(summary).toMatchObject({ status: 'done', rows: ROWS, failed: 10 });
    expect(summary.columns).toEqual(['row', 'ref', 'status', 'error', 'iv_hex', 'ciphertext_hex']);
    const rows = parse(readFileSync(output), { columns: true }) as Record<string, string>[];
    const ivs = new Set(rows.filter((r) => r.status === 'ok').map((r) => r.iv_hex));
    expect(ivs.size).toBe(ROWS - 10);
    for (const row of [rows[0]!, rows[4321]!]) {
      const clear = openssl(
        ['enc', '-d', '-aes-256-cbc', '-K', NIST_KEY, '-iv', row.iv_hex!],
        Buffer.from(row.ciphertext_hex!, 'hex'),
      );
      const fields = JSON.parse(clear.toString('utf8')) as Record<string, string>;
      expect(fields.number).toMatch(/^4\d{15}$/);
      expect(fields.expiration).toMatch(/^12\/3\d$/);
    }
    expect(scan(output)).toEqual([]);
  }, 180_000);

  it('NIST SP 800-38A F.2.5 (CBC-AES256.Encrypt) through the token path the batch uses, on the imported known key', async () => {
    const objects = await rig.app.tokens.call('listObjects', { slotId: rig.token.slotId, class: 'secret' });
    const key = objects.find((o) => o.label === 'console-batch-aes')!;
    const plain = Buffer.from(NIST_PLAIN, 'hex');
    const iv = Buffer.from(NIST_IV, 'hex');
    const [raw] = await rig.app.tokens.encryptMany({
      slotId: rig.token.slotId,
      id: key.id,
      mechanism: 'AES_CBC',
      data: [plain],
      ivs: [iv],
    });
    expect(Buffer.from(raw!).toString('hex')).toBe(NIST_CIPHER);
    const [padded] = await rig.app.tokens.encryptMany({
      slotId: rig.token.slotId,
      id: key.id,
      mechanism: 'AES_CBC_PAD',
      data: [plain],
      ivs: [iv],
    });
    expect(padded!.length).toBe(80);
    expect(Buffer.from(padded!).subarray(0, 64).toString('hex')).toBe(NIST_CIPHER);
  });

  it('mkm console batch: 10,000 rows with a progress line on stderr; Ctrl-C cancels a long one and leaves a flagged partial file', async () => {
    // The CLI is its own process: its own data folder, logged in with MKM_PIN, same sandbox.
    const cliData = mkdtempSync(join(tmpdir(), 'mkm-console-batch-cli-'));
    const mkm = mkmOn(() => ({ dataDir: cliData, token: rig.token }), { MKM_GATEWAY_PASSWORD: PASSWORD });
    try {
      const added = await mkm([
        'gateway',
        'add',
        '--password-env',
        'MKM_GATEWAY_PASSWORD',
        '--name',
        'Sandbox',
        '--url',
        rig.sandbox.url,
        '--user',
        'console-merchant',
        '--pin',
        rig.sandbox.pin,
        '--cse',
        'pkcs1',
      ]);
      expect(added.code, added.stderr).toBe(0);
      // The pinned key is sealed with the token's audit key, and only used once the token checked it.
      const pin = rig.token.userPin;
      expect((await mkm(['gateway', 'fetch-key'], pin)).code).toBe(0);

      const input = join(dir, 'cards.csv');
      const output = outFile('cli-out');
      // No --scheme: the one the gateway's pinned key advertises.
      const r = await mkm(['console', 'batch', '--in', input, '--out', output], pin);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^done: 10000 rows, 9990 encrypted, 10 with errors/);
      expect(r.stderr).toMatch(/\d+% [\d,]+ rows encrypted…/);
      expect(existsSync(output)).toBe(true);
      expect(scan(output)).toEqual([]);

      const again = await mkm(['console', 'batch', '--in', input, '--out', output], pin);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/already exists.*\[CONFLICT\]/);

      const long = join(dir, 'many.csv');
      const longOut = outFile('cli-many-out');
      const child = spawn(
        process.execPath,
        [
          join(import.meta.dirname, '../../../bin/mkm.mjs'),
          '--data-dir',
          cliData,
          '--module',
          rig.token.modulePath,
          '--slot',
          String(rig.token.slotId),
          'console',
          'batch',
          '--in',
          long,
          '--out',
          longOut,
          '--scheme',
          'oaep',
        ],
        {
          env: {
            ...process.env,
            SOFTHSM2_CONF: rig.token.confPath,
            MKM_GATEWAY_PASSWORD: PASSWORD,
            MKM_PIN: pin,
          },
        },
      );
      let stderr = '';
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const code = await new Promise<number | null>((resolve) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (/[1-9]\d*% /.test(stderr) && !child.killed) child.kill('SIGINT');
        });
        child.on('close', resolve);
      });
      expect(code, stderr).toBe(1);
      expect(stderr).toContain('cancelling');
      expect(stdout).toMatch(/^cancelled: \d+ rows/);
      expect(stdout).toContain('PARTIAL');
      expect(existsSync(longOut)).toBe(false);
      expect(existsSync(`${longOut}.partial`)).toBe(true);
      expect(scan(`${longOut}.partial`)).toEqual([]);
    } finally {
      rmSync(cliData, { recursive: true, force: true });
    }
  }, 300_000);
});
