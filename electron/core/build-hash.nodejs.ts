import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MkmError } from '../../shared/errors.std';

/**
 * SHA-256 over the code that runs: every file under `roots` (sorted relative paths, each with its
 * own SHA-256), so two machines with the same build read the same hash aloud. The roots are the
 * composition root's choice: the bundle that runs (dist-electron, dist-cli) or the sources.
 */
export function buildHash(roots: readonly string[]): string {
  const lines: string[] = [];
  const walk = (root: string, dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const path = join(dir, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(root, path);
      else if (stat.isFile()) {
        const digest = createHash('sha256').update(readFileSync(path)).digest('hex');
        lines.push(`${digest}  ${relative(root, path).split('\\').join('/')}`);
      }
    }
  };
  for (const root of roots) {
    if (!existsSync(root))
      throw new MkmError('IO_ERROR', 'The app’s own files cannot be read to compute its hash.', { root });
    walk(root, root);
  }
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

/** Defined (true) by scripts/build-cli.mjs in the CLI bundle. */
declare const __MKM_CLI_BUNDLE__: boolean | undefined;
const inCliBundle = () => typeof __MKM_CLI_BUNDLE__ !== 'undefined';

/**
 * The code this process runs from: the bundle it was loaded from (dist-electron with the
 * renderer beside it, dist-cli), or, run from the sources, the source folders.
 */
export function runningCodeRoots(moduleUrl: string = import.meta.url, cliBundle = inCliBundle()): string[] {
  const here = dirname(fileURLToPath(moduleUrl));
  // The CLI bundle's chunks all sit in one folder (dist-cli, or wherever it was built to).
  if (cliBundle) return [here];
  const bundle = /[\\/](dist-electron|dist-cli)([\\/]|$)/.exec(here);
  if (bundle) {
    const root = here.slice(0, bundle.index + bundle[0].length).replace(/[\\/]$/, '');
    return bundle[1] === 'dist-electron'
      ? [root, join(dirname(root), 'dist', 'renderer')].filter(existsSync)
      : [root];
  }
  const repo = join(here, '..', '..');
  return ['electron', 'shared', join('renderer', 'src')].map((d) => join(repo, d));
}
