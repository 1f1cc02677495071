import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SOFTHSM_MODULE } from './softhsm';

/**
 * The fault-injecting PKCS#11 module (test/fixtures/faulty-pkcs11/faulty-pkcs11.c): built with
 * gcc once per source version into a cache folder, then pointed at the real module by
 * environment. Tests write its control file to make the token fail, stall, crash or be pulled,
 * and read its stats file to learn how many calls of each function were made and which rules
 * fired.
 *
 *   const faulty = createFaultyModule();          // sets process.env FAULTY_PKCS11_*
 *   await tokens.call('loadModule', { path: faulty.path });   // (or moduleOverride)
 *   faulty.control(['C_Sign 3 CKR_DEVICE_ERROR']);
 *   ...; faulty.stats().fired  // [{ fn: 'C_Sign', call: 3, action: 'rv', ckr: 0x30 }]
 */
const SOURCE = join(import.meta.dirname, '..', 'fixtures', 'faulty-pkcs11', 'faulty-pkcs11.c');

export function faultyModuleAvailable(): boolean {
  if (!existsSync(SOFTHSM_MODULE)) return false;
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The built library, compiled only when its source (or the PKCS#11 headers) changed. */
export function buildFaultyModule(): string {
  const include = join(dirname(createRequire(import.meta.url).resolve('pkcs11js/package.json')), 'includes');
  const hash = createHash('sha256')
    .update(readFileSync(SOURCE))
    .update(readFileSync(join(include, 'pkcs11', 'pkcs11f.h')))
    .digest('hex')
    .slice(0, 16);
  const cache = join(tmpdir(), 'mkm-faulty-pkcs11');
  const out = join(cache, `faulty-pkcs11-${hash}.so`);
  if (existsSync(out)) return out;
  mkdirSync(cache, { recursive: true });
  // Built beside its final name and renamed: a concurrent run never loads half a library.
  const tmp = `${out}.${process.pid}.tmp`;
  const args = ['-std=c11', '-O1', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC'];
  execFileSync('gcc', [...args, '-I', include, '-o', tmp, SOURCE, '-ldl', '-lpthread'], { stdio: 'pipe' });
  renameSync(tmp, out);
  return out;
}

export interface FiredRule {
  fn: string;
  call: number;
  action: 'rv' | 'stall' | 'abort' | 'remove' | 'insert' | 'replug';
  ckr: number;
}

export interface FaultStats {
  /** Calls per function since the control file was last written (across host restarts). */
  calls: Record<string, number>;
  fired: FiredRule[];
  removed: boolean;
  pid: number | null;
}

export interface FaultyModule {
  /** The library to load instead of SoftHSM2. */
  path: string;
  /** The module SoftHSM2 forwards to. */
  target: string;
  /** FAULTY_PKCS11_TARGET, _CONTROL and _STATS: give them to child processes. */
  env: Record<string, string>;
  /** Replaces the rules (one per line, see the C file); counts start again from zero. */
  control(rules: string[]): void;
  /** No rule, token present. */
  clear(): void;
  /** Pulls the token until `insertToken` (or the next `control`). */
  removeToken(): void;
  insertToken(): void;
  stats(): FaultStats;
  cleanup(): void;
}

export function createFaultyModule(options: { target?: string; setProcessEnv?: boolean } = {}): FaultyModule {
  const path = buildFaultyModule();
  const dir = mkdtempSync(join(tmpdir(), 'mkm-faulty-'));
  const target = options.target ?? SOFTHSM_MODULE;
  const controlFile = join(dir, 'control');
  const statsFile = join(dir, 'stats');
  const env = {
    FAULTY_PKCS11_TARGET: target,
    FAULTY_PKCS11_CONTROL: controlFile,
    FAULTY_PKCS11_STATS: statsFile,
  };
  const previous = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  if (options.setProcessEnv ?? true) Object.assign(process.env, env);
  let rules: string[] = [];
  // A new file every time (write + rename: a new inode), so the module always sees the change.
  const write = (lines: string[]) => {
    rules = lines;
    writeFileSync(`${controlFile}.tmp`, lines.join('\n') + '\n');
    renameSync(`${controlFile}.tmp`, controlFile);
  };
  write([]);
  return {
    path,
    target,
    env,
    control: write,
    clear: () => write([]),
    removeToken: () => write([...rules.filter((l) => l !== 'token removed'), 'token removed']),
    insertToken: () => write(rules.filter((l) => l !== 'token removed')),
    stats: () => parseStats(existsSync(statsFile) ? readFileSync(statsFile, 'utf8') : ''),
    cleanup() {
      if (options.setProcessEnv ?? true) {
        for (const [k, v] of Object.entries(previous)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function parseStats(text: string): FaultStats {
  const stats: FaultStats = { calls: {}, fired: [], removed: false, pid: null };
  for (const line of text.split('\n')) {
    const [word, ...rest] = line.split(' ');
    if (word === 'fired') {
      const [fn, call, action, ckr] = rest;
      stats.fired.push({
        fn: fn!,
        call: Number(call),
        action: action as FiredRule['action'],
        ckr: parseInt(ckr!, 16),
      });
    } else if (word === 'removed') stats.removed = rest[0] === '1';
    else if (word === 'pid') stats.pid = Number(rest[0]);
    else if (word?.startsWith('C_')) stats.calls[word] = Number(rest[0]);
  }
  return stats;
}

/**
 * One case per call a clean run made: for every function in `calls` (except those in `skip`),
 * its 1st, 2nd, ... nth call. Spread evenly when `limit` is below the total, so a short run
 * still touches every function (those in `prefer` first).
 */
export function everyCall(
  calls: Record<string, number>,
  options: { skip?: string[]; limit?: number; prefer?: string[] } = {},
): { fn: string; call: number }[] {
  // The operation's own calls (C_Sign for a signature) come first in a limited run.
  const rank = (fn: string) => {
    const i = (options.prefer ?? []).indexOf(fn);
    return i === -1 ? Infinity : i;
  };
  const all = Object.entries(calls)
    .filter(([fn]) => !(options.skip ?? []).includes(fn))
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .flatMap(([fn, n]) => Array.from({ length: n }, (_, i) => ({ fn, call: i + 1 })));
  const limit = options.limit ?? all.length;
  if (limit >= all.length) return all;
  // Round-robin over the functions, first calls first.
  const byFn = new Map<string, { fn: string; call: number }[]>();
  for (const c of all) byFn.set(c.fn, [...(byFn.get(c.fn) ?? []), c]);
  const picked: { fn: string; call: number }[] = [];
  for (let round = 0; picked.length < limit; round++) {
    for (const list of byFn.values()) if (list[round] && picked.length < limit) picked.push(list[round]!);
  }
  return picked;
}

/**
 * For operations that make thousands of the same call (a batch): per function, its first and
 * last call and `inner` evenly spaced between, instead of every one.
 */
export function spreadCalls(
  calls: Record<string, number>,
  options: { skip?: string[]; inner?: number } = {},
): { fn: string; call: number }[] {
  const inner = options.inner ?? 1;
  return Object.entries(calls)
    .filter(([fn]) => !(options.skip ?? []).includes(fn))
    .sort(([a], [b]) => a.localeCompare(b))
    .flatMap(([fn, n]) => {
      const picks = new Set([1, n]);
      for (let i = 1; i <= inner; i++) picks.add(Math.max(1, Math.round((n * i) / (inner + 1))));
      return [...picks].sort((a, b) => a - b).map((call) => ({ fn, call }));
    });
}
