import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBatch, tokenAesTarget } from '../electron/console/batch.nodejs';
import { pkcs11js as P } from '../electron/hsm/pkcs11/pkcs11.host';
import { freshToken, int, median, mkmTokens, rawSession, verdict } from './lib/hsm';

/**
 * The console's batch mode with the AES scheme, end to end: a 10,000-row CSV of card data read,
 * each row checked (Luhn, expiration, CVV), turned into its JSON payload, IVs drawn from the
 * token's RNG, AES-256-CBC in the token through the host (TokensService.encryptManyTokenIvs:
 * the host draws a chunk's IVs with C_GenerateRandom, 4 KiB at a time as raw does, in the same
 * call as its encryptions), and a CSV of IVs and ciphertexts written. Against raw pkcs11js in
 * one process on the same token doing only the cryptography of the same rows: the same JSON
 * payloads prepared beforehand, IVs from C_GenerateRandom, and C_EncryptInit + C_Encrypt per
 * row on the token key.
 * Target (issue 6): mkm at least 0.8 of raw throughput, though mkm also parses, checks and
 * writes the files.
 * Run: npx tsx bench/console-batch.bench.ts
 */
const ROWS = 10_000;
const RUNS = 5;
const TARGET = 0.8;
const CARDS = ['4111111111111111', '5555555555554444', '378282246310005', '6011111111111117'];

const hsm = freshToken('bench-console');
const mkm = mkmTokens(hsm.modulePath);
const dir = mkdtempSync(join(tmpdir(), 'mkm-bench-console-'));
let raw: ReturnType<typeof rawSession> | undefined;
try {
  const { tokens } = mkm;
  const slotId = hsm.slotId;
  await tokens.call('login', { slotId, pin: hsm.userPin });
  const key = await tokens.call('generateKey', {
    slotId,
    type: 'aes-256',
    label: 'bench-batch',
    purpose: 'data',
  });

  const rows = Array.from({ length: ROWS }, (_, i) => {
    const number = CARDS[i % CARDS.length]!;
    return {
      ref: `order-${i}`,
      number,
      expiration: `${String((i % 12) + 1).padStart(2, '0')}/3${i % 10}`,
      csc: number.length === 15 ? '1234' : '123',
    };
  });
  const inPath = join(dir, 'in.csv');
  writeFileSync(
    inPath,
    ['ref,number,expiration,csc', ...rows.map((r) => `${r.ref},${r.number},${r.expiration},${r.csc}`)].join(
      '\n',
    ),
  );

  let n = 0;
  const viaMkm = async (keep = false): Promise<string> => {
    const outPath = join(dir, `out-${n++}.csv`);
    const summary = await runBatch({
      operationId: `bench-${n}`,
      inPath,
      outPath,
      scheme: 'aes',
      overwrite: false,
      // The console's own token target (batch-runs.nodejs.ts), without a usage service.
      aes: tokenAesTarget(tokens, null, slotId, key.id),
      signal: new AbortController().signal,
      onProgress: () => {},
    });
    if (summary.encrypted !== ROWS)
      throw new Error(`mkm encrypted ${summary.encrypted} of ${ROWS}: ${JSON.stringify(summary)}`);
    const text = keep ? readFileSync(outPath, 'utf8') : '';
    rmSync(outPath);
    return text;
  };

  raw = rawSession(hsm);
  const r = raw;
  const keyHandle = r.find(key.id, P.CKO_SECRET_KEY);
  // The payloads as the console makes them, prepared outside raw's clock.
  const payloads = rows.map((row) =>
    Buffer.from(JSON.stringify({ number: row.number, expiration: row.expiration, csc: row.csc })),
  );
  const outBuf = Buffer.alloc(256);
  const viaRaw = (): void => {
    const random = Buffer.alloc(4096);
    for (let i = 0; i < ROWS; i++) {
      if (i % 256 === 0) r.pkcs11.C_GenerateRandom(r.session, random);
      const iv = random.subarray((i % 256) * 16, (i % 256) * 16 + 16);
      r.pkcs11.C_EncryptInit(r.session, { mechanism: P.CKM_AES_CBC_PAD, parameter: iv }, keyHandle);
      Buffer.from(r.pkcs11.C_Encrypt(r.session, payloads[i]!, outBuf));
    }
  };

  await viaMkm();
  viaRaw();
  const mkmRates: number[] = [];
  const rawRates: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    for (const side of run % 2 === 0 ? ['mkm', 'raw'] : ['raw', 'mkm']) {
      const t0 = performance.now();
      if (side === 'mkm') await viaMkm();
      else viaRaw();
      (side === 'mkm' ? mkmRates : rawRates).push(ROWS / ((performance.now() - t0) / 1000));
    }
  }
  // The output holds one ok row per input row, each with an IV and a ciphertext, in hex (the
  // batch writes hex so that no cell starts with a spreadsheet formula character).
  const lines = (await viaMkm(true)).trim().split('\n').slice(1);
  if (lines.length !== ROWS || !lines.every((l) => /,ok,,[0-9a-f]{32},(?:[0-9a-f]{32})+$/.test(l))) {
    throw new Error('the batch output is not one encrypted row per input row');
  }
  const ratio = median(mkmRates) / median(rawRates);
  console.log(
    `console batch aes (${ROWS} CSV rows, median of ${RUNS}): mkm ${int(median(mkmRates))} rows/s (CSV in, checks, token IVs, ` +
      `AES in the token, CSV out), raw pkcs11js ${int(median(rawRates))} rows/s (crypto only), ratio ${ratio.toFixed(2)} ` +
      `(target >= ${TARGET}: ${verdict(ratio >= TARGET)})`,
  );
  console.log(
    `console batch runs: mkm ${mkmRates.map(int).join(' / ')}; raw ${rawRates.map(int).join(' / ')} rows/s`,
  );
} finally {
  raw?.close();
  await mkm.close();
  hsm.cleanup();
  rmSync(dir, { recursive: true, force: true });
}
