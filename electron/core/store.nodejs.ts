import Conf, { type Options } from 'conf';
import { copyFileSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Settings } from '../../shared/contract.std';
import { writeFileAtomic } from './atomic-file.nodejs';
import type { Logger } from './logger.nodejs';
import { validate as precompiledValidate } from './store-validator.generated';

/**
 * The settings and the PKCS#11 library choice in one JSON file with a schema (key metadata lives
 * in the key inventory, `electron/lifecycle/`, not here). A store that fails to parse or to validate
 * is never reset silently: it is moved aside, the last good copy is restored, and the app says so.
 */
export type StoreData = {
  settings: Settings;
  /** The PKCS#11 library in use: written by main only (tokens.selectModule), never by a page. */
  module?: ModuleChoice | null;
};

export interface ModuleChoice {
  path: string;
  /** Vendor initialization parameters (pkcs11js libraryParameters); an advanced option. */
  parameters: string | null;
  /**
   * How main came to know the path. `migrated`: a path from before 0.3.0, when a page could
   * name any file; it is loaded only while it is on the well-known list or named at launch.
   */
  via: 'well-known' | 'dialog' | 'launch' | 'migrated';
}

export const DEFAULT_SETTINGS: Settings = {
  theme: 'system',
  idleLogoutMinutes: 5,
  confirmDemoToken: false,
  firstRunGuideDismissed: false,
};

/** 0.3.0: the library choice leaves the settings a page may change (issue 10, point 5). */
export function migrateModuleChoice(settings: Record<string, unknown>): {
  settings: Settings;
  module: ModuleChoice | null;
} {
  const { modulePath, moduleParameters, ...rest } = settings;
  return {
    settings: { ...DEFAULT_SETTINGS, ...(rest as Partial<Settings>) },
    module:
      typeof modulePath === 'string' && modulePath
        ? {
            path: modulePath,
            parameters: typeof moduleParameters === 'string' ? moduleParameters : null,
            via: 'migrated',
          }
        : null,
  };
}

export const SCHEMA: Options<StoreData>['schema'] = {
  settings: {
    type: 'object',
    additionalProperties: false,
    // Fields added after 0.1.0 stay optional here: the schema is checked before migrations run.
    // modulePath and moduleParameters are still read (stores before 0.3.0); 0.3.0 moves them out.
    required: ['theme', 'idleLogoutMinutes', 'confirmDemoToken'],
    properties: {
      theme: { enum: ['system', 'light', 'dark'] },
      idleLogoutMinutes: { type: 'integer', minimum: 1, maximum: 240 },
      modulePath: { type: ['string', 'null'], maxLength: 4096 },
      moduleParameters: { type: ['string', 'null'], maxLength: 4096 },
      confirmDemoToken: { type: 'boolean' },
      firstRunGuideDismissed: { type: 'boolean' },
    },
  },
  module: {
    type: ['object', 'null'],
    additionalProperties: false,
    required: ['path', 'parameters', 'via'],
    properties: {
      path: { type: 'string', minLength: 1, maxLength: 4096 },
      parameters: { type: ['string', 'null'], maxLength: 4096 },
      via: { enum: ['well-known', 'dialog', 'launch', 'migrated'] },
    },
  },
};

export const STORE_NAME = 'mkm-store';

/** electron-store in Electron, conf elsewhere: the same class family and options. */
export type StoreFactory = (options: Options<StoreData>) => Conf<StoreData>;

interface CompiledValidator {
  (data: unknown): boolean;
  errors?: { instancePath: string; message?: string }[] | null;
}

/**
 * conf compiles the schema with ajv at every start: about 40 ms of every CLI command. Node modes
 * run the same schema compiled ahead of time (`store-validator.generated.ts`, made from SCHEMA by
 * scripts/store-validator.ts; a unit test fails when the two part) in conf's own `_validate`,
 * with conf's own message, so a store that does not validate is refused exactly as before.
 * (electron-store in Electron still compiles it: one start per session, not per command.)
 */
class PrecompiledConf extends Conf<StoreData> {}
const confValidate = (Conf.prototype as unknown as { _validate?: unknown })._validate;
if (typeof confValidate !== 'function') {
  throw new Error('conf no longer has _validate: the precompiled store schema cannot be used');
}
Object.defineProperty(PrecompiledConf.prototype, '_validate', {
  value(data: unknown): void {
    const validate = precompiledValidate as CompiledValidator;
    if (validate(data) || !validate.errors) return;
    const errors = validate.errors.map(
      ({ instancePath, message = '' }) => `\`${instancePath.slice(1)}\` ${message}`,
    );
    throw new Error('Config schema violation: ' + errors.join('; '));
  },
});

export const confFactory: StoreFactory = ({ schema: _compiledAhead, ajvOptions: _unused, ...options }) =>
  new PrecompiledConf(options);

export interface OpenedStore {
  store: Conf<StoreData>;
  restoredFrom: string | null;
  movedAside: string | null;
}

/**
 * conf writes through `atomically`, whose synchronous writer removes its temp file with an
 * *asynchronous* unlink when a write fails: after a full disk the folder holds a
 * `mkm-store.json.tmp-…` until some later tick, and a crash before then leaves it for good.
 * Our writer removes its temp file before the error reaches the caller. The two members used
 * are private in conf's types only; the unit test store-writer.test.ts fails if conf renames them.
 */
function writeThroughOwnAtomicWriter(store: Conf<StoreData>): void {
  const internals = store as unknown as {
    _write: (value: unknown) => void;
    _serialize: (value: unknown) => string;
  };
  if (typeof internals._write !== 'function' || typeof internals._serialize !== 'function') {
    throw new Error('conf no longer has _write/_serialize: the store writer cannot be replaced');
  }
  const serialize = internals._serialize.bind(store);
  internals._write = (value: unknown) => writeFileAtomic(store.path, serialize(value), 0o600);
}

export function openStore(dataDir: string, logger: Logger, factory: StoreFactory = confFactory): OpenedStore {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, `${STORE_NAME}.json`);
  const lastGood = join(dataDir, `${STORE_NAME}.last-good.json`);
  const options: Options<StoreData> = {
    cwd: dataDir,
    configName: STORE_NAME,
    projectName: 'merchant-key-manager',
    projectVersion: '0.3.0',
    schema: SCHEMA,
    // The schema is a constant checked against the JSON Schema meta-schema by a unit test
    // (store-schema.test.ts); checking it again at every start cost each CLI command ~40 ms.
    // The store's data is still validated on every read and write.
    ajvOptions: { validateSchema: false },
    defaults: { settings: DEFAULT_SETTINGS },
    clearInvalidConfig: false,
    configFileMode: 0o600,
    migrations: {
      // Each release that changes the shape adds a step here; 0.1.0 is the first shape.
      '0.1.0': (store) => {
        if (!store.has('settings')) store.set('settings', DEFAULT_SETTINGS);
      },
      // 0.2.0 added vendor initialization parameters (moved out again by 0.3.0).
      '0.2.0': (store) => {
        const settings = store.get('settings') as unknown as Record<string, unknown>;
        store.set('settings', {
          ...DEFAULT_SETTINGS,
          ...settings,
          moduleParameters: settings.moduleParameters ?? null,
        } as Settings);
      },
      '0.3.0': (store) => {
        const migrated = migrateModuleChoice(store.get('settings') as unknown as Record<string, unknown>);
        store.set('settings', migrated.settings);
        if (!store.has('module')) store.set('module', migrated.module);
      },
    },
  };

  const open = () => {
    const store = factory(options);
    writeThroughOwnAtomicWriter(store);
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
