#!/usr/bin/env node
// `npm run build:cli`: the `mkm` CLI and the HSM host it forks, bundled by esbuild into
// dist-cli/, so a command starts without compiling TypeScript (tsx costs about half a second at
// every start). Rare dependencies (the sandbox's fastify, pdf-lib, node-forge) sit in chunks of
// their own that load only when a command needs them. bin/mkm.mjs uses the bundle only while it
// is newer than every source file, and falls back to the sources otherwise.
import { build } from 'esbuild';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newestSourceMtime } from './cli-sources.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// --outdir DIR builds elsewhere (a test that must not disturb dist-cli/ while others run it).
const at = process.argv.indexOf('--outdir');
const outdir = at > 0 && process.argv[at + 1] ? resolve(process.argv[at + 1]) : join(root, 'dist-cli');
const started = Date.now();
// Taken before building, so a source saved during the build makes the bundle stale.
const sourcesAt = newestSourceMtime(root);

// zod bundles the messages of ~60 languages behind `z.locales` (half of its code, which both
// processes compile at every start); mkm speaks English and never selects another locale.
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(build) {
    build.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, (args) => ({
      contents: 'export { default as en } from "./en.js";',
      resolveDir: dirname(args.path),
    }));
  },
};

// conf imports ajv for a schema it compiles at start; the CLI hands it none (the store's schema is
// compiled ahead of time, electron/core/store.nodejs.ts), yet ajv's ~300 kB would still load
// at every command. conf's two ajv imports become a stub that throws if anything ever used it.
const confWithoutAjv = {
  name: 'conf-without-ajv',
  setup(build) {
    build.onResolve({ filter: /^ajv(?:\/dist\/2020\.js|-formats)$/ }, (args) =>
      /[\\/]node_modules[\\/]conf[\\/]/.test(args.importer)
        ? { path: args.path, namespace: 'conf-without-ajv' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'conf-without-ajv' }, () => ({
      contents:
        "const unused = () => { throw new Error('conf was given a schema to compile in the CLI bundle'); };\n" +
        'export class Ajv2020 { constructor() { unused(); } }\nexport default { default: unused };\n',
    }));
  },
};

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
await build({
  absWorkingDir: root,
  entryPoints: { mkm: 'electron/cli/mkm.cli.ts', 'hsm-host': 'electron/hsm/host/host.host.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  // Flat, so every chunk finds the bundled host beside it (see defaultHostEntry).
  chunkNames: 'chunk-[hash]',
  define: { __MKM_CLI_BUNDLE__: 'true' },
  // The native binding is loaded where it is installed; Electron is never part of the CLI.
  external: ['pkcs11js', 'koffi', 'electron'],
  // CommonJS dependencies bundled into ESM still call require() for Node's built-ins.
  banner: {
    js: "import { createRequire as __mkmRequire } from 'node:module'; const require = __mkmRequire(import.meta.url);",
  },
  logLevel: 'warning',
  legalComments: 'none',
  plugins: [zodEnglishOnly, confWithoutAjv],
});
writeFileSync(join(outdir, 'stamp.json'), JSON.stringify({ sourcesAt, builtAt: started }) + '\n');
console.log(`${outdir} built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
