import { mkdirSync, watch, type FSWatcher } from 'node:fs';

/**
 * Tells when any ceremony on this machine changes, whoever changed it: this app's own steps,
 * another window, the CLI in another process, a host restart that set components to be entered
 * again. Every change is a journal or a signed record written into the ceremony folder (by
 * rename, atomically), so the folder is watched rather than each writer trusted to announce it.
 * Changes that come together are told once.
 */
export function watchCeremonies(folder: string, onChange: () => void): () => void {
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  let pending = false;
  let watcher: FSWatcher | null = watch(folder, { persistent: false }, (_event, name) => {
    if (pending || (name !== null && !/^[0-9a-f-]{36}\.(?:json|mkmx)$/.test(name))) return;
    pending = true;
    setImmediate(() => {
      pending = false;
      if (watcher) onChange();
    });
  });
  // A folder that cannot be watched any more (removed): the screens keep what they last read.
  watcher.on('error', () => {
    watcher?.close();
    watcher = null;
  });
  return () => {
    watcher?.close();
    watcher = null;
  };
}
