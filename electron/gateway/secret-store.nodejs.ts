import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MkmError } from '../../shared/errors.std';
import { writeFileAtomic } from '../core/atomic-file.nodejs';
import { passwordFromEnv, passwordRequired, type SecretProvider } from './client/profiles.nodejs';

/**
 * Gateway passwords kept across restarts with the OS's protection (Electron safeStorage: DPAPI
 * on Windows, the Keychain on macOS, libsecret/kwallet on Linux). Only the ciphertext is
 * written, one file per profile in `<dataDir>/gateway/secrets/` (0600). The Electron binding
 * is in secret-store.electron.ts; this file takes it as a boundary so it can be tested without
 * Electron.
 */

/** The part of Electron's `safeStorage` this uses. */
export interface SafeStorageBoundary {
  isEncryptionAvailable(): boolean;
  encryptString(plainText: string): Buffer;
  decryptString(encrypted: Buffer): string;
  /** Linux only: 'basic_text' means a hard-coded key, i.e. no protection at all. */
  getSelectedStorageBackend?(): string;
}

export interface SafeStorageSecretsOptions {
  /** `<dataDir>/gateway`. */
  dir: string;
  safeStorage: SafeStorageBoundary;
  platform?: NodeJS.Platform;
  /** Accept Linux's basic_text backend (obfuscation, not protection); the admin opts in. */
  allowBasicText?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** The opt-in for Linux's basic_text backend. */
export const ALLOW_BASIC_TEXT_ENV = 'MKM_GATEWAY_SECRETS_ALLOW_BASIC_TEXT';

const FILE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function safeStorageSecretProvider(options: SafeStorageSecretsOptions): SecretProvider {
  const dir = join(options.dir, 'secrets');
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  const fileOf = (profileId: string) => {
    // The profile id becomes a file name: the profile schema already limits it; check again.
    if (!FILE_ID.test(profileId))
      throw new MkmError('VALIDATION', 'Not a profile id.', { field: 'profileId' });
    return join(dir, `${profileId}.bin`);
  };

  /** Why the OS cannot protect a password here, or null when it can. */
  const unavailable = (): string | null => {
    if (!options.safeStorage.isEncryptionAvailable()) return 'encryption-unavailable';
    if (platform === 'linux' && !options.allowBasicText) {
      const backend = options.safeStorage.getSelectedStorageBackend?.() ?? 'unknown';
      if (backend === 'basic_text' || backend === 'unknown') return `linux-backend-${backend}`;
    }
    return null;
  };

  return {
    async get(profileId, passwordEnv) {
      const file = fileOf(profileId);
      if (existsSync(file)) {
        const why = unavailable();
        if (why) {
          throw new MkmError(
            'SECRET_STORAGE_UNAVAILABLE',
            'The kept gateway password cannot be decrypted: the OS protected storage is not available now.',
            { profileId, reason: why },
          );
        }
        try {
          return options.safeStorage.decryptString(readFileSync(file));
        } catch {
          // Another user's or another machine's ciphertext: type the password again.
          throw new MkmError(
            'GATEWAY_PASSWORD_REQUIRED',
            'The kept gateway password could not be decrypted.',
            {
              profileId,
              reason: 'decrypt-failed',
            },
          );
        }
      }
      const fromEnv = passwordFromEnv(env, passwordEnv);
      if (fromEnv !== undefined) return fromEnv;
      throw passwordRequired(profileId, passwordEnv);
    },

    async store(profileId, password) {
      const why = unavailable();
      if (why) {
        throw new MkmError(
          'SECRET_STORAGE_UNAVAILABLE',
          why.startsWith('linux-backend')
            ? `The Linux secret store is not usable (no keyring service); the password is kept for this session only. Set ${ALLOW_BASIC_TEXT_ENV}=1 to accept unprotected storage.`
            : undefined,
          { profileId, reason: why },
        );
      }
      const sealed = options.safeStorage.encryptString(password);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileAtomic(fileOf(profileId), sealed);
    },

    async forget(profileId) {
      rmSync(fileOf(profileId), { force: true });
    },

    has(profileId) {
      return existsSync(fileOf(profileId));
    },
  };
}
