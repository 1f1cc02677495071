#!/usr/bin/env node
// `npm run build:cli`: the `mkm` CLI and the HSM host it forks, bundled by esbuild into
// dist-cli/, so a command starts without compiling TypeScript (tsx costs about half a second at
// every start). Each is one CommonJS file (mkm.cjs, hsm-host.cjs) behind a small ES module entry
// (mkm.mjs, hsm-host.mjs) that runs it with V8's code cache (electron/core/code-cache.nodejs.ts):
// Node 20 caches no compiled ES modules, and compiling was a fifth of every command. Modules
// reached only by a dynamic import (the sandbox's fastify, pdf-lib, node-forge) still run only
// when a command needs them. bin/mkm.mjs uses the bundle only while it is newer than every source
// file, and falls back to the sources otherwise.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  legalComments: 'none',
};
await build({
  ...common,
  entryPoints: { mkm: 'electron/cli/mkm.cli.ts', 'hsm-host': 'electron/hsm/host/host.host.ts' },
  outdir,
  format: 'cjs',
  outExtension: { '.js': '.cjs' },
  // The sources are ES modules: import.meta.url is the bundle's own URL (defaultHostEntry finds
  // the host beside it; the build hash reads the folder).
  define: { __MKM_CLI_BUNDLE__: 'true', 'import.meta.url': '__mkmImportMetaUrl' },
  banner: { js: "var __mkmImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  // The native bindings (pkcs11js, and koffi for one-call attribute reads) are loaded where they
  // are installed; Electron is never part of the CLI.
  external: ['pkcs11js', 'koffi', 'electron'],
  plugins: [zodEnglishOnly, confWithoutAjv],
  // import() becomes require(): a script run from V8's code cache has no dynamic import in Node 20.
  supported: { 'dynamic-import': false },
  // Every start reads the whole file: without comments and indentation it is a third smaller.
  // Names stay, so a stack trace in a log still reads.
  minifyWhitespace: true,
});
// ASCII only (esbuild escapes the rest in strings): the loader reads the file as latin1, several
// times faster than decoding UTF-8, and a byte outside ASCII would then be read wrongly.
for (const bundle of ['mkm.cjs', 'hsm-host.cjs']) {
  const text = readFileSync(join(outdir, bundle));
  const at = text.findIndex((byte) => byte > 0x7f);
  if (at >= 0) throw new Error(`${bundle}: a byte outside ASCII at offset ${at}`);
  const dynamic = /\bimport\(\s*["'`]/.exec(text.toString('latin1'));
  if (dynamic) throw new Error(`${bundle}: an import() the code cache cannot serve at ${dynamic.index}`);
}
// The entries: bin/mkm.mjs imports mkm.mjs for `main`; the CLI forks hsm-host.mjs. Each runs its
// bundle from the code cache; mkm.mjs first forks the token host of a command that needs one.
await build({
  ...common,
  entryPoints: {
    mkm: 'electron/cli/entry/mkm-entry.nodejs.ts',
    'hsm-host': 'electron/hsm/host/bundle-entry.host.ts',
  },
  outdir,
  outExtension: { '.js': '.mjs' },
  format: 'esm',
  define: { __MKM_CLI_BUNDLE__: 'true' },
});
writeFileSync(join(outdir, 'stamp.json'), JSON.stringify({ sourcesAt, builtAt: started }) + '\n');
console.log(`${outdir} built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
