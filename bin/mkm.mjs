#!/usr/bin/env node
// The `mkm` command. In a checkout it runs the TypeScript sources through tsx, so it works right
// after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../electron/cli/mkm.cli.ts');
process.exitCode = await main(process.argv.slice(2));
