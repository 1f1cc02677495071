import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * NSS softokn (`libsoftokn3.so`, Debian libnss3) on a fresh database made with `certutil -N` in
 * a temp dir. softokn only starts with its initialisation parameters (configdir and friends):
 * without them C_Initialize answers CKR_ARGUMENTS_BAD.
 *
 *   const nss = nssUnavailable() ? null : createNssToken();   // no password: no login needed
 *   await svc.loadModule({ path: nss.modulePath, libraryParameters: nss.libraryParameters });
 *   ... slot nss.slotId ("NSS Certificate DB", the key store)
 *   nss.cleanup();
 *
 * With `password`, the key store needs a login (CKF_LOGIN_REQUIRED) with that PIN.
 */
export const NSS_MODULE_CANDIDATES = [
  '/usr/lib/x86_64-linux-gnu/libsoftokn3.so',
  '/usr/lib/aarch64-linux-gnu/libsoftokn3.so',
  '/usr/lib64/libsoftokn3.so',
];

export interface NssToken {
  modulePath: string;
  libraryParameters: string;
  dir: string;
  /** The key store ("NSS Certificate DB"); slot 1 is the login-free crypto services slot. */
  slotId: number;
  label: string;
  /** The database password, when one was set. */
  userPin: string | undefined;
  cleanup(): void;
}

export function nssModulePath(): string | undefined {
  return NSS_MODULE_CANDIDATES.find((p) => existsSync(p));
}

/** Why the NSS suite cannot run here, or null when it can. */
export function nssUnavailable(): string | null {
  if (!nssModulePath()) return 'NSS softokn (libsoftokn3.so, Debian package libnss3) is not installed';
  try {
    execFileSync('certutil', ['-H'], { stdio: 'ignore' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return 'certutil (Debian package libnss3-tools) is not installed';
    }
  }
  return null;
}

export function nssParameters(dir: string): string {
  return `configdir='sql:${dir}' certPrefix='' keyPrefix='' secmod='secmod.db' flags=`;
}

export function createNssToken(options: { password?: string } = {}): NssToken {
  const modulePath = nssModulePath();
  if (!modulePath) throw new Error('libsoftokn3.so not found');
  const dir = mkdtempSync(join(tmpdir(), 'mkm-nss-'));
  if (options.password === undefined) {
    execFileSync('certutil', ['-N', '-d', `sql:${dir}`, '--empty-password'], { stdio: 'pipe' });
  } else {
    const pwFile = join(dir, '.pw');
    writeFileSync(pwFile, options.password + '\n', { mode: 0o600 });
    try {
      execFileSync('certutil', ['-N', '-d', `sql:${dir}`, '-f', pwFile], { stdio: 'pipe' });
    } finally {
      rmSync(pwFile, { force: true });
    }
  }
  return {
    modulePath,
    libraryParameters: nssParameters(dir),
    dir,
    slotId: 2,
    label: 'NSS Certificate DB',
    userPin: options.password,
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
