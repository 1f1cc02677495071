import { mkmTokens, rssKiB } from './mkm-tokens';

/**
 * A main process that only lists a token through mkm, for the memory benchmark: it prints the
 * resident set of itself and of its host process once the listing is in hand.
 * Args: <module path> <slot id> <user pin> [bundled host entry]
 */
const [modulePath, slot, pin, hostEntry] = process.argv.slice(2);
if (!modulePath || !slot || !pin) throw new Error('usage: list-main <module> <slotId> <pin> [hostEntry]');
const slotId = Number(slot);
const mkm = mkmTokens(modulePath, hostEntry ? { hostEntry } : {});
try {
  await mkm.tokens.call('login', { slotId, pin });
  const objects = await mkm.tokens.call('listObjects', { slotId });
  const hostPid = await mkm.hostPid();
  // The listing is still referenced here, as a window showing it would hold it.
  const report = { count: objects.length, mainKiB: rssKiB(process.pid), hostKiB: rssKiB(hostPid) };
  process.stdout.write(JSON.stringify(report) + '\n');
} finally {
  await mkm.close();
}
