import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

// The suffix and layer rules of eslint.config.js (docs/CONVENTIONS.md, "Which file may import
// which"), run through ESLint's Node API on snippets placed at paths of the real tree.
let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: process.cwd() });
});

async function boundaryErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages
    .filter((m) =>
      ['no-restricted-imports', '@typescript-eslint/no-restricted-imports', 'no-restricted-syntax'].includes(
        m.ruleId ?? '',
      ),
    )
    .map((m) => `${m.ruleId}: ${m.message}`);
}

const use = (name: string) => `\nexport const used = ${name};\n`;

describe('import boundaries', () => {
  it.each([
    [
      'renderer imports node:fs',
      'renderer/src/x.dom.tsx',
      "import { readFileSync } from 'node:fs';" + use('readFileSync'),
    ],
    [
      'renderer imports bare fs',
      'renderer/src/x.dom.ts',
      "import { readFileSync } from 'fs';" + use('readFileSync'),
    ],
    [
      'renderer imports electron',
      'renderer/src/x.dom.tsx',
      "import { ipcRenderer } from 'electron';" + use('ipcRenderer'),
    ],
    [
      'renderer imports a .nodejs file',
      'renderer/src/x.dom.ts',
      "import { a } from '../../shared/a.nodejs';" + use('a'),
    ],
    ['host imports electron', 'electron/hsm/host/x.host.ts', "import { app } from 'electron';" + use('app')],
    [
      'host imports a .electron file',
      'electron/hsm/host/x.host.ts',
      "import { a } from '../a.electron';" + use('a'),
    ],
    ['std imports a .nodejs file', 'shared/x.std.ts', "import { a } from './a.nodejs';" + use('a')],
    ['std imports a .host file', 'electron/hsm/x.std.ts', "import { a } from './pkcs11/a.host';" + use('a')],
    ['std imports node:path', 'shared/x.std.ts', "import { join } from 'node:path';" + use('join')],
    ['std re-exports a .nodejs file', 'shared/x.std.ts', "export { a } from './a.nodejs';"],
    ['node imports electron', 'electron/core/x.nodejs.ts', "import { app } from 'electron';" + use('app')],
    ['node imports a .cli file', 'electron/core/x.nodejs.ts', "import { a } from '../cli/a.cli';" + use('a')],
    [
      'node imports a .cli file dynamically',
      'electron/core/x.nodejs.ts',
      "export const a = () => import('../cli/a.cli');",
    ],
    [
      'node imports a .host file',
      'electron/hsm/x.nodejs.ts',
      "import { a } from './pkcs11/a.host';" + use('a'),
    ],
    ['electron imports a .cli file', 'electron/x.electron.ts', "import { a } from './cli/a.cli';" + use('a')],
    ['shared imports electron/', 'shared/x.std.ts', "import { a } from '../electron/core/a.std';" + use('a')],
    ['shared imports renderer/', 'shared/x.std.ts', "import { a } from '../renderer/src/a.std';" + use('a')],
    [
      'electron/ imports electron/cli/',
      'electron/core/x.nodejs.ts',
      "import { a } from '../cli/a.nodejs';" + use('a'),
    ],
    [
      'renderer imports electron/',
      'renderer/src/x.dom.ts',
      "import { a } from '../../electron/a.std';" + use('a'),
    ],
  ])('refuses: %s', async (_name, filePath, code) => {
    expect(await boundaryErrors(filePath, code)).not.toEqual([]);
  });

  it.each([
    [
      'std imports std and zod',
      'shared/x.std.ts',
      "import { z } from 'zod';\nimport { a } from './a.std';" + use('[z, a]'),
    ],
    [
      'host imports a .nodejs file',
      'electron/hsm/pkcs11/x.host.ts',
      "import { a } from '../../core/a.nodejs';" + use('a'),
    ],
    [
      'cli imports node and cli',
      'electron/cli/x.cli.ts',
      "import { a } from './a.nodejs';\nimport { b } from './b.cli';" + use('[a, b]'),
    ],
    ['electron imports electron', 'electron/x.electron.ts', "import { app } from 'electron';" + use('app')],
    [
      'renderer imports shared',
      'renderer/src/x.dom.tsx',
      "import { a } from '../../shared/a.std';" + use('a'),
    ],
  ])('allows: %s', async (_name, filePath, code) => {
    expect(await boundaryErrors(filePath, code)).toEqual([]);
  });
});
