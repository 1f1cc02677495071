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

/** Every folder of the data folder, named once: a domain takes its folder from here. */
export interface DataPaths {
  root: string;
  logs: string;
  logFile: string;
  audit: string;
  demoToken: string;
  /** Gateway profiles, each profile's client state (pins, key set) and the last sync. */
  gateway: string;
  /** The key inventory and its use counts. */
  keys: string;
  /** The console's message history. */
  console: string;
  /** Trusted signers, receipts and the exchange policy. */
  exchange: string;
  /** The PCI report's custodians and evidence. */
  report: string;
  /** The embedded demo sandbox's own data folder. */
  sandbox: string;
  /** One journal (and, once ended, one signed transcript) per key ceremony. */
  ceremonies: string;
}

export function dataPaths(root: string): DataPaths {
  return {
    root,
    logs: join(root, 'logs'),
    logFile: join(root, 'logs', 'mkm.log'),
    audit: join(root, 'audit'),
    demoToken: join(root, 'demo-token'),
    gateway: join(root, 'gateway'),
    keys: join(root, 'keys'),
    console: join(root, 'console'),
    exchange: join(root, 'exchange'),
    report: join(root, 'report'),
    sandbox: join(root, 'sandbox'),
    ceremonies: join(root, 'ceremonies'),
  };
}
