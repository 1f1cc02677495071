import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import { builtinModules } from 'node:module';

// File suffixes name the process that loads a file (docs/CONVENTIONS.md, "Which file may import
// which"). Specifiers are matched as written: relative imports end in the suffix without extension.
const NODE_BUILTINS = `^(node:.*|(${builtinModules.filter((m) => !m.startsWith('_')).join('|')})(/.*)?)$`;
const ELECTRON = '^electron(/.*)?$';
const localSuffix = (...suffixes) => `^\\.{1,2}/(.*/)?[^/]*\\.(${suffixes.join('|')})$`;
const builtins = { regex: NODE_BUILTINS, message: 'Node built-ins do not exist in this process.' };
const electronPkg = {
  regex: ELECTRON,
  message: "Only *.electron.ts and *.preload.ts may import 'electron'.",
};
const suffixes = (process, ...names) => ({
  regex: localSuffix(...names),
  message: `${process} code must not import *.${names.join(', *.')} files (they run in another process).`,
});

// The process boundary, one entry per suffix, in `no-restricted-imports`. Static imports and
// re-exports only; dynamic `import()` is checked by the `no-restricted-syntax` entries derived below.
const PROCESS_RULES = [
  {
    files: ['**/*.std.ts'],
    patterns: [
      {
        // pdf-lib: pure JavaScript, no Node built-ins; printable sheets and transcripts are laid
        // out by one *.std.ts renderer in the CLI and in the renderer alike.
        regex: '^(?!\\.{1,2}/|zod$|pdf-lib$)',
        message: '*.std.ts is pure and runs anywhere: only *.std files and pure packages (zod, pdf-lib).',
      },
      {
        regex: '^\\.{1,2}/(?!(.*/)?[^/]*\\.std$)',
        message: '*.std.ts is pure and runs anywhere: it imports only *.std files.',
      },
    ],
  },
  {
    files: ['**/*.dom.ts', '**/*.dom.tsx'],
    patterns: [builtins, electronPkg, suffixes('Renderer', 'nodejs', 'host', 'cli', 'electron', 'preload')],
  },
  {
    files: ['**/*.host.ts'],
    patterns: [electronPkg, suffixes('HSM host', 'dom', 'cli', 'electron', 'preload')],
  },
  {
    files: ['**/*.nodejs.ts'],
    patterns: [electronPkg, suffixes('Node-role', 'host', 'dom', 'cli', 'electron', 'preload')],
  },
  { files: ['**/*.cli.ts'], patterns: [electronPkg, suffixes('CLI', 'host', 'dom', 'electron', 'preload')] },
  { files: ['**/*.electron.ts'], patterns: [suffixes('Electron main', 'host', 'dom', 'cli', 'preload')] },
  {
    files: ['**/*.preload.ts'],
    patterns: [builtins, suffixes('The sandboxed preload', 'nodejs', 'host', 'dom', 'cli', 'electron')],
  },
];

// The layers, shared/ <- electron/ <- electron/cli/ (and shared/ <- renderer/), in
// `@typescript-eslint/no-restricted-imports` so that a folder entry and a suffix entry matching the
// same file do not overwrite each other (flat config keeps only the last options of one rule).
const upward = (folders, from) => ({
  regex: `^(\\.{1,2}/)+(.*/)?(${folders.join('|')})(/|$)`,
  message: `${from} must not import from ${folders.map((f) => f + '/').join(' or ')} (layers: shared/ <- electron/ <- electron/cli/).`,
});
const LAYER_RULES = [
  { files: ['shared/**'], patterns: [upward(['electron', 'renderer', 'cli'], 'shared/')] },
  {
    files: ['electron/**'],
    ignores: ['electron/cli/**'],
    patterns: [upward(['renderer', 'cli'], 'electron/')],
  },
  { files: ['electron/cli/**'], patterns: [upward(['renderer'], 'electron/cli/')] },
  { files: ['renderer/**'], patterns: [upward(['electron', 'cli'], 'renderer/')] },
];

// `import()` escapes `no-restricted-imports`: the suffix patterns again, on dynamic imports (esquery
// regexes cannot hold a slash, hence \x2F). The folder layers are not checked for `import()`.
const dynamicImports = (patterns) =>
  patterns.map(({ regex, message }) => ({
    selector: `ImportExpression > Literal.source[value=/${regex.replaceAll('/', '\\x2F')}/]`,
    message,
  }));
const boundaryConfigs = () => [
  ...PROCESS_RULES.map(({ files, patterns }) => ({
    files,
    rules: {
      'no-restricted-imports': ['error', { patterns }],
      'no-restricted-syntax': ['error', ...dynamicImports(patterns)],
    },
  })),
  ...LAYER_RULES.map(({ files, ignores, patterns }) => ({
    files,
    ...(ignores ? { ignores } : {}),
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] },
  })),
];

export default tseslint.config(
  {
    ignores: [
      'node_modules',
      'dist',
      'dist-electron',
      'dist-cli',
      'release',
      'test-results',
      'playwright-report',
      // Written by a script (scripts/store-validator.ts), checked against its source by a test.
      '**/*.generated.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    files: ['renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
    },
  },
  // The renderer is a sandboxed web page (no Node, no Electron, no way around the contract); the
  // rest of the process and layer boundaries likewise.
  ...boundaryConfigs(),
  {
    files: [
      'scripts/**',
      'bench/**',
      'bin/**',
      'test/**',
      '**/*.cli.ts',
      '**/cli.nodejs.ts',
      'electron/gateway/sandbox/**',
    ],
    rules: { 'no-console': 'off' },
  },
  prettier,
);
