import react from '@vitejs/plugin-react';
import { builtinModules } from 'node:module';
import { resolve } from 'node:path';
import { defineConfig } from 'vite';
import electron from 'vite-plugin-electron';

/**
 * One config builds all three: the renderer (plus browser mode's bridge), Electron's main
 * process and the sandboxed preload. The preload is one self-contained CommonJS file because a
 * sandboxed preload can neither `import` nor `require` anything but `electron`.
 */
const nodeExternals = [
  'electron',
  'pkcs11js',
  'electron-store',
  'conf',
  'ws',
  ...builtinModules,
  ...builtinModules.map((m) => `node:${m}`),
];

export default defineConfig(({ mode }) => ({
  root: resolve(import.meta.dirname, 'renderer'),
  base: './',
  plugins: [
    react(),
    mode !== 'renderer-only' &&
      electron([
        {
          entry: resolve(import.meta.dirname, 'electron/main.electron.ts'),
          vite: {
            logLevel: 'warn',
            build: {
              outDir: resolve(import.meta.dirname, 'dist-electron'),
              emptyOutDir: false,
              minify: false,
              lib: {
                entry: resolve(import.meta.dirname, 'electron/main.electron.ts'),
                formats: ['es'],
                fileName: () => 'main.js',
              },
              rollupOptions: { external: nodeExternals },
            },
          },
        },
        {
          // The HSM host: a utility process of its own that loads the vendor PKCS#11 library.
          entry: resolve(import.meta.dirname, 'electron/hsm/host/host.host.ts'),
          vite: {
            logLevel: 'warn',
            build: {
              outDir: resolve(import.meta.dirname, 'dist-electron'),
              emptyOutDir: false,
              minify: false,
              lib: {
                entry: resolve(import.meta.dirname, 'electron/hsm/host/host.host.ts'),
                formats: ['es'],
                fileName: () => 'hsm-host.js',
              },
              rollupOptions: { external: nodeExternals },
            },
          },
        },
        {
          entry: resolve(import.meta.dirname, 'electron/preload/index.preload.ts'),
          onstart: ({ reload }) => reload(),
          vite: {
            logLevel: 'warn',
            build: {
              outDir: resolve(import.meta.dirname, 'dist-electron'),
              emptyOutDir: false,
              minify: false,
              lib: {
                entry: resolve(import.meta.dirname, 'electron/preload/index.preload.ts'),
                formats: ['cjs'],
                fileName: () => 'preload.cjs',
              },
              rollupOptions: { external: ['electron'] },
            },
          },
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
        'web-bridge': resolve(import.meta.dirname, 'electron/browser/web-bridge.dom.ts'),
      },
      output: {
        // Browser mode injects the bridge by a fixed name.
        entryFileNames: (chunk) =>
          chunk.name === 'web-bridge' ? 'web-bridge.js' : 'assets/[name]-[hash].js',
      },
    },
  },
}));
