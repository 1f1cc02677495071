import Conf, { type Options } from 'conf';
import { copyFileSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Settings } from '../../shared/contract.std';
import type { Logger } from './logger.main';

/**
 * Settings (and, with the lifecycle issue, key metadata) in one JSON file with a schema. A
 * store that fails to parse or to validate is never reset silently: it is moved aside, the last
 * good copy is restored, and the app says so.
 */
export type StoreData = {
  settings: Settings;
};

export const DEFAULT_SETTINGS: Settings = {
  theme: 'system',
  idleLogoutMinutes: 5,
  modulePath: null,
  moduleParameters: null,
  confirmDemoToken: false,
};

const SCHEMA: Options<StoreData>['schema'] = {
  settings: {
    type: 'object',
    additionalProperties: false,
    // Fields added after 0.1.0 stay optional here: the schema is checked before migrations run.
    required: ['theme', 'idleLogoutMinutes', 'modulePath', 'confirmDemoToken'],
    properties: {
      theme: { enum: ['system', 'light', 'dark'] },
      idleLogoutMinutes: { type: 'integer', minimum: 1, maximum: 240 },
      modulePath: { type: ['string', 'null'], maxLength: 4096 },
      moduleParameters: { type: ['string', 'null'], maxLength: 4096 },
      confirmDemoToken: { type: 'boolean' },
    },
  },
};

export const STORE_NAME = 'mkm-store';

/** electron-store in Electron, conf elsewhere: the same class family and options. */
export type StoreFactory = (options: Options<StoreData>) => Conf<StoreData>;
export const confFactory: StoreFactory = (options) => new Conf<StoreData>(options);

export interface OpenedStore {
  store: Conf<StoreData>;
  restoredFrom: string | null;
  movedAside: string | null;
}

export function openStore(dataDir: string, logger: Logger, factory: StoreFactory = confFactory): OpenedStore {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, `${STORE_NAME}.json`);
  const lastGood = join(dataDir, `${STORE_NAME}.last-good.json`);
  const options: Options<StoreData> = {
    cwd: dataDir,
    configName: STORE_NAME,
    projectName: 'merchant-key-manager',
    projectVersion: '0.2.0',
    schema: SCHEMA,
    defaults: { settings: DEFAULT_SETTINGS },
    clearInvalidConfig: false,
    configFileMode: 0o600,
    migrations: {
      // Each release that changes the shape adds a step here; 0.1.0 is the first shape.
      '0.1.0': (store) => {
        if (!store.has('settings')) store.set('settings', DEFAULT_SETTINGS);
      },
      // 0.2.0 added vendor initialization parameters.
      '0.2.0': (store) => {
        const settings = store.get('settings') as Partial<typeof DEFAULT_SETTINGS>;
        store.set('settings', {
          ...DEFAULT_SETTINGS,
          ...settings,
          moduleParameters: settings.moduleParameters ?? null,
        });
      },
    },
  };

  const open = () => {
    const store = factory(options);
    copyFileSync(file, lastGood);
    store.onDidAnyChange(() => {
      try {
        copyFileSync(file, lastGood);
      } catch (error) {
        logger.warn('could not refresh the last good copy of the store', { error });
      }
    });
    return store;
  };

  try {
    return { store: open(), restoredFrom: null, movedAside: null };
  } catch (error) {
    if (!existsSync(file)) throw error;
    const movedAside = join(dataDir, `${STORE_NAME}.corrupt-${Date.now()}.json`);
    renameSync(file, movedAside);
    const restoredFrom = existsSync(lastGood) ? lastGood : null;
    if (restoredFrom) copyFileSync(restoredFrom, file);
    logger.error('the store could not be read; moved it aside', { movedAside, restoredFrom, error });
    return { store: open(), restoredFrom: restoredFrom ?? 'defaults', movedAside };
  }
}
