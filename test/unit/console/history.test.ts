import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConsoleHistory } from '../../../electron/console/history.nodejs';
import { createLogger, silentLogger, type LogRecord } from '../../../electron/core/logger.nodejs';
import { searchPans, searchPansInFiles } from '../../helpers/pan-search';

/**
 * The console history keeps masks and nothing a card number can be searched against. The
 * version 1 fixture was written by the history of commit d6d3e9b (masks, a salt per entry and
 * HMAC-SHA256(salt, digits) beside them) for the card number below.
 */
const FIXTURE = join(import.meta.dirname, '../../fixtures/console/history-v1.json');
const FIXTURE_PAN = '4539148803436467';
const PAN = '4111111111111111';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mkm-console-history-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

// Each search tries 10^5 candidates with a handful of digests each: seconds on a busy machine.
describe('console history', { timeout: 120_000 }, () => {
  it('the search works: it recovers the card number from the old format (mask + salt + HMAC)', () => {
    const result = searchPansInFiles([FIXTURE]);
    expect(result.masks).toEqual(['453914••••••6467']);
    expect(result.salts).toBeGreaterThanOrEqual(2);
    // 10^6 middles, about a tenth pass Luhn.
    expect(result.candidates).toBe(100_000);
    expect(result.found.map((f) => f.pan)).toContain(FIXTURE_PAN);
    expect(result.found[0]!.form).toBe('hmac-sha256(salt)');
  });

  it('the search also finds an unsalted digest or a SHA-256 prefix beside a mask', () => {
    const sha = createHash('sha256').update(PAN).digest('hex');
    expect(searchPans([`{"masked":"411111••••••1111","sha256Prefix":"${sha.slice(0, 8)}"}`]).found).toEqual([
      { pan: PAN, form: 'sha256-prefix' },
    ]);
    expect(searchPans(['411111******1111', `digest ${sha}`]).found.map((f) => f.pan)).toContain(PAN);
  });

  it('keeps masks only: no hash, no salt, nothing searchable, in memory or on disk', () => {
    const file = join(dir, 'console', 'history.json');
    const history = new ConsoleHistory(file, silentLogger);
    const a = history.add({
      kind: 'encrypt',
      profileId: 'p',
      scheme: 'oaep',
      fields: { number: PAN, csc: '123', accountNumber: '000123456789' },
      outcome: 'ok',
      summary: 's',
    });
    history.add({
      kind: 'encrypt',
      profileId: 'p',
      scheme: 'oaep',
      fields: { number: '4111 1111 1111 1111' },
      outcome: 'ok',
      summary: 's',
    });
    expect(a.fields).toEqual({
      number: { masked: '411111••••••1111' },
      csc: { masked: '•••' },
      accountNumber: { masked: '••••••••6789' },
    });
    expect(Object.keys(a)).not.toContain('salt');
    expect(existsSync(file)).toBe(false);
    history.setPersistent(true);
    const text = readFileSync(file, 'utf8');
    expect(JSON.parse(text).version).toBe(2);
    expect(text).not.toMatch(/hash|salt|[0-9a-f]{32}/);
    const search = searchPansInFiles([file]);
    expect(search.masks).toEqual(['411111••••••1111']);
    expect(search.candidates).toBe(100_000);
    expect(search.found).toEqual([]);
    expect(new ConsoleHistory(file, silentLogger).list()).toHaveLength(2);
    expect(history.clear()).toBe(2);
    expect(new ConsoleHistory(file, silentLogger).list()).toHaveLength(0);
    history.setPersistent(false);
    expect(existsSync(file)).toBe(false);
  });

  it('migrates a version 1 file on load: the hashes and salts leave the disk at once, the masks stay', () => {
    const file = join(dir, 'console', 'history.json');
    mkdirSync(join(dir, 'console'));
    copyFileSync(FIXTURE, file);
    const records: LogRecord[] = [];
    const logger = createLogger({ name: 't', stderrLevel: 'silent', sink: (r) => records.push(r) });
    const history = new ConsoleHistory(file, logger);
    expect(history.persistent).toBe(true);
    expect(history.list().map((e) => e.fields.number)).toEqual([
      { masked: '453914••••••6467' },
      { masked: '453914••••••6467' },
    ]);
    const text = readFileSync(file, 'utf8');
    expect(JSON.parse(text).version).toBe(2);
    expect(text).not.toMatch(/hash|salt/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(searchPansInFiles([file]).found).toEqual([]);
    expect(records.map((r) => r.msg)).toContain(
      'console history migrated: salted hashes dropped, masks kept',
    );
  });

  it('a history file whose "mask" shows more than first six and last four loses that field on load', () => {
    const file = join(dir, 'history.json');
    const entry = {
      id: 'e',
      at: '2026-01-01T00:00:00.000Z',
      kind: 'encrypt',
      profileId: null,
      scheme: null,
      fields: { number: { masked: PAN }, csc: { masked: '•••' } },
      outcome: 'ok',
      summary: 's',
    };
    writeFileSync(file, JSON.stringify({ version: 2, entries: [entry] }));
    expect(new ConsoleHistory(file, silentLogger).list()[0]!.fields).toEqual({ csc: { masked: '•••' } });
  });
});
