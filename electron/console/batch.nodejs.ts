import {
  constants,
  copyFileSync,
  createReadStream,
  createWriteStream,
  existsSync,
  linkSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  type WriteStream,
} from 'node:fs';
import { isAbsolute } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { KeyObject } from 'node:crypto';
import { parse } from 'csv-parse';
import {
  BATCH_FAILURES_LISTED,
  batchRate,
  problemsText,
  rowProblems,
  type BatchFailure,
  type BatchProblem,
} from '../../shared/console/batch-rows.std';
import { COMPOSE_FIELDS, type ComposeFieldName, type ComposeFields } from '../../shared/console/compose.std';
import type { BatchScheme, BatchSummary } from '../../shared/contract/console.std';
import { MkmError, toErrorShape } from '../../shared/errors.std';
import { maskPan, panDigits } from '../../shared/formats/card.std';
import { formatExpiration, parseExpiration } from '../../shared/formats/expiration.std';
import { encryptField, type CsePadding } from '../crypto/cse.nodejs';
import type { TokensService } from '../hsm/tokens.nodejs';
import { countGatewayKeyUse, countedUse, type KeyUseCounter } from '../lifecycle/usage.nodejs';
import { OVERSIZE_RECORD, RecordLimit } from './record-limit.nodejs';

/**
 * Batch encryption of a CSV file, streamed: rows are read, encrypted and written a chunk at a
 * time, so 10,000 rows or a million cost the same memory, and a record larger than
 * RECORD_MAX_BYTES fails alone (BATCH_RECORD_TOO_LARGE) without being held. A row that cannot be
 * encrypted gets its error in its own output row and the batch goes on. The output never holds
 * a clear value: input columns that are not known fields are dropped, a digit run of card length
 * in a reference is masked (Luhn or not). It is written to `<out>.partial` and renamed to `<out>`
 * only when every row is done, so a cancelled or failed batch is flagged by its name.
 *
 * Spreadsheets run a cell that starts with = + - @ tab or CR as a formula (OWASP, CSV
 * injection). Ciphertexts and IVs are therefore written in hex (columns named `..._hex`): hex
 * never starts with one of those, so no cell of theirs is ever altered, and a consumer decodes
 * it as hex (base64, which the gateway takes, is one re-encoding away: `xxd -r -p | base64 -w0`,
 * `Buffer.from(cell, 'hex').toString('base64')`). The text cells (ref, error) that would start
 * with one get a leading `'`, as OWASP recommends: they are for people, never decoded.
 */

/** Header names accepted for each field (case and separators ignored). */
const ALIASES: Record<string, ComposeFieldName | 'ref'> = {
  number: 'number',
  cardnumber: 'number',
  card: 'number',
  pan: 'number',
  ccnumber: 'number',
  expiration: 'expiration',
  exp: 'expiration',
  expiry: 'expiration',
  expirationdate: 'expiration',
  csc: 'csc',
  cvv: 'csc',
  cvc: 'csc',
  cvv2: 'csc',
  swipe: 'swipe',
  track: 'swipe',
  trackdata: 'swipe',
  accountnumber: 'accountNumber',
  account: 'accountNumber',
  routingnumber: 'routingNumber',
  routing: 'routingNumber',
  aba: 'routingNumber',
  id: 'ref',
  ref: 'ref',
  reference: 'ref',
};

export const RSA_COLUMNS: Record<ComposeFieldName, string> = {
  number: 'encrypted_number_hex',
  expiration: 'encrypted_expiration_hex',
  csc: 'encrypted_csc_hex',
  swipe: 'encrypted_swipe_hex',
  accountNumber: 'encrypted_account_number_hex',
  routingNumber: 'encrypted_routing_number_hex',
};
export const AES_COLUMNS = ['iv_hex', 'ciphertext_hex'] as const;

/** A row of the input is never longer than this: the largest real row is well under 1 KiB. */
export const RECORD_MAX_BYTES = 16 * 1024;

