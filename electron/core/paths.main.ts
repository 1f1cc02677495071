import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const PRODUCT_NAME = 'Merchant Key Manager';

/**
 * The same folder Electron's app.getPath('userData') gives for our productName, so the CLI,
 * browser mode and the desktop app share one store, one audit log and one demo token.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (env.MKM_DATA_DIR) return resolve(env.MKM_DATA_DIR);
  if (platform === 'win32') return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), PRODUCT_NAME);
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', PRODUCT_NAME);
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), PRODUCT_NAME);
}

export interface DataPaths {
  root: string;
  logs: string;
  logFile: string;
  audit: string;
  demoToken: string;
}

export function dataPaths(root: string): DataPaths {
  return {
    root,
    logs: join(root, 'logs'),
    logFile: join(root, 'logs', 'mkm.log'),
    audit: join(root, 'audit'),
    demoToken: join(root, 'demo-token'),
  };
}
