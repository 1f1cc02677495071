import { appendFileSync } from 'node:fs';
import { KeyLifecycleService } from '../../../electron/lifecycle/lifecycle.nodejs';
import { openTokens } from './setup';

/**
 * Child process for the kill-at-every-step test. It rotates one logical key (or destroys one
 * version) through the real service and token, and SIGKILLs itself the moment the service
 * reaches the crash point named by MKM_KILL_AT (its MKM_KILL_NTH-th occurrence, default 1).
 * It prints "completed" if it gets to the end alive.
 *
 * env: MKM_KEYS_DIR, MKM_MODULE, MKM_SLOT, MKM_PIN, MKM_NOW (ISO clock), MKM_MODE
 * (rotate | destroy), MKM_TARGET (logical key id or version id), MKM_LABEL (destroy
 * confirmation), MKM_KILL_AT, MKM_KILL_NTH, MKM_HOOK_LOG (gateway hook calls are appended here).
 */
const env = process.env;
const killAt = env.MKM_KILL_AT ?? '';
const killNth = Number(env.MKM_KILL_NTH ?? '1');
let seen = 0;

const tokens = await openTokens({
  dataDir: env.MKM_KEYS_DIR!,
  modulePath: env.MKM_MODULE!,
  slotId: Number(env.MKM_SLOT),
  pin: env.MKM_PIN!,
});
const keys = KeyLifecycleService.open({
  dir: env.MKM_KEYS_DIR!,
  tokens,
  audit: () => {},
  clock: () => new Date(env.MKM_NOW!),
  usageFlushMs: 0,
  registerWithGateway: async ({ version }) => {
    appendFileSync(env.MKM_HOOK_LOG!, `${version.id}\n`);
    return { reference: `ks-${version.version}` };
  },
  faults: (point) => {
    if (point === killAt && ++seen === killNth) process.kill(process.pid, 'SIGKILL');
  },
});
if (env.MKM_MODE === 'destroy') {
  await keys.destroy(env.MKM_TARGET!, { confirm: true, confirmLabel: env.MKM_LABEL! });
} else {
  await keys.rotateNow(env.MKM_TARGET!);
}
await keys.close();
await tokens.close();
process.stdout.write('completed\n');
