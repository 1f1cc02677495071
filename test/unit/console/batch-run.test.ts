import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { checkBatchPaths, runBatch } from '../../../electron/console/batch.main';
import { decryptField } from '../../../electron/crypto/cse.main';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const dir = mkdtempSync(join(tmpdir(), 'mkm-console-batch-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (input: string, out: string, signal = new AbortController().signal) =>
  runBatch({
    operationId: 'unit',
    inPath: input,
    outPath: out,
    scheme: 'oaep',
    overwrite: false,
    rsa: { key: publicKey, padding: 'RSAES-OAEP-SHA256', fingerprint: 'f'.repeat(64) },
    signal,
    onProgress: () => {},
  });

describe('runBatch', () => {
  it('maps header aliases, drops unknown columns, quotes formula-looking refs and masks a PAN put in the ref column', async () => {
    const input = join(dir, 'a.csv');
    writeFileSync(
      input,
      '\ufeffReference,Card Number,Expiry,CVV2,notes\n' +
        '=HYPERLINK("x"),4111111111111111,12/30,123,secret note\n' +
        '5555555555554444,5555555555554444,01/31,456,\n' +
        'r3,4111111111111112,12/30,123,\n',
    );
    const out = join(dir, 'a.out.csv');
    const s = await run(input, out);
    expect(s.error).toBeNull();
    expect(s).toMatchObject({ status: 'done', rows: 3, encrypted: 2, failed: 1, partial: false });
    expect(s.columns).toEqual([
      'row',
      'ref',
      'status',
      'error',
      'encrypted_number',
      'encrypted_expiration',
      'encrypted_csc',
    ]);
    const text = readFileSync(out, 'utf8');
    expect(text).not.toContain('secret note');
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(rows[0]!.ref).toBe(`'=HYPERLINK("x")`);
    expect(rows[1]!.ref).toBe('555555******4444');
    expect(decryptField(privateKey, rows[1]!.encrypted_number!, 'RSAES-OAEP-SHA256')).toBe(
      '5555555555554444',
    );
    expect(decryptField(privateKey, rows[1]!.encrypted_expiration!, 'RSAES-OAEP-SHA256')).toBe('01/31');
    expect(rows[2]).toMatchObject({ status: 'error', encrypted_number: '' });
    expect(rows[2]!.error).toMatch(/^number\.luhn/);
    expect(text).not.toContain('4111111111111111');
  });

  it('refuses a file without a known column, and paths that are relative, not .csv, or would overwrite', async () => {
    const input = join(dir, 'b.csv');
    writeFileSync(input, 'colour,size\nred,1\n');
    const s = await run(input, join(dir, 'b.out.csv'));
    expect(s.status).toBe('failed');
    expect(s.error?.code).toBe('VALIDATION');
    expect(s.outputPath).toBe('');
    expect(() => checkBatchPaths('b.csv', join(dir, 'x.csv'), false)).toThrow(/full path/);
    expect(() => checkBatchPaths(input, join(dir, 'x.txt'), false)).toThrow(/\.csv/);
    expect(() => checkBatchPaths(input, input, true)).toThrow(/another file/);
    writeFileSync(join(dir, 'exists.csv'), '');
    expect(() => checkBatchPaths(input, join(dir, 'exists.csv'), false)).toThrow(/already exists/);
    expect(() => checkBatchPaths(input, join(dir, 'exists.csv'), true)).not.toThrow();
  });

  it('a CSV that cannot be parsed fails as VALIDATION with its line, keeping the rows before it as partial', async () => {
    const input = join(dir, 'broken.csv');
    writeFileSync(input, 'number,exp\n4111111111111111,12/30\n"4111111111111111,12/30\n');
    const s = await run(input, join(dir, 'broken.out.csv'));
    expect(s.status).toBe('failed');
    expect(s.error).toMatchObject({ code: 'VALIDATION' });
    expect(s.error?.message).toMatch(/not a well-formed CSV file/);
    expect(s.partial).toBe(true);
  });

  it('an abort before anything was read writes nothing and says cancelled', async () => {
    const input = join(dir, 'c.csv');
    writeFileSync(input, 'number,exp\n' + '4111111111111111,12/30\n'.repeat(2000));
    const abort = new AbortController();
    abort.abort();
    const out = join(dir, 'c.out.csv');
    const s = await run(input, out, abort.signal);
    expect(s).toMatchObject({ status: 'cancelled', partial: true, outputPath: '', rows: 0 });
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.partial`)).toBe(false);
  });
});

describe('the partial output and the final name (no check-then-write race)', () => {
  const input = () => {
    const file = join(dir, `race-${Math.random().toString(36).slice(2)}.csv`);
    writeFileSync(file, 'number,exp\n4111111111111111,12/30\n');
    return file;
  };

  it('never opens a .partial planted after the checks: a symlink there is not followed', async () => {
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'do not touch');
    const out = join(dir, 'planted.out.csv');
    symlinkSync(victim, `${out}.partial`);
    const s = await run(input(), out);
    expect(s).toMatchObject({ status: 'failed', error: { code: 'DESTINATION_EXISTS' } });
    expect(readFileSync(victim, 'utf8')).toBe('do not touch');
    expect(existsSync(out)).toBe(false);
  });

  it('never replaces an output that appeared while the batch ran', async () => {
    const out = join(dir, 'appeared.out.csv');
    const s = runBatch({
      operationId: 'race',
      inPath: input(),
      outPath: out,
      scheme: 'oaep',
      overwrite: false,
      rsa: { key: publicKey, padding: 'RSAES-OAEP-SHA256', fingerprint: 'f'.repeat(64) },
      signal: new AbortController().signal,
      // The header is written: the checks are long past when the file appears.
      onProgress: (_f, rows) => {
        if (rows === 0) writeFileSync(out, 'someone else');
      },
    });
    expect(await s).toMatchObject({ status: 'failed', partial: true, error: { code: 'DESTINATION_EXISTS' } });
    expect(readFileSync(out, 'utf8')).toBe('someone else');
    expect(readFileSync(`${out}.partial`, 'utf8')).toContain('encrypted_number');
  });

  it('refuses up front an output or a partial already there', () => {
    const out = join(dir, 'stale.out.csv');
    writeFileSync(`${out}.partial`, 'old');
    expect(() => checkBatchPaths(input(), out, false)).toThrow(/already exists/);
    expect(() => checkBatchPaths(input(), out, true)).not.toThrow();
  });
});