const CHUNK_ROWS = 500;

export interface AesTarget {
  /**
   * What the batch needs from the token: AES-CBC of each payload under a fresh IV drawn from the
   * token's RNG, the IVs answered with the ciphertexts (item for item). Drawn in the same host
   * call as the encryptions: a separate request for them would wait behind the chunk the token
   * is encrypting, and the chunk after it behind that round trip.
   */
  encryptMany(data: Uint8Array[]): Promise<{ ivs: Uint8Array[]; ciphertexts: Uint8Array[] }>;
  keyId: string;
}

/**
 * The token AES key of a batch as the console uses it: AES-256-CBC (PKCS#7 padding) in the
 * token, IVs from its RNG, each chunk's encryptions counted against the key's usage.
 */
export function tokenAesTarget(
  tokens: Pick<TokensService, 'encryptManyTokenIvs'>,
  usage: KeyUseCounter | null | undefined,
  slotId: number,
  keyId: string,
): AesTarget {
  return {
    keyId,
    encryptMany: (data) =>
      countedUse(usage, { slotId, id: keyId }, 'encrypt', data.length, () =>
        tokens.encryptManyTokenIvs({ slotId, id: keyId, mechanism: 'AES_CBC_PAD', data }),
      ),
  };
}

export interface BatchRun {
  operationId: string;
  inPath: string;
  /** An upload held in memory (browser mode; card data never lands in a temp file): read instead of inPath. */
  inData?: Buffer | undefined;
  outPath: string;
  scheme: BatchScheme;
  overwrite: boolean;
  rsa?: { key: KeyObject; padding: CsePadding; fingerprint: string };
  aes?: AesTarget;
  /** Where the RSA cells' encryptions under the gateway key are counted. */
  usage?: KeyUseCounter | null;
  signal: AbortSignal;
  /** fraction of the input read, rows so far */
  onProgress(fraction: number, rows: number): void;
}

function normalizeHeader(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[\s_.-]/g, '');
}

/**
 * Paths main will touch: absolute, .csv, the input there, the output new unless overwrite. A null
 * input is one held in memory (an upload).
 */
export function checkBatchPaths(inPath: string | null, outPath: string, overwrite: boolean): void {
  for (const [field, p] of [
    ...(inPath === null ? [] : [['inPath', inPath] as const]),
    ['outPath', outPath] as const,
  ]) {
    if (!isAbsolute(p)) throw new MkmError('VALIDATION', 'Give the full path of the file.', { field });
    if (!/\.csv$/i.test(p)) throw new MkmError('VALIDATION', 'The file must be a .csv file.', { field });
  }
  if (inPath === outPath)
    throw new MkmError('VALIDATION', 'The output must be another file than the input.', { field: 'outPath' });
  if (inPath !== null && (!existsSync(inPath) || !statSync(inPath).isFile())) {
    throw new MkmError('NOT_FOUND', 'The input file does not exist.', { field: 'inPath' });
  }
  if ((existsSync(outPath) || existsSync(`${outPath}.partial`)) && !overwrite) {
    throw new MkmError(
      'CONFLICT',
      'The output file already exists; choose another name or allow overwriting.',
      {
        field: 'outPath',
      },
    );
  }
}

function* slices(data: Buffer): Generator<Buffer> {
  for (let at = 0; at < data.length; at += 64 * 1024) yield data.subarray(at, at + 64 * 1024);
}

/**
 * The partial output is created, never reused: 'wx' fails on any file or symlink already at that
 * name, so nothing planted there between the checks and the open is followed or written. A stale
 * one is removed first only when replacing the output was confirmed.
 */
function openPartial(partialPath: string, overwrite: boolean): number {
  if (overwrite) {
    try {
      unlinkSync(partialPath);
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOENT') throw diskError(e);
    }
  }
  try {
    return openSync(partialPath, 'wx', 0o600);
  } catch (e) {
    if ((e as { code?: string }).code === 'EEXIST') {
      throw new MkmError('DESTINATION_EXISTS', 'A partial output from another batch is already there.', {
        field: 'outPath',
      });
    }
    throw diskError(e);
  }
}

