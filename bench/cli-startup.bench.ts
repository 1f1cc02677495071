import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freshToken, median, verdict } from './lib/hsm';

/**
 * The CLI's start-up, which scripted ceremonies and support pay on every command:
 * - `mkm tokens` (start, load the settings, fork the HSM host, C_Initialize, list the slots)
 *   against `pkcs11-tool -L` on the same SoftHSM2 token, wall time, median of RUNS. Target: within
 *   30x. mkm runs as `node bin/mkm.mjs` does after `npm ci`: from the bundle in dist-cli/.
 * - `mkm --version` from the bundle and from the TypeScript sources through tsx (how a checkout
 *   with edited sources runs), against a bare `node -e 0`, for reference.
 * Run: npx tsx bench/cli-startup.bench.ts (it builds dist-cli/ first).
 */

const RUNS = 9;
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

const ms = (v: number) => `${v.toFixed(0)} ms`;

await run(node, [resolve('scripts/build-cli.mjs')]);
const hsm = freshToken('bench-cli');
const dataDir = mkdtempSync(join(tmpdir(), 'mkm-bench-cli-'));
try {
  const env = { ...process.env, ...hsm.env, MKM_CLI_FROM_SOURCE: '' };
  const tokensArgs = [mkm, '--data-dir', dataDir, '--module', hsm.modulePath, 'tokens'];
  const { stdout } = await run(node, tokensArgs, { env });
  if (!stdout.includes(hsm.label)) throw new Error(`mkm tokens did not list the token:\n${stdout}`);

  const tool = await medianOf('pkcs11-tool', ['--module', hsm.modulePath, '-L'], env);
  const tokens = await medianOf(node, tokensArgs, env);
  const ratio = tokens / tool;
  console.log(
    `cli mkm tokens: ${ms(tokens)} vs pkcs11-tool -L ${ms(tool)}, ratio ${ratio.toFixed(1)}x ` +
      `(target <= ${TARGET}x: ${verdict(ratio <= TARGET)})`,
  );

  const bare = await medianOf(node, ['-e', '0'], env);
  const bundled = await medianOf(node, [mkm, '--version'], env);
  const fromSource = await medianOf(node, [mkm, '--version'], { ...env, MKM_CLI_FROM_SOURCE: '1' });
  console.log(
    `cli mkm --version: bundle ${ms(bundled)}, sources through tsx ${ms(fromSource)} ` +
      `(${(fromSource / bundled).toFixed(1)}x slower), bare node ${ms(bare)} ` +
      `(bundle ${(bundled / bare).toFixed(1)}x bare node)`,
  );
} finally {
  rmSync(dataDir, { recursive: true, force: true });
  hsm.cleanup();
}
