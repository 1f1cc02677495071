import { existsSync } from 'node:fs';
import { KeyUsageService } from '../../../electron/lifecycle/usage.nodejs';

/**
 * Child process for the concurrent-flush test: waits until the parent creates MKM_GO (so the
 * children start together), then records and flushes MKM_ROUNDS times into MKM_DIR, round r
 * adding r uses to version v-shared and to gateway key MKM_GATEWAY. A flush refused because the
 * other child held the lock too long keeps its counts pending for the next one. Prints
 * "done <uses> <busy flushes>" and exits.
 */
const env = process.env;
const rounds = Number(env.MKM_ROUNDS);
const usage = new KeyUsageService({ inventoryDir: env.MKM_DIR!, audit: () => {}, flushMs: 0 });
process.stdout.write('ready\n');
while (!existsSync(env.MKM_GO!)) await new Promise((r) => setImmediate(r));
let uses = 0;
let busy = 0;
const flush = () => {
  try {
    usage.flush();
    return true;
  } catch (error) {
    if ((error as { code?: string }).code !== 'USAGE_COUNTS_BUSY') throw error;
    busy++;
    return false;
  }
};
for (let r = 1; r <= rounds; r++) {
  usage.record({ versionId: 'v-shared' }, 'encrypt', r);
  usage.record({ gatewayKey: env.MKM_GATEWAY! }, 'cse-encrypt', r);
  uses += r;
  flush();
}
for (let i = 0; i < 100 && !flush(); i++);
process.stdout.write(`done ${uses} ${busy}\n`);
