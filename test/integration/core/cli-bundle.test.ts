import { execFile } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pkg from '../../../package.json' with { type: 'json' };
import { cliBundleIsCurrent } from '../../../scripts/cli-sources.mjs';
import { buildHash } from '../../../electron/core/build-hash.nodejs';
import { pgpWordsOfHex } from '../../../shared/formats/pgp-words.std';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';

const run = promisify(execFile);
const root = join(import.meta.dirname, '../../..');

describe('the bundled mkm CLI', () => {
  let outdir: string;
  let dataDir: string;
  let cacheHome: string;
  let hsm: SoftHsmToken;

  beforeAll(async () => {
    outdir = mkdtempSync(join(tmpdir(), 'mkm-cli-bundle-'));
    dataDir = mkdtempSync(join(tmpdir(), 'mkm-cli-bundle-data-'));
    cacheHome = mkdtempSync(join(tmpdir(), 'mkm-cli-bundle-cache-'));
    await run(process.execPath, [join(root, 'scripts/build-cli.mjs'), '--outdir', outdir]);
    // Only the native binding beside it: tsx (and every other dependency) cannot be resolved from
    // here, so a run that works proves the CLI and the host it forks need no TypeScript loader.
    writeFileSync(
      join(outdir, 'run.mjs'),
      "const { main } = await import('./mkm.mjs');\nprocess.exitCode = await main(process.argv.slice(2));\n",
    );
    mkdirSync(join(outdir, 'node_modules'));
    symlinkSync(join(root, 'node_modules/pkcs11js'), join(outdir, 'node_modules/pkcs11js'));
    hsm = createSoftHsmToken({ label: 'cli-bundle', userPin: '4815162342' });
  }, 120_000);

  afterAll(() => {
    hsm?.cleanup();
    rmSync(outdir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(cacheHome, { recursive: true, force: true });
  });

  const mkm = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    run(
      process.execPath,
      [
        // As bin/mkm.mjs runs it: the entry reads the command from process.argv too.
        join(outdir, 'run.mjs'),
        ...args,
      ],
      { cwd: outdir, env: { ...process.env, ...hsm.env, XDG_CACHE_HOME: cacheHome, ...env } },
    );

  it('answers --version with the package version', async () => {
    const { stdout } = await mkm(['--version']);
    expect(stdout.trim()).toBe(pkg.version);
  });

  it('prints the hash of the bundle it runs, which follows a change to any of its files', async () => {
    const read = async () => JSON.parse((await mkm(['--data-dir', dataDir, 'build-hash', '--json'])).stdout);
    const before = await read();
    expect(before.roots).toEqual([outdir]);
    expect(before.sha256).toBe(buildHash([outdir]));
    expect(before.words).toEqual(pgpWordsOfHex(before.sha256));
    appendFileSync(join(outdir, 'mkm.mjs'), '\n// one byte more\n');
    const after = await read();
    expect(after.sha256).not.toBe(before.sha256);
    expect(after.sha256).toBe(buildHash([outdir]));
  });

  it('lists the token through the bundled HSM host', async () => {
    const { stdout } = await mkm(['--data-dir', dataDir, '--module', hsm.modulePath, 'tokens']);
    expect(stdout).toContain(hsm.label);
    expect(stdout).toContain(hsm.modulePath);
  });

  it("runs the bundle and the host from V8's code cache, which holds no PIN", async () => {
    const caches = join(cacheHome, 'mkm/v8');
    const files = () => readdirSync(caches).sort();
    await mkm(['--data-dir', dataDir, '--module', hsm.modulePath, 'tokens']);
    const written = files();
    expect(written.some((f) => f.startsWith('mkm.cjs-') && f.endsWith('-tokens.bin'))).toBe(true);
    expect(written.some((f) => f.startsWith('hsm-host.cjs-') && f.endsWith('-host.bin'))).toBe(true);
    const times = written.map((f) => statSync(join(caches, f)).mtimeMs);
    // The second run compiles from the caches: it has no reason to write them again.
    const { stdout } = await mkm(['--data-dir', dataDir, '--module', hsm.modulePath, 'tokens']);
    expect(stdout).toContain(hsm.label);
    expect(files()).toEqual(written);
    expect(written.map((f) => statSync(join(caches, f)).mtimeMs)).toEqual(times);

    await mkm(['--data-dir', dataDir, '--module', hsm.modulePath, 'login-test'], { MKM_PIN: hsm.userPin });
    for (const file of files()) {
      const bytes = readFileSync(join(caches, file));
      expect(bytes.includes(Buffer.from(hsm.userPin)), file).toBe(false);
    }
  });

  // `mkm tokens` forks its host before it knows whether a library will load; the host must end
  // with the command either way (it is killed unused, or stopped after serving).
  it('leaves no token host behind, whether the command used the one it started early or not', async () => {
    const hosts = async () => {
      const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
      return stdout.split('\n').filter((l) => l.includes(join(outdir, 'hsm-host.mjs')));
    };
    const gone = async () => {
      // The killed process may still be reaped by init after the command returned.
      for (let i = 0; i < 200 && (await hosts()).length > 0; i++) await new Promise((r) => setImmediate(r));
      return hosts();
    };
    await mkm(['--data-dir', dataDir, '--module', hsm.modulePath, 'tokens']);
    expect(await gone()).toEqual([]);
    const failed = await mkm([
      '--data-dir',
      dataDir,
      '--module',
      join(outdir, 'no-such-library.so'),
      'tokens',
    ]).catch((e: { stdout: string; stderr: string }) => e);
    expect(`${failed.stdout}${failed.stderr}`).toMatch(/MODULE|LIBRARY|not found|cannot/i);
    expect(await gone()).toEqual([]);
  });

  // The entry forks the host before it reads the bundle: a bundle that cannot load must take the
  // host down with it, or the host's IPC channel would hold the command open for ever.
  it('ends at once, and ends its host, when the bundle itself cannot load', async () => {
    const broken = mkdtempSync(join(tmpdir(), 'mkm-cli-bundle-broken-'));
    try {
      cpSync(outdir, broken, { recursive: true, verbatimSymlinks: true });
      writeFileSync(join(broken, 'mkm.cjs'), 'throw new Error("this bundle is damaged");\n');
      const failed = await run(
        process.execPath,
        [join(broken, 'run.mjs'), '--data-dir', dataDir, '--module', hsm.modulePath, 'tokens'],
        { cwd: broken, env: { ...process.env, ...hsm.env, XDG_CACHE_HOME: cacheHome }, timeout: 20_000 },
      ).catch((e: { code: number | null; signal: string | null; stderr: string }) => e);
      expect(failed).toMatchObject({ signal: null, code: 1 });
      expect((failed as { stderr: string }).stderr).toContain('this bundle is damaged');
      const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
      expect(stdout.split('\n').filter((l) => l.includes(join(broken, 'hsm-host.mjs')))).toEqual([]);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });
});

describe('bin/mkm.mjs runs the bundle only while it is current', () => {
  let tree: string;

  beforeAll(() => {
    tree = mkdtempSync(join(tmpdir(), 'mkm-cli-stamp-'));
    for (const dir of ['electron/cli', 'shared', 'dist-cli']) mkdirSync(join(tree, dir), { recursive: true });
    writeFileSync(join(tree, 'electron/cli/mkm.cli.ts'), '');
    writeFileSync(join(tree, 'shared/errors.std.ts'), '');
    writeFileSync(join(tree, 'package.json'), '{}');
    writeFileSync(join(tree, 'dist-cli/mkm.mjs'), '');
  });

  afterAll(() => rmSync(tree, { recursive: true, force: true }));

  const stamp = (sourcesAt: number) =>
    writeFileSync(join(tree, 'dist-cli/stamp.json'), JSON.stringify({ sourcesAt }));
  const touch = (file: string, at: Date) => utimesSync(join(tree, file), at, at);
  const t0 = new Date('2026-01-01T00:00:00Z');

  it('uses a bundle stamped with the newest source', () => {
    for (const f of ['electron/cli/mkm.cli.ts', 'shared/errors.std.ts', 'package.json']) touch(f, t0);
    stamp(t0.getTime());
    expect(cliBundleIsCurrent(tree)).toBe(true);
  });

  it('falls back to the sources once any source file is newer than the bundle', () => {
    stamp(t0.getTime());
    touch('shared/errors.std.ts', new Date(t0.getTime() + 1000));
    expect(cliBundleIsCurrent(tree)).toBe(false);
    touch('shared/errors.std.ts', t0);
    touch('package.json', new Date(t0.getTime() + 1000));
    expect(cliBundleIsCurrent(tree)).toBe(false);
  });

  it('falls back when the stamp or the bundle is missing or unreadable', () => {
    for (const f of ['electron/cli/mkm.cli.ts', 'shared/errors.std.ts', 'package.json']) touch(f, t0);
    writeFileSync(join(tree, 'dist-cli/stamp.json'), 'not json');
    expect(cliBundleIsCurrent(tree)).toBe(false);
    rmSync(join(tree, 'dist-cli/stamp.json'));
    expect(cliBundleIsCurrent(tree)).toBe(false);
    stamp(t0.getTime());
    rmSync(join(tree, 'dist-cli/mkm.mjs'));
    expect(cliBundleIsCurrent(tree)).toBe(false);
  });
});