/** A refusal of the disk (full, read-only, a folder where the file goes) as IO_ERROR. */
function diskError(e: unknown): unknown {
  const code = (e as { code?: unknown }).code;
  if (e instanceof MkmError || typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return e;
  return new MkmError('IO_ERROR', 'The batch output could not be written; nothing was published.', {
    field: 'outPath',
    reason: code,
  });
}

/** Partial → output: without confirmation a hard link, which fails rather than replace a file. */
function publish(partialPath: string, outPath: string, overwrite: boolean): void {
  if (overwrite) {
    try {
      renameSync(partialPath, outPath);
    } catch (e) {
      throw diskError(e);
    }
    return;
  }
  try {
    try {
      linkSync(partialPath, outPath);
    } catch (e) {
      // A filesystem without hard links: an exclusive copy refuses an existing file just the same.
      if ((e as { code?: string }).code === 'EEXIST') throw e;
      copyFileSync(partialPath, outPath, constants.COPYFILE_EXCL);
    }
  } catch (e) {
    if ((e as { code?: string }).code === 'EEXIST') {
      throw new MkmError(
        'DESTINATION_EXISTS',
        'The output file appeared while the batch ran; it was left alone.',
        {
          field: 'outPath',
        },
      );
    }
    throw diskError(e);
  }
  unlinkSync(partialPath);
}

interface Row {
  index: number;
  ref: string;
  fields: ComposeFields;
  /** The record was over RECORD_MAX_BYTES: dropped unread. */
  oversize?: true;
}

const isOversize = (record: string[]) => record.length === 1 && record[0] === OVERSIZE_RECORD;

// A cell csv-stringify (default options) quotes: one holding the delimiter, a quote or a line end.
const NEEDS_QUOTES = /[",\n\r]/;

/**
 * Records as csv-stringify writes them with its default options, byte for byte (the test holds
 * it to that): a cell with a comma, quote, CR or LF is quoted and its quotes doubled, every
 * record ends with LF. Written by hand because csv-stringify's per-cell generality (casts,
 * options per cell, separators of any length) was a tenth of a batch's time in main.
 */
export function csvRecords(records: readonly (readonly string[])[]): string {
  let text = '';
  for (const record of records) {
    for (let i = 0; i < record.length; i++) {
      const cell = record[i]!;
      if (i > 0) text += ',';
      text += NEEDS_QUOTES.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
    }
    text += '\n';
  }
  return text;
}

/** Bytes as hex, read in place (Buffer.from(Uint8Array) would copy them first). */
const hex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/** A first character a spreadsheet takes for the start of a formula (OWASP CSV injection). */
const FORMULA_START = /^[=+\-@\t\r]/;

/** A text cell a spreadsheet would run as a formula gets a leading quote, and is then only text. */
export function neutralizeCell(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}

// 13 digits or more, spaces, dots or dashes between them allowed: the length of a card number.
const CARD_LENGTH_RUN = /(?<!\d)\d(?:[ .-]?\d){12,}(?!\d)/g;

/**
 * A reference column is the user's; a digit run of card length put there (by mistake, or a
 * card number inside an order id) is masked to first six and last four, whether or not it passes
 * Luhn, then the cell is cut to 64 characters and neutralized.
 */
export function safeRef(ref: string): string {
  return neutralizeCell(maskedRef(ref));
}

/** The reference as a person reads it (the results table): masked and cut, not neutralized. */
function maskedRef(ref: string): string {
  return ref.replace(CARD_LENGTH_RUN, (run) => maskPan(run.replace(/\D/g, ''))).slice(0, 64);
}

/** The value encrypted for a field: the number as digits, the expiration as MM/YY. */
function wireValue(field: ComposeFieldName, value: string): string {
  if (field === 'number') return panDigits(value) ?? value;
  if (field === 'expiration') {
    const parsed = parseExpiration(value);
    if (!parsed.ok) throw new MkmError('VALIDATION', `Expiration: ${parsed.message}.`, { field });
    return formatExpiration(parsed.value, 'MM/YY');
  }
  return value;
}

/** Every problem of the row (none: it can be encrypted). */
function problemsOf(row: Row): BatchProblem[] {
  return rowProblems(row.fields, row.oversize ? { oversize: true } : {});
}

/** A refusal met while encrypting (a value the key cannot take): one problem of the whole row. */
function refusal(e: unknown): BatchProblem[] {
  const shape = toErrorShape(e);
  const field = (shape.details as { field?: unknown } | undefined)?.field;
  const known = (COMPOSE_FIELDS as readonly unknown[]).includes(field);
  return [{ field: known ? (field as ComposeFieldName) : null, code: shape.code, message: shape.message }];
}

/** A chunk's output: its records in row order, and the failed rows' problems. */
interface Done {
  records: string[][];
  failures: BatchFailure[];
}

/** csv-parse's own errors (CSV_*) are the file's fault: said as such, with the line, never the text. */
function csvError(e: unknown): MkmError | null {
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('CSV_')) return null;
  const line = (e as { lines?: unknown }).lines;
  if (code === 'CSV_MAX_RECORD_SIZE')
    return new MkmError('BATCH_RECORD_TOO_LARGE', undefined, { field: 'inPath' });
  return new MkmError(
    'VALIDATION',
    `The input is not a well-formed CSV file${typeof line === 'number' ? ` (line ${line})` : ''}; the rows before it are in the partial output.`,
    { field: 'inPath', reason: code, ...(typeof line === 'number' ? { line } : {}) },
  );
}

export async function runBatch(run: BatchRun): Promise<BatchSummary> {
  const started = Date.now();
  const partialPath = `${run.outPath}.partial`;
  const size = Math.max(1, run.inData ? run.inData.length : statSync(run.inPath).size);
  const input = run.inData ? Readable.from(slices(run.inData)) : createReadStream(run.inPath);
  let bytesRead = 0;
  input.on('data', (chunk: Buffer) => (bytesRead += chunk.length));
  const parser = input.pipe(new RecordLimit(RECORD_MAX_BYTES)).pipe(
    parse({
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      relax_quotes: true,
      trim: false,
      // A second net: RecordLimit never lets a longer record through.
      max_record_size: RECORD_MAX_BYTES,
    }),
  );
  let out: WriteStream | null = null;
  let header: (ComposeFieldName | 'ref' | null)[] | null = null;
  let present: ComposeFieldName[] = [];
  let hasRef = false;
  let columns: string[] = [];
  let rows = 0;
  let encrypted = 0;
  let failed = 0;
  const failures: BatchFailure[] = [];
  let chunk: Row[] = [];
  let status: BatchSummary['status'] = 'done';
  let error: BatchSummary['error'] = null;

  // A write the disk refuses (full, read-only, gone) is kept here: the stream reports it as an
  // event, which unheard would end main and leave the batch waiting for a drain forever.
  let outError: NodeJS.ErrnoException | null = null;
  const outFailed = () =>
    new MkmError('IO_ERROR', 'The batch output could not be written; nothing was published.', {
      field: 'outPath',
      reason: outError?.code ?? 'unknown',
    });
  /** Set when the disk refused the output: its partial is removed, not offered. */
  let discard = false;
  const write = async (text: string) => {
    if (outError) throw outFailed();
    if (!out!.write(text)) {
      // Whichever comes first; the other listener goes with it, or every drain would leave a
      // 'close' listener behind (Node warns of a leak after ten).
      await new Promise<void>((resolve) => {
        const done = () => {
          out!.off('drain', done);
          out!.off('close', done);
          resolve();
        };
        out!.on('drain', done);
        out!.on('close', done);
      });
    }
    if (outError) throw outFailed();
  };

  // A chunk's token work runs while the next chunk is read and checked (two chunks in flight at
  // most); outputs are written in row order.
  let inFlight: Promise<void> = Promise.resolve();
  const flush = async () => {
    if (chunk.length === 0) return;
    const batch = chunk;
    chunk = [];
    const records =
      run.scheme === 'aes' ? encryptAes(batch) : Promise.resolve().then(() => encryptRsa(batch));
    const previous = inFlight;
    inFlight = (async () => {
      const done = await records;
      await previous;
      await write(csvRecords(done.records));
      // Counted once written: a chunk encrypted after an earlier one failed is never in the
      // output, so it must not be in the summary either.
      failed += done.failures.length;
      encrypted += done.records.length - done.failures.length;
      for (const failure of done.failures) {
        if (failures.length < BATCH_FAILURES_LISTED) failures.push(failure);
      }
      run.onProgress(Math.min(1, bytesRead / size), rows);
    })();
    // Its failure surfaces at the next flush or at the end; not as an unhandled rejection.
    inFlight.catch(() => {});
    await previous;
  };

  /** A row's record and, when it failed, its entry in the summary. */
  const finish = (row: Row, problems: BatchProblem[] | null, cells: string[], into: Done) => {
    const record = hasRef ? [String(row.index), safeRef(row.ref)] : [String(row.index)];
    if (problems === null) {
      record.push('ok', '', ...cells);
      into.records.push(record);
      return;
    }
    record.push('error', neutralizeCell(problemsText(problems)));
    for (let i = 0; i < cells.length; i++) record.push('');
    into.records.push(record);
    into.failures.push({ row: row.index, ref: hasRef ? maskedRef(row.ref) : '', problems });
  };

  const encryptRsa = (batch: Row[]): Done => {
    const done: Done = { records: [], failures: [] };
    for (const row of batch) {
      const blank = present.map(() => '');
      const problems = problemsOf(row);
      if (problems.length) {
        finish(row, problems, blank, done);
        continue;
      }
      try {
        const cells = present.map((f) =>
          row.fields[f] === undefined
            ? ''
            : Buffer.from(
                encryptField(run.rsa!.key, wireValue(f, row.fields[f]!), run.rsa!.padding),
                'base64',
              ).toString('hex'),
        );
        countGatewayKeyUse(run.usage, run.rsa!.fingerprint, cells.filter((c) => c !== '').length);
        finish(row, null, cells, done);
      } catch (e) {
        finish(row, refusal(e), blank, done);
      }
    }
    return done;
  };

  const encryptAes = async (batch: Row[]): Promise<Done> => {
    const good: { row: Row; data: Buffer }[] = [];
    const problems = new Map<number, BatchProblem[]>();
    for (const row of batch) {
      const found = problemsOf(row);
      if (found.length) problems.set(row.index, found);
      else {
        try {
          const obj: ComposeFields = {};
          for (const f of present) {
            const value = row.fields[f];
            if (value !== undefined) obj[f] = wireValue(f, value);
          }
          good.push({ row, data: Buffer.from(JSON.stringify(obj), 'utf8') });
        } catch (e) {
          problems.set(row.index, refusal(e));
        }
      }
    }
    const { ivs, ciphertexts: cipher } = good.length
      ? await run.aes!.encryptMany(good.map((g) => g.data))
      : { ivs: [], ciphertexts: [] };
    for (const g of good) g.data.fill(0);
    const byIndex = new Map(good.map((g, k) => [g.row.index, k]));
    const done: Done = { records: [], failures: [] };
    for (const row of batch) {
      const k = byIndex.get(row.index);
      if (k === undefined) {
        const found = problems.get(row.index) ?? [{ field: null, code: 'INTERNAL', message: 'failed' }];
        finish(row, found, ['', ''], done);
      } else {
        finish(row, null, [hex(ivs[k]!), hex(cipher[k]!)], done);
      }
    }
    return done;
  };

  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      if (run.signal.aborted) {
        status = 'cancelled';
        break;
      }
      if (header === null) {
        if (isOversize(record))
          throw new MkmError('BATCH_RECORD_TOO_LARGE', undefined, { field: 'inPath', line: 1 });
        header = record.map((h) => ALIASES[normalizeHeader(h)] ?? null);
        present = [...new Set(header.filter((h): h is ComposeFieldName => h !== null && h !== 'ref'))];
        hasRef = header.includes('ref');
        if (present.length === 0) {
          throw new MkmError(
            'VALIDATION',
            'The first line must name the columns: number, expiration, csc, swipe, account_number, routing_number (and an optional id).',
            { field: 'inPath' },
          );
        }
        columns = [
          'row',
          ...(hasRef ? ['ref'] : []),
          'status',
          'error',
          ...(run.scheme === 'aes' ? AES_COLUMNS : present.map((f) => RSA_COLUMNS[f])),
        ];
        out = createWriteStream('', { fd: openPartial(partialPath, run.overwrite) });
        out.on('error', (e: NodeJS.ErrnoException) => (outError ??= e));
        await write(csvRecords([columns]));
        run.onProgress(0, 0);
        continue;
      }
      rows++;
      const row: Row = {
        index: rows,
        ref: '',
        fields: {},
        ...(isOversize(record) ? { oversize: true } : {}),
      };
      if (!row.oversize)
        record.forEach((cell, i) => {
          const name = header![i];
          if (name === 'ref') row.ref = cell;
          else if (name && cell !== '') row.fields[name] = cell;
        });
      chunk.push(row);
      if (chunk.length >= CHUNK_ROWS) {
        await flush();
        // Let other calls (and a cancel) in between chunks.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    if (header === null && status === 'done') {
      throw new MkmError('VALIDATION', 'The input file is empty.', { field: 'inPath' });
    }
    if (status === 'done') {
      if (run.signal.aborted) status = 'cancelled';
      else await flush();
    }
    await inFlight;
  } catch (e) {
    // A cancel that abandoned a chunk the token was not answering is still a cancel.
    status = run.signal.aborted && toErrorShape(e).code === 'CANCELLED' ? 'cancelled' : 'failed';
    error = toErrorShape(csvError(e) ?? e);
  } finally {
    // A chunk still in the token is finished and written (its rows are counted) before the
    // file is closed.
    await inFlight.catch(() => {});
    input.destroy();
    if (out) {
      await finished((out as WriteStream).end()).catch(() => undefined);
    }
  }
  if (outError) {
    // Whatever the batch met first, the output is not whole.
    status = 'failed';
    error = toErrorShape(outFailed());
  }
  if (status === 'done') {
    try {
      publish(partialPath, run.outPath, run.overwrite);
    } catch (e) {
      status = 'failed';
      error = toErrorShape(e);
    }
  }
  if (status === 'failed' && error?.code === 'IO_ERROR') {
    // A partial the disk refused is torn or unpublishable: no use to anyone, and it holds the
    // space a full disk needs back. The previous output (if any) was never touched.
    discard = true;
    try {
      unlinkSync(partialPath);
    } catch {
      // Already gone, or a folder that refuses even that: the summary names no output.
    }
  }
  const partial = status !== 'done';
  const elapsedMs = Date.now() - started;
  return {
    operationId: run.operationId,
    scheme: run.scheme,
    status,
    // Rows read but not yet encrypted when a batch stops are not in the output: not counted.
    rows: encrypted + failed,
    encrypted,
    failed,
    outputPath: out === null || discard ? '' : partial ? partialPath : run.outPath,
    partial,
    elapsedMs,
    rowsPerSecond: batchRate(encrypted + failed, elapsedMs),
    failures,
    columns,
    keyFingerprint: run.rsa?.fingerprint ?? null,
    error,
  };
}
