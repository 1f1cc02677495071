import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSoftHsmConf } from '../../electron/hsm/demo-token.nodejs';

/**
 * A fresh SoftHSM2 token in its own temp directory, for integration tests.
 *
 *   const hsm = createSoftHsmToken();            // sets process.env.SOFTHSM2_CONF
 *   const svc = hostTokenService();              // test/helpers/host-token-engine.ts
 *   await svc.loadModule({ path: hsm.modulePath });
 *   await svc.login({ slotId: hsm.slotId, pin: hsm.userPin });
 *   ...
 *   await svc.unloadModule();
 *   hsm.cleanup();
 *
 * SoftHSM2 reads SOFTHSM2_CONF once, in C_Initialize, and keeps its slot list for the life of
 * the process. So: create the token (which sets process.env.SOFTHSM2_CONF, unless
 * `setProcessEnv: false`) BEFORE the module is initialized in this process, and pass `env` to
 * child processes (pkcs11-tool, the HSM host). A second token made after C_Initialize is only
 * visible after unloadModule + loadModule.
 */
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsmTokenOptions {
  label?: string;
  soPin?: string;
  userPin?: string;
  /** Number of initialized tokens (each its own slot). Default 1. */
  slots?: number;
  /** Default true: point this process's SOFTHSM2_CONF at the new config (restored by cleanup). */
  setProcessEnv?: boolean;
}

export interface SoftHsmSlot {
  slotId: number;
  label: string;
  serial: string;
}

export interface SoftHsmToken {
  modulePath: string;
  confPath: string;
  dir: string;
  /** process.env plus SOFTHSM2_CONF: give it to child processes. */
  env: NodeJS.ProcessEnv;
  /** The first token. */
  slotId: number;
  label: string;
  serial: string;
  userPin: string;
  soPin: string;
  /** Every token made, the first included (labels get -2, -3, ... suffixes). */
  tokens: SoftHsmSlot[];
  /** Another initialized token in the same store (e.g. a throwaway for PIN lockout). */
  addToken(label: string): SoftHsmSlot;
  cleanup(): void;
}

export function softHsmAvailable(): boolean {
  return existsSync(SOFTHSM_MODULE);
}

export function createSoftHsmToken(options: SoftHsmTokenOptions = {}): SoftHsmToken {
  const label = options.label ?? 'mkm-test';
  const soPin = options.soPin ?? '87654321';
  const userPin = options.userPin ?? '123456';
  const count = options.slots ?? 1;
  const dir = mkdtempSync(join(tmpdir(), 'mkm-softhsm-'));
  const confPath = writeSoftHsmConf(dir);
  const env: NodeJS.ProcessEnv = { ...process.env, SOFTHSM2_CONF: confPath };

  const initToken = (tokenLabel: string): SoftHsmSlot => {
    const out = execFileSync(
      'softhsm2-util',
      ['--init-token', '--free', '--label', tokenLabel, '--so-pin', soPin, '--pin', userPin],
      { env, encoding: 'utf8' },
    );
    const match = /reassigned to slot (\d+)/.exec(out);
    if (!match) throw new Error(`softhsm2-util did not report a slot: ${out}`);
    const slotId = Number(match[1]);
    return { slotId, label: tokenLabel, serial: readSerial(env, slotId) };
  };

  const tokens: SoftHsmSlot[] = [];
  for (let i = 0; i < count; i++) tokens.push(initToken(i === 0 ? label : `${label}-${i + 1}`));
  const first = tokens[0]!;

  const previousConf = process.env.SOFTHSM2_CONF;
  const setEnv = options.setProcessEnv ?? true;
  if (setEnv) process.env.SOFTHSM2_CONF = confPath;

  return {
    modulePath: SOFTHSM_MODULE,
    confPath,
    dir,
    env,
    slotId: first.slotId,
    label: first.label,
    serial: first.serial,
    userPin,
    soPin,
    tokens,
    addToken(tokenLabel) {
      const t = initToken(tokenLabel);
      tokens.push(t);
      return t;
    },
    cleanup() {
      if (setEnv && process.env.SOFTHSM2_CONF === confPath) {
        if (previousConf === undefined) delete process.env.SOFTHSM2_CONF;
        else process.env.SOFTHSM2_CONF = previousConf;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function readSerial(env: NodeJS.ProcessEnv, slotId: number): string {
  const out = execFileSync('softhsm2-util', ['--show-slots'], { env, encoding: 'utf8' });
  const section = out.split(/^Slot /m).find((s) => s.startsWith(`${slotId}\n`));
  const serial = section && /Serial number:\s*(\S+)/.exec(section);
  if (!serial) throw new Error(`softhsm2-util --show-slots did not list slot ${slotId}`);
  return serial[1]!;
}
