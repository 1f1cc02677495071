import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { SoftHsmToken } from './softhsm';

/** One `mkm` run as a user would make it: a new process, its exit code and its two streams. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** What `mkm` needs of a token: its library and slot, and for SoftHSM2 its config. */
export type CliToken = Pick<SoftHsmToken, 'modulePath' | 'slotId'> & { confPath?: string };

/** Where a run of `mkm` works: its data folder and its token. */
export interface CliTarget {
  dataDir: string;
  token: CliToken;
}

const root = join(import.meta.dirname, '../..');

/** `mkm`'s arguments after node, pointed at a data folder and a token (by slot). */
export function mkmArgv({ dataDir, token }: CliTarget, args: string[]): string[] {
  return [
    join(root, 'bin/mkm.mjs'),
    '--data-dir',
    dataDir,
    '--module',
    token.modulePath,
    '--slot',
    String(token.slotId),
    ...args,
  ];
}

/** `mkm`'s environment: this one's, the token's config, `env`, and the PIN in MKM_PIN as it must. */
export function mkmEnv({ token }: CliTarget, env: NodeJS.ProcessEnv = {}, pin?: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...(token.confPath ? { SOFTHSM2_CONF: token.confPath } : {}),
    ...env,
    ...(pin ? { MKM_PIN: pin } : {}),
  };
}

/**
 * `mkm` on the data folder and token `target` names when it runs, with `env` besides; the PIN,
 * when given, goes in MKM_PIN, and `stdin` is what the run reads there (nothing, and its end, when
 * not given). Never rejects: a failure is a result with its code.
 */
export function mkmOn(target: () => CliTarget, env: NodeJS.ProcessEnv = {}) {
  return (args: string[], pin?: string, stdin = ''): Promise<CliRun> => {
    const where = target();
    return new Promise((resolve) => {
      const child = execFile(
        process.execPath,
        mkmArgv(where, args),
        { env: mkmEnv(where, env, pin) },
        (error, stdout, stderr) => {
          const code = (error as { code?: unknown } | null)?.code;
          resolve({ code: error ? (typeof code === 'number' ? code : 1) : 0, stdout, stderr });
        },
      );
      child.stdin?.end(stdin);
    });
  };
}

/** What `mkm gateway add` is told of a gateway profile in a test. */
export interface GatewayAdd {
  name: string;
  url: string;
  user: string;
  /** The TLS pin (SHA-256 of the served key); left out for a gateway with none. */
  pin?: string;
  cse?: 'oaep' | 'pkcs1';
  id?: string;
  keyRolling?: boolean;
}

/** `mkm gateway add`'s arguments, the password always from MKM_GATEWAY_PASSWORD (never argv). */
export function gatewayAddArgs(g: GatewayAdd): string[] {
  return [
    'gateway',
    'add',
    '--password-env',
    'MKM_GATEWAY_PASSWORD',
    '--name',
    g.name,
    ...(g.id ? ['--id', g.id] : []),
    '--url',
    g.url,
    '--user',
    g.user,
    ...(g.pin ? ['--pin', g.pin] : []),
    ...(g.cse ? ['--cse', g.cse] : []),
    ...(g.keyRolling ? ['--key-rolling'] : []),
  ];
}
