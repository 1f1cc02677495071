import Conf from 'conf';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GENERATED_VALIDATOR, storeValidatorSource } from '../../../scripts/store-validator';
import { confFactory, SCHEMA, STORE_NAME, type StoreData } from '../../../electron/core/store.nodejs';

// Node modes validate the settings store with the schema compiled ahead of time. These prove the
// committed validator is the schema's, and that it refuses what conf's own ajv refuses, word for word.
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function storeHolding(data: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'mkm-store-validator-'));
  dirs.push(dir);
  writeFileSync(join(dir, `${STORE_NAME}.json`), JSON.stringify(data));
  return dir;
}

const options = (cwd: string) => ({
  cwd,
  configName: STORE_NAME,
  projectName: 'merchant-key-manager',
  schema: SCHEMA,
  clearInvalidConfig: false,
});

/** What opening the store says: null when it opens, else conf's error message. */
function opening(make: () => unknown): string | null {
  try {
    make();
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

const settings = { theme: 'dark', idleLogoutMinutes: 5, confirmDemoToken: false };
const CASES: [string, unknown][] = [
  ['a valid store', { settings, module: { path: '/usr/lib/x.so', parameters: null, via: 'dialog' } }],
  ['an unknown theme', { settings: { ...settings, theme: 'purple' } }],
  ['a logout time out of range', { settings: { ...settings, idleLogoutMinutes: 0 } }],
  ['a setting that does not exist', { settings: { ...settings, extra: true } }],
  ['a missing required setting', { settings: { theme: 'dark' } }],
  [
    'a library path too long',
    { settings, module: { path: '𝒳'.repeat(4097), parameters: null, via: 'dialog' } },
  ],
  [
    'a library path of astral characters within bounds',
    { settings, module: { path: '𝒳'.repeat(4000), parameters: null, via: 'dialog' } },
  ],
  [
    'a library chosen in no known way',
    { settings, module: { path: '/x.so', parameters: null, via: 'page' } },
  ],
];

describe('the settings store validated ahead of time', () => {
  it('is the committed compilation of SCHEMA (run `npx tsx scripts/store-validator.ts` after changing it)', () => {
    expect(readFileSync(GENERATED_VALIDATOR, 'utf8')).toBe(storeValidatorSource());
  });

  it.each(CASES)('judges %s as conf compiling the schema itself does', (_name, data) => {
    const ours = opening(() => confFactory(options(storeHolding(data)) as never));
    const confs = opening(() => new Conf<StoreData>(options(storeHolding(data)) as never));
    expect(ours).toBe(confs);
  });

  it('refuses a store that breaks the schema, naming the field', () => {
    const message = opening(() =>
      confFactory(options(storeHolding({ settings: { ...settings, theme: 'purple' } })) as never),
    );
    expect(message).toMatch(
      /^Config schema violation: `settings\/theme` must be equal to one of the allowed values/,
    );
  });

  it('refuses a write that breaks the schema, and keeps the file as it was', () => {
    const dir = storeHolding({ settings });
    const store = confFactory(options(dir) as never);
    const before = readFileSync(join(dir, `${STORE_NAME}.json`), 'utf8');
    expect(() => store.set('settings', { ...settings, idleLogoutMinutes: 999 } as never)).toThrow(
      /Config schema violation: `settings\/idleLogoutMinutes` must be <= 240/,
    );
    expect(readFileSync(join(dir, `${STORE_NAME}.json`), 'utf8')).toBe(before);
  });
});
