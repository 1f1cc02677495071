import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { SoftHsmToken } from './softhsm';

/** One `mkm` run as a user would make it: a new process, its exit code and its two streams. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** What `mkm` needs of a token: its library and slot, and for SoftHSM2 its config. */
export type CliToken = Pick<SoftHsmToken, 'modulePath' | 'slotId'> & { confPath?: string };

const root = join(import.meta.dirname, '../..');
const run = promisify(execFile);

/**
 * `mkm` pointed at a data folder and a token (by slot); the PIN, when given, goes in
 * MKM_PIN as it must. Never rejects: a failure is a result with its code.
 */
export function mkmOn(target: () => { dataDir: string; token: CliToken }, env: NodeJS.ProcessEnv = {}) {
  return (args: string[], pin?: string): Promise<CliRun> => {
    const { dataDir, token } = target();
    return run(
      process.execPath,
      [
        join(root, 'bin/mkm.mjs'),
        '--data-dir',
        dataDir,
        '--module',
        token.modulePath,
        '--slot',
        String(token.slotId),
        ...args,
      ],
      {
        env: {
          ...process.env,
          ...(token.confPath ? { SOFTHSM2_CONF: token.confPath } : {}),
          ...env,
          ...(pin ? { MKM_PIN: pin } : {}),
        },
      },
    ).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (e: CliRun) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  };
}
