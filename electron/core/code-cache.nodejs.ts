import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

/**
 * Runs the CLI's CommonJS bundles (dist-cli/mkm.cjs, hsm-host.cjs) with V8's code cache, the way
 * Node 22's `module.enableCompileCache()` and Chromium's "Code Cache" folder do: Node 20 has no
 * cache for ES modules, and compiling the bundle was a fifth of every `mkm` command. The cache is
 * derived data of this machine's V8, kept per user (not beside the bundle, so it is no part of
 * the build and of its hash), written once after a run that had none, and never required: a
 * missing, damaged or rejected cache only means compiling as before.
 *
 * V8 checks a cache against its own version, its flags and the source's length, and (in release
 * builds) not its content: the file starts with the SHA-256 of the rest, checked before V8 sees
 * it, so a torn or damaged file is compiled around instead of crashing the command. It holds the
 * bundle's compiled code and no runtime value (no PIN, no key: V8 serialises no heap state).
 *
 * A script compiled this way has no dynamic import() (Node 20 restores no import callback with a
 * cached script): the build turns every import() into require (scripts/build-cli.mjs).
 */

const DIGEST_BYTES = 32;

/** `$XDG_CACHE_HOME/mkm/v8` or `~/.cache/mkm/v8`; none when MKM_CODE_CACHE=0. */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.MKM_CODE_CACHE === '0') return null;
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'mkm', 'v8');
}

/** Bundles of one name in other folders (a second checkout, a test's build) keep their own. */
export function bundleKey(bundle: string): string {
  return `${basename(bundle)}-${createHash('sha256').update(dirname(bundle)).digest('hex').slice(0, 12)}-`;
}

/**
 * What a cache file's name starts with for this bundle as it is now: a rebuilt bundle (another
 * size or time) or another Node starts afresh, and the older files go.
 */
export function cachePrefix(bundle: string, size: number, mtimeMs: number): string {
  return `${bundleKey(bundle)}${size}-${Math.trunc(mtimeMs)}-${process.versions.v8}-${process.arch}-`;
}

/**
 * One cache per command: V8 caches the functions a run compiled, so `mkm --version` run first
 * would otherwise leave `mkm tokens` a cache without its own code. A name from the command line
 * is only used when it looks like a command (no path can be made of it).
 */
export function cacheVariant(command: string | null): string {
  if (command === null) return 'none';
  return /^[a-z][a-z0-9-]{0,31}$/.test(command) ? command : 'other';
}

export interface LoadedBundle {
  exports: Record<string, unknown>;
  /** `used`: compiled from the cache; `missing`/`rejected`: compiled, a cache is written at exit. */
  cache: 'used' | 'missing' | 'rejected' | 'off';
}

/** Compiles and runs a CommonJS file as `require` would, with the code cache when there is one. */
export function loadBundle(
  bundle: string,
  { dir = codeCacheDir(), variant = 'main' }: { dir?: string | null; variant?: string | null } = {},
): LoadedBundle {
  // scripts/build-cli.mjs makes sure the bundles are ASCII, which latin1 reads as is, without the
  // UTF-8 decoding that took 15 ms of every start.
  const source = readFileSync(bundle, 'latin1');
  const prefix = cachePrefix(bundle, ...sizeAndTime(bundle));
  const cachePath = dir ? join(dir, `${prefix}${cacheVariant(variant)}.bin`) : null;
  const cached = cachePath ? readVerified(cachePath) : undefined;
  const script = new Script(Module.wrap(source), {
    filename: bundle,
    ...(cached ? { cachedData: cached } : {}),
  });
  const cache = !cachePath ? 'off' : !cached ? 'missing' : script.cachedDataRejected ? 'rejected' : 'used';
  // Written at exit, so it also holds the functions this run compiled lazily, not only the top level.
  if (cachePath && cache !== 'used')
    process.once('exit', () => writeCache(cachePath, script, bundleKey(bundle), prefix));
  const module = { exports: {} as Record<string, unknown> };
  const run = script.runInThisContext() as (
    exports: unknown,
    require: NodeRequire,
    module: unknown,
    filename: string,
    dirname: string,
  ) => void;
  run(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  return { exports: module.exports, cache };
}

function sizeAndTime(file: string): [number, number] {
  const stat = statSync(file);
  return [stat.size, stat.mtimeMs];
}

const digestOf = (data: Uint8Array): Buffer => createHash('sha256').update(data).digest();

/** The cache's bytes when the file is whole, otherwise nothing. */
export function readVerified(path: string): Buffer | undefined {
  let file: Buffer;
  try {
    file = readFileSync(path);
  } catch {
    return undefined;
  }
  if (file.length <= DIGEST_BYTES) return undefined;
  const data = file.subarray(DIGEST_BYTES);
  return digestOf(data).equals(file.subarray(0, DIGEST_BYTES)) ? data : undefined;
}

/**
 * Whole or not at all (a temporary file renamed over), and the caches of the bundle's earlier
 * builds removed: those whose names start with `bundle` (its key) but not with `current`.
 */
export function writeCache(
  path: string,
  script: Pick<Script, 'createCachedData'>,
  bundle: string,
  current: string,
): void {
  try {
    const data = script.createCachedData();
    const dir = dirname(path);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, Buffer.concat([digestOf(data), data]), { mode: 0o600 });
    renameSync(temporary, path);
    for (const name of readdirSync(dir)) {
      if (name.startsWith(bundle) && !name.startsWith(current) && !name.endsWith('.tmp'))
        rmSync(join(dir, name), { force: true });
    }
  } catch {
    // A cache that cannot be written (a read-only home, a full disk) costs the next start its
    // compile time, nothing else; the command has already done its work.
  }
}
