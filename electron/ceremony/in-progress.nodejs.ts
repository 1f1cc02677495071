import { existsSync, readdirSync } from 'node:fs';

/**
 * Whether a key ceremony is in progress on this machine, read from the ceremony folder each time
 * it is asked, so every process (the app, browser mode, the CLI) gives the same answer: a journal
 * whose signed transcript (`<id>.mkmx`, written when the ceremony ends, completed or aborted) is
 * not beside it belongs to a ceremony still running. Cheap on purpose: every gateway call asks.
 */
export function ceremonyInProgress(folder: string): boolean {
  if (!existsSync(folder)) return false;
  const names = new Set(readdirSync(folder));
  for (const name of names) {
    const id = /^([0-9a-f-]{36})\.json$/.exec(name)?.[1];
    if (id && !names.has(`${id}.mkmx`)) return true;
  }
  return false;
}
