#!/usr/bin/env node
// `npm start`: Electron where its binary is installed; otherwise one line saying so, then
// browser mode (the same services in Node, the same renderer in Chromium).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const forceBrowser = process.argv.includes('--browser');
const passthrough = process.argv.slice(2).filter((a) => a !== '--browser');

function electronBinary() {
  try {
    const path = require('electron');
    return typeof path === 'string' && existsSync(path) ? path : null;
  } catch {
    return null;
  }
}

function build() {
  const result = spawnSync(
    process.execPath,
    [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const electron = forceBrowser ? null : electronBinary();
if (!electron && !forceBrowser) {
  console.log(
    "Electron's binary is not installed here (npm run electron:install fetches it where its download host is reachable); starting browser mode.",
  );
}
build();
if (electron) {
  const child = spawn(electron, [root, ...passthrough], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(root, 'electron/browser/cli.nodejs.ts'), '--open', ...passthrough],
    { cwd: root, stdio: 'inherit' },
  );
  child.on('exit', (code) => process.exit(code ?? 0));
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
}
