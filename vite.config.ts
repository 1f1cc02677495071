import react from '@vitejs/plugin-react';
import { builtinModules } from 'node:module';
import { resolve } from 'node:path';
import { defineConfig } from 'vite';
import electron, { type ElectronOptions } from 'vite-plugin-electron';

/**
 * One config builds all three: the renderer (plus browser mode's bridge), Electron's main
 * process and the sandboxed preload. The preload is one self-contained CommonJS file because a
 * sandboxed preload can neither `import` nor `require` anything but `electron`.
 */
const nodeExternals = [
  'electron',
  'pkcs11js',
  'koffi',
  'electron-store',
  'conf',
  'ws',
  ...builtinModules,
  ...builtinModules.map((m) => `node:${m}`),
];

/** A Node-side bundle (main, host, preload) written to dist-electron/. */
function nodeEntry(
  entry: string,
  fileName: string,
  format: 'es' | 'cjs',
  external: string[],
): ElectronOptions {
  const path = resolve(import.meta.dirname, entry);
  return {
    entry: path,
    vite: {
      logLevel: 'warn',
      build: {
        outDir: resolve(import.meta.dirname, 'dist-electron'),
        emptyOutDir: false,
        minify: false,
        lib: { entry: path, formats: [format], fileName: () => fileName },
        rollupOptions: { external },
      },
    },
  };
}

export default defineConfig(({ mode }) => ({
  root: resolve(import.meta.dirname, 'renderer'),
  base: './',
  plugins: [
    react(),
    mode !== 'renderer-only' &&
      electron([
        nodeEntry('electron/main.electron.ts', 'main.js', 'es', nodeExternals),
        // The HSM host: a utility process of its own that loads the vendor PKCS#11 library.
        nodeEntry('electron/hsm/host/host.host.ts', 'hsm-host.js', 'es', nodeExternals),
        {
          ...nodeEntry('electron/preload/index.preload.ts', 'preload.cjs', 'cjs', ['electron']),
          onstart: ({ reload }) => reload(),
        },
      ]),
  ],
  build: {
    outDir: resolve(import.meta.dirname, 'dist/renderer'),
    emptyOutDir: true,
    sourcemap: false,
    rollupOptions: {
      input: {
        index: resolve(import.meta.dirname, 'renderer/index.html'),
        'web-bridge': resolve(import.meta.dirname, 'renderer/src/web-bridge.dom.ts'),
      },
      output: {
        // Browser mode injects the bridge by a fixed name.
        entryFileNames: (chunk) =>
          chunk.name === 'web-bridge' ? 'web-bridge.js' : 'assets/[name]-[hash].js',
      },
    },
  },
}));
