import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { MkmError } from '../../shared/errors.std';
import { wellKnownModules } from './pkcs11/well-known-modules.nodejs';

/**
 * The embedded default: a SoftHSM2 token kept in the app's data folder with its own
 * SOFTHSM2_CONF, so a merchant can try every feature before plugging in real hardware. Its PINs
 * are published (it protects nothing), and it is labelled as a demo wherever it shows.
 */
export const DEMO_LABEL = 'MKM Demo';
export const DEMO_USER_PIN = '123456';
export const DEMO_SO_PIN = '12345678';

export interface DemoToken {
  modulePath: string;
  confPath: string;
  env: NodeJS.ProcessEnv;
}

export function softHsmModulePath(): string | null {
  return wellKnownModules().find((m) => m.name === 'SoftHSM2')?.path ?? null;
}

export function demoTokenAvailable(): boolean {
  return softHsmModulePath() !== null && hasSoftHsmUtil();
}

/** A PATH look-up rather than running the tool: this is asked at every CLI start. */
function hasSoftHsmUtil(): boolean {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return dirs.some((dir) => {
    try {
      accessSync(join(dir, 'softhsm2-util'), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * A SoftHSM2 configuration of its own in `dir` (tokens in dir/tokens), so the demo token and
 * every test token are kept apart from the system's. Returns the SOFTHSM2_CONF path.
 */
export function writeSoftHsmConf(dir: string): string {
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
  return confPath;
}

/** Creates the demo token on first use; afterwards just points at it. */
export function ensureDemoToken(dir: string): DemoToken {
  const modulePath = softHsmModulePath();
  if (!modulePath || !hasSoftHsmUtil()) {
    throw new MkmError(
      'MODULE_NOT_FOUND',
      'SoftHSM2 is not installed, so there is no demo token. Install it with: sudo apt-get install softhsm2',
    );
  }
  const confPath = writeSoftHsmConf(dir);
  const env = { ...process.env, SOFTHSM2_CONF: confPath };
  if (readdirSync(join(dir, 'tokens')).length === 0) {
    execFileSync(
      'softhsm2-util',
      ['--init-token', '--free', '--label', DEMO_LABEL, '--so-pin', DEMO_SO_PIN, '--pin', DEMO_USER_PIN],
      { env, stdio: 'ignore' },
    );
  }
  return { modulePath, confPath, env };
}

export function isDemoConf(env: NodeJS.ProcessEnv, dir: string): boolean {
  return env.SOFTHSM2_CONF === join(dir, 'softhsm2.conf') && existsSync(join(dir, 'softhsm2.conf'));
}
