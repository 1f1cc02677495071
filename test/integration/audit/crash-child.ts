import { AuditLog } from '../../../electron/audit/audit-log.nodejs';
import { HmacSealer } from '../../../electron/audit/software-sealer.nodejs';

/**
 * Child process for the crash test: appends as fast as it can, durable, sealing as it goes,
 * and prints each seq the log confirmed durable, until it is killed with SIGKILL.
 */
const [dir, keyHex] = process.argv.slice(2);
const sealer = new HmacSealer({ key: Buffer.from(keyHex!, 'hex'), id: 'a0d170' });
const log = await AuditLog.open({
  dir: dir!,
  actor: { osUser: 'crash', token: null },
  sealer,
  flushMs: 5,
  sealEvery: { entries: 200, ms: 20 },
});
for (let i = 0; ; i++) {
  const { seq } = log.append({ action: 'key.use', result: 'ok', details: { i, pad: 'x'.repeat(i % 300) } });
  if (i % 100 === 99) {
    await log.flush();
    process.stdout.write(`durable ${seq}\n`);
  }
}
