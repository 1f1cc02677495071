import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** The specs drive the built renderer (and Electron's built main), exactly what users get. */
export default function globalSetup(): void {
  if (process.env.MKM_SKIP_BUILD === '1') return;
  const root = join(import.meta.dirname, '..', '..');
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'error'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
}
