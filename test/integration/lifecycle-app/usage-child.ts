import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createApp } from '../../../electron/core/app.nodejs';
import { silentLogger } from '../../../electron/core/logger.nodejs';

/**
 * Child process for the usage crash test: the real app (browser mode) on the parent's SoftHSM2
 * token, its usage flushes on a timer the parent drives. Commands on stdin, one a line:
 *   use N   encrypt N card rows with the managed data key (console.batchStart, scheme aes)
 *   tick    the flush timer fires
 * Each answers "<command> done" on stdout. The parent SIGKILLs it.
 *
 * env: MKM_DATA, MKM_FILES (a folder outside the data folder for the CSVs), MKM_MODULE, MKM_SLOT,
 * MKM_PIN, MKM_KEY (CKA_ID of the managed data key).
 */
const env = process.env;
let tick: (() => void) | null = null;
const app = createApp({
  mode: 'browser',
  dataDir: env.MKM_DATA!,
  moduleOverride: env.MKM_MODULE!,
  isTrustedSender: () => true,
  logger: silentLogger,
  usageFlushMs: 1_000,
  usageTimers: {
    setInterval: (fn) => {
      tick = fn;
      return 1;
    },
    clearInterval: () => {
      tick = null;
    },
  },
});
const call = async (channel: string, request: unknown) => {
  const e = await app.registry.dispatch(channel, request, { transport: 'cli' });
  if (!e.ok) throw new Error(`${channel}: ${e.error.code} ${e.error.message}`);
  return e.result as Record<string, unknown>;
};
const slotId = Number(env.MKM_SLOT);
await call('tokens.login', { slotId, pin: env.MKM_PIN! });
let n = 0;
process.stdout.write('ready\n');
for await (const line of createInterface({ input: process.stdin })) {
  const [command, count] = line.trim().split(' ');
  if (command === 'use') {
    const rows = Number(count);
    const inPath = join(env.MKM_FILES!, `in-${++n}.csv`);
    const lines = ['id,card_number,exp,cvv'];
    for (let i = 0; i < rows; i++) lines.push(`r${i},4111111111111111,12/30,123`);
    writeFileSync(inPath, lines.join('\n') + '\n');
    const r = await call('console.batchStart', {
      inPath,
      outPath: join(env.MKM_FILES!, `out-${n}.csv`),
      scheme: 'aes',
      keyId: env.MKM_KEY!,
      slotId,
    });
    if (r.status !== 'done') throw new Error(`batch ${String(r.status)}`);
  } else if (command === 'tick') {
    tick!();
  }
  process.stdout.write(`${command} done\n`);
}
