// What the CLI bundle is built from, and the newest change among it: bin/mkm.mjs compares this
// with the bundle's stamp at every start, so it must stay cheap (a few hundred stat calls).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const CLI_SOURCE_DIRS = ['electron', 'shared'];
export const CLI_SOURCE_FILES = ['package.json', 'package-lock.json'];

export function newestSourceMtime(root) {
  let newest = 0;
  const visit = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  for (const dir of CLI_SOURCE_DIRS) visit(join(root, dir));
  for (const file of CLI_SOURCE_FILES) {
    try {
      newest = Math.max(newest, statSync(join(root, file)).mtimeMs);
    } catch {
      // A checkout without a lock file still runs.
    }
  }
  return newest;
}

/** Whether the bundle in `outdir` was built from the sources as they are now. */
export function cliBundleIsCurrent(root, outdir = join(root, 'dist-cli')) {
  try {
    statSync(join(outdir, 'mkm.mjs'));
    const stamp = JSON.parse(readFileSync(join(outdir, 'stamp.json'), 'utf8'));
    return typeof stamp.sourcesAt === 'number' && newestSourceMtime(root) <= stamp.sourcesAt;
  } catch {
    return false;
  }
}
