#!/usr/bin/env node
// `npm run bench [filter...]`: runs every bench/*.bench.ts in turn with tsx (only those whose
// file name contains one of the filters, when given), streams each one's lines, and ends with a
// summary of which ran and which failed to run. Exits non-zero only when a benchmark crashed
// (a non-zero exit or a signal); a missed target is a figure, reported by the benchmark itself.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = join(root, 'bench');
const tsx = join(root, 'node_modules', '.bin', 'tsx');
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
// A benchmark that hangs counts as crashed rather than holding the suite forever.
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_S ?? 600) * 1000;

const all = readdirSync(benchDir)
  .filter((f) => f.endsWith('.bench.ts'))
  .sort();
const selected = filters.length ? all.filter((f) => filters.some((needle) => f.includes(needle))) : all;
if (selected.length === 0) {
  console.error(`No benchmark matches ${filters.join(', ')}. Available: ${all.join(', ')}`);
  process.exit(2);
}

function run(file) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(tsx, [join('bench', file)], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
    }, TIMEOUT_MS);
    const finish = (code, signal, error) => {
      clearTimeout(timer);
      resolve({ file, code, signal, error, timedOut, seconds: (performance.now() - started) / 1000 });
    };
    child.on('error', (error) => finish(null, null, error));
    child.on('exit', (code, signal) => finish(code, signal));
  });
}

const results = [];
for (const file of selected) {
  console.log(`\n== ${file}`);
  results.push(await run(file));
}

const crashed = results.filter((r) => r.code !== 0);
console.log('\n== summary');
for (const r of results) {
  const how = r.error
    ? `failed to start (${r.error.message})`
    : r.code === 0
      ? 'ran'
      : `FAILED to run (${r.timedOut ? `timed out after ${TIMEOUT_MS / 1000} s` : r.signal ? `signal ${r.signal}` : `exit code ${r.code}`})`;
  console.log(`${r.file}: ${how}, ${r.seconds.toFixed(1)} s`);
}
console.log(
  `${results.length - crashed.length} of ${results.length} benchmarks ran` +
    (crashed.length ? `; failed to run: ${crashed.map((r) => r.file).join(', ')}` : ''),
);
process.exit(crashed.length ? 1 : 0);
