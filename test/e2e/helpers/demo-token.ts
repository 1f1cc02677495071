import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Sets up the demo token in an e2e data folder the way `electron/hsm/demo-token.main.ts` does
 * (same folder, same softhsm2.conf, same label and PINs), so a spec can put objects on it before
 * the app starts. The app then finds a token already there and uses it as is.
 */
export const DEMO_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
export const DEMO_LABEL = 'MKM Demo';
export const DEMO_USER_PIN = '123456';
const DEMO_SO_PIN = '12345678';

export function prepareDemoToken(dataDir: string): { confPath: string } {
  const dir = join(dataDir, 'demo-token');
  const tokenDir = join(dir, 'tokens');
  const confPath = join(dir, 'softhsm2.conf');
  mkdirSync(tokenDir, { recursive: true, mode: 0o700 });
  writeFileSync(
    confPath,
    [
      `directories.tokendir = ${tokenDir}`,
      'objectstore.backend = file',
      'log.level = ERROR',
      'slots.removable = false',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  if (readdirSync(tokenDir).length === 0) {
    execFileSync(
      'softhsm2-util',
      ['--init-token', '--free', '--label', DEMO_LABEL, '--so-pin', DEMO_SO_PIN, '--pin', DEMO_USER_PIN],
      { env: { ...process.env, SOFTHSM2_CONF: confPath }, stdio: 'ignore' },
    );
  }
  return { confPath };
}

/**
 * Puts `count` AES-256 token objects labelled `bulk 00000`… on the demo token, straight through
 * pkcs11js in a child process (SOFTHSM2_CONF is read when the library loads, so it must be set
 * in the environment of the process that loads it). Returns how long it took.
 */
export function seedSecretKeys(dataDir: string, count: number): number {
  const { confPath } = prepareDemoToken(dataDir);
  const started = Date.now();
  execFileSync(process.execPath, [join(import.meta.dirname, 'seed-objects.mjs'), String(count)], {
    env: {
      ...process.env,
      SOFTHSM2_CONF: confPath,
      MKM_SEED_MODULE: DEMO_MODULE,
      MKM_SEED_PIN: DEMO_USER_PIN,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return Date.now() - started;
}
