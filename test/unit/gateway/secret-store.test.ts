import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envSecretProvider, SessionSecrets } from '../../../electron/gateway/client/profiles.nodejs';
import {
  safeStorageSecretProvider,
  type SafeStorageBoundary,
} from '../../../electron/gateway/secret-store.nodejs';
import { filesUnder } from '../../helpers/scan';

/**
 * The safeStorage password store against a fake of Electron's safeStorage boundary (a real
 * AES-GCM under a key the fake holds, as the OS keychain would), and the session secrets in
 * front of it.
 */
function fakeSafeStorage(
  over: Partial<SafeStorageBoundary> & { backend?: string } = {},
): SafeStorageBoundary {
  const key = randomBytes(32);
  return {
    isEncryptionAvailable: () => true,
    encryptString(text) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]);
    },
    decryptString(sealed) {
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
      decipher.setAuthTag(sealed.subarray(12, 28));
      return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString('utf8');
    },
    getSelectedStorageBackend: () => over.backend ?? 'gnome_libsecret',
    ...over,
  };
}

const PASSWORD = 'gw secret 9911-zz';
const tempDir = () => mkdtempSync(join(tmpdir(), 'mkm-secrets-'));

describe('safeStorage gateway passwords', () => {
  it('keeps only the ciphertext, 0600, and reads the password back', async () => {
    const dir = tempDir();
    const store = safeStorageSecretProvider({
      dir,
      safeStorage: fakeSafeStorage(),
      platform: 'linux',
      env: {},
    });
    expect(store.has!('prod')).toBe(false);
    await store.store!('prod', PASSWORD);
    expect(store.has!('prod')).toBe(true);
    const files = filesUnder(dir);
    expect(files).toEqual([join(dir, 'secrets', 'prod.bin')]);
    expect(statSync(files[0]!).mode & 0o777).toBe(0o600);
    const raw = readFileSync(files[0]!);
    expect(raw.toString('latin1')).not.toContain(PASSWORD);
    expect(await store.get('prod')).toBe(PASSWORD);
    await store.forget!('prod');
    expect(readdirSync(join(dir, 'secrets'))).toEqual([]);
  });

  it('refuses to keep a password when the OS offers no encryption', async () => {
    const dir = tempDir();
    const store = safeStorageSecretProvider({
      dir,
      safeStorage: fakeSafeStorage({ isEncryptionAvailable: () => false }),
      platform: 'win32',
      env: {},
    });
    await expect(store.store!('prod', PASSWORD)).rejects.toMatchObject({
      code: 'SECRET_STORAGE_UNAVAILABLE',
      details: { reason: 'encryption-unavailable' },
    });
    expect(filesUnder(dir)).toEqual([]);
  });

  it("refuses Linux's basic_text backend unless the admin opted in", async () => {
    const dir = tempDir();
    const basic = fakeSafeStorage({ backend: 'basic_text' });
    const refusing = safeStorageSecretProvider({ dir, safeStorage: basic, platform: 'linux', env: {} });
    await expect(refusing.store!('prod', PASSWORD)).rejects.toMatchObject({
      code: 'SECRET_STORAGE_UNAVAILABLE',
      details: { reason: 'linux-backend-basic_text' },
    });
    const optedIn = safeStorageSecretProvider({
      dir,
      safeStorage: basic,
      platform: 'linux',
      allowBasicText: true,
      env: {},
    });
    await optedIn.store!('prod', PASSWORD);
    expect(await optedIn.get('prod')).toBe(PASSWORD);
    // The same backend on macOS/Windows is not a thing; only Linux is checked.
    const mac = safeStorageSecretProvider({
      dir: tempDir(),
      safeStorage: basic,
      platform: 'darwin',
      env: {},
    });
    await expect(mac.store!('prod', PASSWORD)).resolves.toBeUndefined();
  });

  it("without a kept password: the profile's own variable, else GATEWAY_PASSWORD_REQUIRED", async () => {
    const dir = tempDir();
    const safe = fakeSafeStorage();
    const withEnv = safeStorageSecretProvider({
      dir,
      safeStorage: safe,
      platform: 'linux',
      env: { MKM_GATEWAY_PASSWORD: 'from-env' },
    });
    expect(await withEnv.get('prod', 'MKM_GATEWAY_PASSWORD')).toBe('from-env');
    // A profile that names no variable is not served by it.
    await expect(withEnv.get('prod')).rejects.toMatchObject({ code: 'GATEWAY_PASSWORD_REQUIRED' });
    const bare = safeStorageSecretProvider({ dir, safeStorage: safe, platform: 'linux', env: {} });
    await expect(bare.get('prod')).rejects.toMatchObject({ code: 'GATEWAY_PASSWORD_REQUIRED' });
  });

  it("asks again for a password another machine's keychain sealed", async () => {
    const dir = tempDir();
    await safeStorageSecretProvider({ dir, safeStorage: fakeSafeStorage(), platform: 'linux', env: {} })
      .store!('prod', PASSWORD);
    const elsewhere = safeStorageSecretProvider({
      dir,
      safeStorage: fakeSafeStorage(),
      platform: 'linux',
      env: {},
    });
    const error = await elsewhere.get('prod').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'GATEWAY_PASSWORD_REQUIRED', details: { reason: 'decrypt-failed' } });
    expect(JSON.stringify(error)).not.toContain(PASSWORD);
  });

  it('refuses a profile id that is not a plain file name', async () => {
    const store = safeStorageSecretProvider({ dir: tempDir(), safeStorage: fakeSafeStorage(), env: {} });
    await expect(store.store!('../escape', PASSWORD)).rejects.toMatchObject({ code: 'VALIDATION' });
  });
});

describe('session secrets', () => {
  it('keep a typed password in memory only, in front of the provider behind', async () => {
    const session = new SessionSecrets(envSecretProvider({ env: {} }));
    expect(session.has('p')).toBe(false);
    await expect(session.get('p')).rejects.toMatchObject({ code: 'GATEWAY_PASSWORD_REQUIRED' });
    expect(await session.set('p', PASSWORD, false)).toBe('session');
    expect(session.has('p')).toBe(true);
    expect(await session.get('p')).toBe(PASSWORD);
    await session.forget('p');
    await expect(session.get('p')).rejects.toMatchObject({ code: 'GATEWAY_PASSWORD_REQUIRED' });
  });

  it('remember: encrypted by a provider that can keep one; refused by one that cannot', async () => {
    const envOnly = new SessionSecrets(envSecretProvider({ env: {} }));
    expect(envOnly.canRemember).toBe(false);
    await expect(envOnly.set('p', PASSWORD, true)).rejects.toMatchObject({
      code: 'SECRET_STORAGE_UNAVAILABLE',
    });
    expect(envOnly.has('p')).toBe(false);

    const dir = tempDir();
    const safe = fakeSafeStorage();
    const kept = new SessionSecrets(
      safeStorageSecretProvider({ dir, safeStorage: safe, platform: 'linux', env: {} }),
    );
    expect(await kept.set('p', PASSWORD, true)).toBe('encrypted');
    // A later session (a new process) finds it without asking.
    const later = new SessionSecrets(
      safeStorageSecretProvider({ dir, safeStorage: safe, platform: 'linux', env: {} }),
    );
    expect(later.has('p')).toBe(true);
    expect(await later.get('p')).toBe(PASSWORD);
  });
});
