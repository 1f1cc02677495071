import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkBatchPaths,
  csvRecords,
  neutralizeCell,
  RECORD_MAX_BYTES,
  runBatch,
  safeRef,
} from '../../../electron/console/batch.nodejs';
import { RecordLimit } from '../../../electron/console/record-limit.nodejs';
import { decryptField } from '../../../electron/crypto/cse.nodejs';
import { KeyUsageService } from '../../../electron/lifecycle/usage.nodejs';
import { BATCH_FAILURES_LISTED, problemsText } from '../../../shared/console/batch-rows.std';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const dir = mkdtempSync(join(tmpdir(), 'mkm-console-batch-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The undoing the module's doc tells a consumer: a ciphertext cell is hex of the bytes. */
const hexToB64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');

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
  it('counts each RSA cell as a use of the gateway key in the usage service it is handed', async () => {
    const input = join(dir, 'counted.csv');
    writeFileSync(
      input,
      'ref,number,expiration,csc\nr1,4111111111111111,12/30,123\nr2,5555555555554444,01/31,\n',
    );
    const usage = new KeyUsageService({
      inventoryDir: join(dir, 'counted-keys'),
      audit: () => {},
      flushMs: 0,
    });
    const s = await runBatch({
      operationId: 'counted',
      inPath: input,
      outPath: join(dir, 'counted.out.csv'),
      scheme: 'oaep',
      overwrite: false,
      rsa: { key: publicKey, padding: 'RSAES-OAEP-SHA256', fingerprint: 'c'.repeat(64) },
      usage,
      signal: new AbortController().signal,
      onProgress: () => {},
    });
    expect(s).toMatchObject({ status: 'done', encrypted: 2 });
    expect(usage.entryOf({ gatewayKey: 'c'.repeat(64) })).toMatchObject({
      total: 5,
      operations: { 'cse-encrypt': 5 },
    });
  });

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
      'encrypted_number_hex',
      'encrypted_expiration_hex',
      'encrypted_csc_hex',
    ]);
    const text = readFileSync(out, 'utf8');
    expect(text).not.toContain('secret note');
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(rows[0]!.ref).toBe(`'=HYPERLINK("x")`);
    expect(rows[1]!.ref).toBe('555555******4444');
    expect(decryptField(privateKey, hexToB64(rows[1]!.encrypted_number_hex!), 'RSAES-OAEP-SHA256')).toBe(
      '5555555555554444',
    );
    expect(decryptField(privateKey, hexToB64(rows[1]!.encrypted_expiration_hex!), 'RSAES-OAEP-SHA256')).toBe(
      '01/31',
    );
    expect(rows[2]).toMatchObject({ status: 'error', encrypted_number_hex: '' });
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

  it('no cell of the output starts with = + - @ tab or CR: ciphertexts are hex, text cells are quoted', async () => {
    // 200 rows: base64 of a ciphertext would start with + or / in about 1 row of 32, so some would.
    const input = join(dir, 'inject.csv');
    const refs = ['=1+1', '+SUM(A1)', '-2+3', '@cmd', '\tx', '\rx', 'plain'];
    const lines = ['id,number,exp,cvv'];
    for (let i = 0; i < 200; i++) {
      lines.push(`"${refs[i % refs.length]}",4111111111111111,12/30,${i % 7 === 0 ? '=1' : '123'}`);
    }
    writeFileSync(input, lines.join('\n') + '\n');
    const out = join(dir, 'inject.out.csv');
    const s = await run(input, out);
    expect(s).toMatchObject({ status: 'done', rows: 200 });
    const rows = parse(readFileSync(out, 'utf8'), { columns: true }) as Record<string, string>[];
    const cells = rows.flatMap((r) => Object.values(r));
    expect(cells.filter((c) => /^[=+\-@\t\r]/.test(c))).toEqual([]);
    // The quoted refs say what was typed after the quote; errors are quoted the same way.
    expect(rows.slice(0, 7).map((r) => r.ref)).toEqual([
      "'=1+1",
      "'+SUM(A1)",
      "'-2+3",
      "'@cmd",
      "'\tx",
      "'\rx",
      'plain',
    ]);
    const ok = rows.filter((r) => r.status === 'ok');
    expect(ok.length).toBeGreaterThan(150);
    for (const r of ok) {
      for (const c of ['encrypted_number_hex', 'encrypted_expiration_hex', 'encrypted_csc_hex']) {
        expect(r[c]).toMatch(/^[0-9a-f]{512}$/);
      }
    }
    // The consumer's undoing is exact: hex to bytes, bytes to the gateway's base64.
    expect(decryptField(privateKey, hexToB64(ok[0]!.encrypted_number_hex!), 'RSAES-OAEP-SHA256')).toBe(
      '4111111111111111',
    );
    expect(neutralizeCell('-1')).toBe("'-1");
    expect(neutralizeCell('a=1')).toBe('a=1');
  });

  it('a digit run of card length in a reference is masked, Luhn or not; shorter numbers stay', () => {
    expect(safeRef('4111111111111111')).toBe('411111******1111');
    expect(safeRef('4111111111111112')).toBe('411111******1112');
    expect(safeRef('order-1234567890123-x')).toBe('order-123456***0123-x');
    expect(safeRef('ref_4111 1111 1111 1111')).toBe('ref_411111******1111');
    expect(safeRef('PAN4111.1111.1111.1111 ok')).toBe('PAN411111******1111 ok');
    expect(safeRef('1234567890123456789')).toBe('123456*********6789');
    expect(safeRef('inv-000123456789')).toBe('inv-000123456789');
    expect(safeRef('-4111111111111111')).toBe("'-411111******1111");
  });

  it('a record over the bound fails alone with BATCH_RECORD_TOO_LARGE; the rows around it are encrypted', async () => {
    const input = join(dir, 'huge.csv');
    const huge = 'x'.repeat(RECORD_MAX_BYTES * 64);
    writeFileSync(
      input,
      'id,number,exp\r\n' +
        'r1,4111111111111111,12/30\r\n' +
        `r2,${huge},12/30\r\n` +
        `"r3 quoted, with a line break\r\n${huge}",4111111111111111,12/30\r\n` +
        'r4,5555555555554444,01/31\r\n',
    );
    const out = join(dir, 'huge.out.csv');
    const s = await run(input, out);
    expect(s.error).toBeNull();
    expect(s).toMatchObject({ status: 'done', rows: 4, encrypted: 2, failed: 2 });
    const rows = parse(readFileSync(out, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => [r.row, r.ref, r.status])).toEqual([
      ['1', 'r1', 'ok'],
      ['2', '', 'error'],
      ['3', '', 'error'],
      ['4', 'r4', 'ok'],
    ]);
    expect(rows[1]!.error).toMatch(/^BATCH_RECORD_TOO_LARGE: /);
    expect(decryptField(privateKey, hexToB64(rows[3]!.encrypted_number_hex!), 'RSAES-OAEP-SHA256')).toBe(
      '5555555555554444',
    );
  });

  it('a header over the bound fails the batch with BATCH_RECORD_TOO_LARGE', async () => {
    const input = join(dir, 'huge-header.csv');
    writeFileSync(input, `number,${'y'.repeat(RECORD_MAX_BYTES + 1)}\n4111111111111111\n`);
    const s = await run(input, join(dir, 'huge-header.out.csv'));
    expect(s.status).toBe('failed');
    expect(s.error?.code).toBe('BATCH_RECORD_TOO_LARGE');
  });

  it('the record limit holds at most its bound of one record, whatever the chunks, and passes the rest unchanged', async () => {
    const limit = new RecordLimit(1024);
    const out: Buffer[] = [];
    limit.on('data', (d: Buffer) => out.push(d));
    const done = new Promise((resolve) => limit.on('end', resolve));
    limit.write('a,"b\nc"\n');
    for (let i = 0; i < 1000; i++) limit.write('z'.repeat(997));
    limit.write('\nd,"e ""q"""\n');
    limit.end('f,g');
    await done;
    expect(limit.peakHeld).toBeLessThanOrEqual(1024);
    expect(Buffer.concat(out).toString()).toBe('a,"b\nc"\n\u0000mkm:record-too-large\nd,"e ""q"""\nf,g');
  });
});

