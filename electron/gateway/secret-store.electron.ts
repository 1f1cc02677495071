import { safeStorage } from 'electron';
import { dataPaths } from '../core/paths.nodejs';
import type { SecretProvider } from './client/profiles.nodejs';
import { ALLOW_BASIC_TEXT_ENV, safeStorageSecretProvider } from './secret-store.nodejs';

/**
 * The gateway password store of the Electron app: safeStorage over `<dataDir>/gateway/secrets`.
 * safeStorage answers only after the app is ready; the provider asks it at each use, not here.
 */
export function electronGatewaySecrets(dataDir: string): SecretProvider {
  return safeStorageSecretProvider({
    dir: dataPaths(dataDir).gateway,
    safeStorage,
    allowBasicText: process.env[ALLOW_BASIC_TEXT_ENV] === '1',
  });
}
