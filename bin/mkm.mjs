#!/usr/bin/env node
// The `mkm` command. It runs the bundle in dist-cli/ (`npm run build:cli`, also run by `npm ci`)
// while that bundle is newer than every source file, and otherwise the TypeScript sources through
// tsx, so an edited checkout never runs stale code and a fresh one works with no build step.
import { fileURLToPath } from 'node:url';
import { cliBundleIsCurrent } from '../scripts/cli-sources.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

let main;
if (process.env.MKM_CLI_FROM_SOURCE !== '1' && cliBundleIsCurrent(root)) {
  ({ main } = await import(new URL('../dist-cli/mkm.mjs', import.meta.url).href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../electron/cli/mkm.cli.ts'));
}
process.exitCode = await main(process.argv.slice(2));
