import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { DEMO_USER_PIN, ensureDemoToken } from '../../../electron/hsm/demo-token.nodejs';

/**
 * The demo token, exactly as the app makes it, set up in an e2e data folder before the app
 * starts, so a spec can put objects on it first. The app then finds it there and uses it.
 */
export function prepareDemoToken(dataDir: string): { confPath: string; modulePath: string } {
  const { confPath, modulePath } = ensureDemoToken(join(dataDir, 'demo-token'));
  return { confPath, modulePath };
}

/**
 * Puts `count` AES-256 token objects labelled `bulk 00000`… on the demo token, straight through
 * pkcs11js in a child process (SOFTHSM2_CONF is read when the library loads, so it must be set
 * in the environment of the process that loads it). Returns how long it took.
 */
export function seedSecretKeys(dataDir: string, count: number): number {
  const { confPath, modulePath } = prepareDemoToken(dataDir);
  const started = Date.now();
  execFileSync(process.execPath, [join(import.meta.dirname, 'seed-objects.mjs'), String(count)], {
    env: {
      ...process.env,
      SOFTHSM2_CONF: confPath,
      MKM_SEED_MODULE: modulePath,
      MKM_SEED_PIN: DEMO_USER_PIN,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return Date.now() - started;
}
