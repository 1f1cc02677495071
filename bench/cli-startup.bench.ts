import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freshToken, median, verdict } from './lib/hsm';

/**
 * The CLI's start-up, which scripted ceremonies and support pay on every command:
 * - `mkm tokens` (start, load the settings, fork the HSM host, C_Initialize, list the slots)
 *   against `pkcs11-tool -L` on the same SoftHSM2 token, wall time, medians of RUNS runs taken in
 *   turn. Target: within 30x. mkm runs as `node bin/mkm.mjs` does after `npm ci`: from the bundle in dist-cli/.
 *   The bundle runs from V8's code cache (written by the warm-up run, as by a user's first
 *   command); the same command without it (MKM_CODE_CACHE=0) is printed for reference.
 * - `mkm --version` from the bundle and from the TypeScript sources through tsx (how a checkout
 *   with edited sources runs), against a bare `node -e 0`, for reference.
 * - Where the environment sets NODE_EXTRA_CA_CERTS (a proxy's CA bundle), Node parses it and its
 *   own roots before running any code: `node -e 0` with and without it shows what that costs
 *   every Node process of mkm's (the host is forked without it; main cannot shed it).
 * Run: npx tsx bench/cli-startup.bench.ts (it builds dist-cli/ first).
 */

const RUNS = 15;
const TARGET = 30;
const run = promisify(execFile);
const node = process.execPath;
const mkm = resolve('bin/mkm.mjs');

async function wall(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  await run(cmd, args, { env });
  return performance.now() - t0;
}

async function medianOf(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  await wall(cmd, args, env); // warm the page cache; not counted
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) times.push(await wall(cmd, args, env));
  return median(times);
}

/**
 * Both commands in turn, RUNS times each, and the median of each: the machine's moments of
 * slowness (a shared VM's) fall on both rather than on one whole series.
 */
async function interleavedMedians(
  a: [string, string[]],
  b: [string, string[]],
  env: NodeJS.ProcessEnv,
): Promise<[number, number]> {
  await wall(a[0], a[1], env);
  await wall(b[0], b[1], env);
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    ta.push(await wall(a[0], a[1], env));
    tb.push(await wall(b[0], b[1], env));
  }
  return [median(ta), median(tb)];
}

const ms = (v: number) => `${v.toFixed(0)} ms`;

await run(node, [resolve('scripts/build-cli.mjs')]);
const hsm = freshToken('bench-cli');
const dataDir = mkdtempSync(join(tmpdir(), 'mkm-bench-cli-'));
try {
  const env: NodeJS.ProcessEnv = { ...process.env, ...hsm.env, MKM_CLI_FROM_SOURCE: '' };
  const tokensArgs = [mkm, '--data-dir', dataDir, '--module', hsm.modulePath, 'tokens'];
  const { stdout } = await run(node, tokensArgs, { env });
  if (!stdout.includes(hsm.label)) throw new Error(`mkm tokens did not list the token:\n${stdout}`);

  const [tokens, tool] = await interleavedMedians(
    [node, tokensArgs],
    ['pkcs11-tool', ['--module', hsm.modulePath, '-L']],
    env,
  );
  const ratio = tokens / tool;
  console.log(
    `cli mkm tokens: ${ms(tokens)} vs pkcs11-tool -L ${ms(tool)}, ratio ${ratio.toFixed(1)}x ` +
      `(target <= ${TARGET}x: ${verdict(ratio <= TARGET)})`,
  );

  const uncached = await medianOf(node, tokensArgs, { ...env, MKM_CODE_CACHE: '0' });
  console.log(`cli mkm tokens without the code cache (for reference): ${ms(uncached)}`);

  const bare = await medianOf(node, ['-e', '0'], env);
  const bundled = await medianOf(node, [mkm, '--version'], env);
  const fromSource = await medianOf(node, [mkm, '--version'], { ...env, MKM_CLI_FROM_SOURCE: '1' });
  console.log(
    `cli mkm --version: bundle ${ms(bundled)}, sources through tsx ${ms(fromSource)} ` +
      `(${(fromSource / bundled).toFixed(1)}x slower), bare node ${ms(bare)} ` +
      `(bundle ${(bundled / bare).toFixed(1)}x bare node)`,
  );
  if (env.NODE_EXTRA_CA_CERTS) {
    const { NODE_EXTRA_CA_CERTS: _set, ...without } = env;
    const clean = await medianOf(node, ['-e', '0'], without);
    console.log(
      `cli node start: ${ms(bare)} with this environment's NODE_EXTRA_CA_CERTS, ${ms(clean)} without ` +
        `(${ms(bare - clean)} of every mkm command is Node reading that CA bundle)`,
    );
  }
} finally {
  rmSync(dataDir, { recursive: true, force: true });
  hsm.cleanup();
}
