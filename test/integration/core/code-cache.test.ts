import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commandNameOf, commandUsesToken, TOKEN_COMMANDS } from '../../../electron/cli/argv.std';
import {
  bundleKey,
  cachePrefix,
  cacheVariant,
  codeCacheDir,
  readVerified,
  writeCache,
} from '../../../electron/core/code-cache.nodejs';

const run = promisify(execFile);
const loader = join(import.meta.dirname, '../../../electron/core/code-cache.nodejs.ts');
const tsx = join(import.meta.dirname, '../../../node_modules/tsx/dist/esm/index.mjs');

describe('the command a command line names', () => {
  it('skips global options and their values', () => {
    expect(commandNameOf(['--data-dir', '/d', '--json', 'keys', 'list'])).toBe('keys');
    expect(commandNameOf(['--module', 'tokens', 'tokens'])).toBe('tokens');
    expect(commandNameOf(['--version'])).toBeNull();
  });

  it('names a cache only with what looks like a command, never a path', () => {
    expect(cacheVariant('tokens')).toBe('tokens');
    expect(cacheVariant('../../etc/passwd')).toBe('other');
    expect(cacheVariant('Keys')).toBe('other');
    expect(cacheVariant(null)).toBe('none');
  });
});

describe("the CLI bundle's code cache", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mkm-code-cache-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A CommonJS "bundle" run through loadBundle in a Node of its own, as dist-cli/mkm.mjs does. */
  const bundle = () => {
    const file = join(dir, 'app.cjs');
    writeFileSync(file, 'exports.answer = () => 6 * 7;\nexports.dir = __dirname;\n');
    return file;
  };
  const runBundle = async (file: string, env: NodeJS.ProcessEnv = {}) => {
    const script =
      `const { loadBundle } = await import(${JSON.stringify(loader)});` +
      `const loaded = loadBundle(${JSON.stringify(file)}, { variant: 'demo' });` +
      'console.log(JSON.stringify({ answer: loaded.exports.answer(), dir: loaded.exports.dir, cache: loaded.cache }));';
    const { stdout } = await run(process.execPath, ['--import', tsx, '--input-type=module', '-e', script], {
      env: { ...process.env, XDG_CACHE_HOME: join(dir, 'cache'), MKM_CODE_CACHE: '', ...env },
    });
    return JSON.parse(stdout) as { answer: number; dir: string; cache: string };
  };
  const cacheFiles = () => {
    try {
      return readdirSync(join(dir, 'cache/mkm/v8'));
    } catch {
      return [];
    }
  };

  it('lives in the user cache folder, or nowhere when turned off', () => {
    expect(codeCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/mkm/v8');
    expect(codeCacheDir({ XDG_CACHE_HOME: '/x', MKM_CODE_CACHE: '0' })).toBeNull();
  });

  it('runs the bundle as require would, writes the cache after the first run and uses it after', async () => {
    const file = bundle();
    expect(await runBundle(file)).toEqual({ answer: 42, dir, cache: 'missing' });
    const [written] = cacheFiles();
    expect(written).toMatch(/^app\.cjs-[0-9a-f]{12}-\d+-\d+-.*-demo\.bin$/);
    const at = statSync(join(dir, 'cache/mkm/v8', written!)).mtimeMs;
    expect(await runBundle(file)).toEqual({ answer: 42, dir, cache: 'used' });
    expect(statSync(join(dir, 'cache/mkm/v8', written!)).mtimeMs).toBe(at);
  });

  it('compiles around a damaged cache and writes a whole one again', async () => {
    const file = bundle();
    await runBundle(file);
    const path = join(dir, 'cache/mkm/v8', cacheFiles()[0]!);
    const damaged = readFileSync(path);
    damaged[damaged.length - 10]! ^= 0xff;
    writeFileSync(path, damaged);
    expect(readVerified(path)).toBeUndefined();
    expect(await runBundle(file)).toEqual({ answer: 42, dir, cache: 'missing' });
    expect(readVerified(path)).toBeDefined();
  });

  it('starts afresh for a rebuilt bundle and removes the older build’s caches', async () => {
    const file = bundle();
    await runBundle(file);
    const before = cacheFiles();
    writeFileSync(file, 'exports.answer = () => 43;\nexports.dir = __dirname;\n');
    expect((await runBundle(file)).answer).toBe(43);
    const after = cacheFiles();
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before[0]);
  });

  it('writes nothing when turned off', async () => {
    expect(await runBundle(bundle(), { MKM_CODE_CACHE: '0' })).toMatchObject({ answer: 42, cache: 'off' });
    expect(cacheFiles()).toEqual([]);
  });

  it("keeps the other variants of this build and other folders' bundles when it writes", () => {
    const cache = join(dir, 'c');
    const file = join(dir, 'app.cjs');
    const current = cachePrefix(file, 10, 1000);
    const elsewhere = `${bundleKey(join(dir, 'other', 'app.cjs'))}10-1000-x-x-tokens.bin`;
    const older = `${cachePrefix(file, 9, 999)}tokens.bin`;
    writeCache(
      join(cache, `${current}tokens.bin`),
      { createCachedData: () => Buffer.from('t') },
      bundleKey(file),
      current,
    );
    for (const name of [elsewhere, older]) writeFileSync(join(cache, name), 'x');
    writeCache(
      join(cache, `${current}keys.bin`),
      { createCachedData: () => Buffer.from('k') },
      bundleKey(file),
      current,
    );
    expect(readdirSync(cache).sort()).toEqual(
      [`${current}keys.bin`, `${current}tokens.bin`, elsewhere].sort(),
    );
    expect(readVerified(join(cache, `${current}keys.bin`))?.toString()).toBe('k');
  });
});

describe('the commands that fork their token host first', () => {
  it('are commands mkm has, and the command line decides', async () => {
    const { Command } = await import('commander');
    const { installCommandGroups } = await import('../../../electron/cli/context.cli');
    await import('../../../electron/cli/commands.cli');
    const program = new Command();
    installCommandGroups(program, () => {
      throw new Error('no command runs here');
    });
    const names = new Set(program.commands.map((c) => c.name()));
    for (const name of TOKEN_COMMANDS) expect(names, name).toContain(name);
    expect(commandUsesToken(['--json', 'keys', 'list'])).toBe(true);
    expect(commandUsesToken(['--data-dir', 'keys', 'audit', 'verify'])).toBe(false);
    expect(commandUsesToken(['--version'])).toBe(false);
  });
});