describe('runBatch when the token fails on one chunk while the next is being encrypted', () => {
  it('counts in its summary exactly the rows its output holds', async () => {
    const input = join(dir, 'chunks.csv');
    const lines = ['number,exp'];
    for (let i = 0; i < 1100; i++) lines.push('4111111111111111,12/30');
    writeFileSync(input, lines.join('\n') + '\n');
    let calls = 0;
    const s = await runBatch({
      operationId: 'unit-chunks',
      inPath: input,
      outPath: join(dir, 'chunks.out.csv'),
      scheme: 'aes',
      overwrite: false,
      aes: {
        keyId: 'ab',
        // The first chunk fails (the token answered an error); the second chunk's work, already
        // started, succeeds but comes after a failure and is never written.
        encryptMany: async (data) => {
          if (++calls === 1) throw Object.assign(new Error('token'), { code: 'DEVICE_ERROR' });
          return { ivs: data.map(() => new Uint8Array(16)), ciphertexts: data.map((d) => new Uint8Array(d)) };
        },
      },
      signal: new AbortController().signal,
      onProgress: () => {},
    });
    expect(s.status).toBe('failed');
    const written = parse(readFileSync(s.outputPath), { columns: true }) as unknown[];
    expect(s.rows).toBe(written.length);
    expect(s.encrypted + s.failed).toBe(written.length);
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

describe('runBatch keeps every problem of a failed row, in the output and in the summary', () => {
  it('a row with two problems has both, with its masked reference', async () => {
    const input = join(dir, 'two.csv');
    writeFileSync(
      input,
      'id,number,exp,cvv\n' +
        'ok-1,4111111111111111,12/30,123\n' +
        'order 4111111111111112,4111111111111112,12/30,12\n' +
        'bad-exp,5555555555554444,13/30,123\n',
    );
    const out = join(dir, 'two.out.csv');
    const s = await run(input, out);
    expect(s).toMatchObject({ status: 'done', rows: 3, encrypted: 1, failed: 2 });
    expect(s.failures).toEqual([
      {
        row: 2,
        ref: 'order 411111******1112',
        problems: [
          expect.objectContaining({ field: 'number', code: 'luhn' }),
          expect.objectContaining({ field: 'csc', code: 'length' }),
        ],
      },
      { row: 3, ref: 'bad-exp', problems: [expect.objectContaining({ field: 'expiration' })] },
    ]);
    const rows = parse(readFileSync(out, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rows[1]!.error).toBe(problemsText(s.failures[0]!.problems));
    expect(rows[1]!.error).toMatch(/^number\.luhn: .*; csc\.length: /);
    expect(JSON.stringify(s)).not.toContain('4111111111111112');
  });

  it('lists the first failed rows only, and counts them all', async () => {
    const input = join(dir, 'many.csv');
    const lines = ['number'];
    for (let i = 0; i < BATCH_FAILURES_LISTED + 20; i++) lines.push('4111111111111112');
    writeFileSync(input, lines.join('\n') + '\n');
    const s = await run(input, join(dir, 'many.out.csv'));
    expect(s.failed).toBe(BATCH_FAILURES_LISTED + 20);
    expect(s.failures).toHaveLength(BATCH_FAILURES_LISTED);
    expect(s.failures[0]).toMatchObject({ row: 1, ref: '' });
  });
});

describe('csvRecords', () => {
  it('writes what csv-stringify writes with its default options, byte for byte', () => {
    const cells = [
      '',
      'a',
      '1',
      'a,b',
      'say "hi"',
      '"',
      '""',
      'x\ny',
      'x\r\ny',
      '\r',
      "'=1+1",
      ' sp ',
      'é€',
      ',',
      'a"b,c\nd',
    ];
    const records = [cells, ...cells.map((c, i) => [String(i), c, c + c, '']), [''], ['', '']];
    expect(csvRecords(records)).toBe(stringify(records));
    expect(csvRecords([])).toBe(stringify([]));
  });
});

describe('runBatch writing many chunks', () => {
  it('leaves no listener behind on the output for each time it waits for the disk', async () => {
    const input = join(dir, 'many-chunks.csv');
    const lines = ['ref,number,exp'];
    // 6,000 rows: a dozen chunks, each more than the output stream buffers, so each one waits
    // for a drain.
    for (let i = 0; i < 6000; i++) lines.push(`order-${i},4111111111111111,12/30`);
    writeFileSync(input, lines.join('\n') + '\n');
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const s = await runBatch({
        operationId: 'unit-many-chunks',
        inPath: input,
        outPath: join(dir, 'many-chunks.out.csv'),
        scheme: 'aes',
        overwrite: false,
        aes: {
          keyId: 'ab',
          encryptMany: async (data) => ({
            ivs: data.map(() => new Uint8Array(16)),
            ciphertexts: data.map((d) => new Uint8Array(d.length + 16)),
          }),
        },
        signal: new AbortController().signal,
        onProgress: () => {},
      });
      expect(s).toMatchObject({ status: 'done', encrypted: 6000 });
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
  });
});
