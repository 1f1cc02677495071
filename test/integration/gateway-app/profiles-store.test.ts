import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayProfilesStore, profileIdFromName } from '../../../electron/gateway/profiles-store.nodejs';

/** The profiles file on a real filesystem: validated, atomic, never silently reset. */
const dirs: string[] = [];
const fresh = () => {
  const dir = mkdtempSync(join(tmpdir(), 'mkm-gw-profiles-'));
  dirs.push(dir);
  return new GatewayProfilesStore(join(dir, 'gateway'));
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const profile = {
  id: 'sandbox',
  name: 'Sandbox',
  baseUrl: 'https://127.0.0.1:8443/',
  username: 'merchant',
  tlsPinSha256: 'AB'.repeat(32),
  scheme: { cse: { padding: 'RSAES-OAEP-SHA256' }, keyRolling: true },
};

describe('GatewayProfilesStore', () => {
  it('keeps validated profiles in profiles.json (0600) and hands them back normalized', () => {
    const store = fresh();
    expect(store.list()).toEqual([]);
    const added = store.add(profile);
    expect(added).toMatchObject({ baseUrl: 'https://127.0.0.1:8443', tlsPinSha256: 'ab'.repeat(32) });
    expect(new GatewayProfilesStore(store.dir).get('sandbox')).toEqual(added);
    expect(statSync(store.file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(store.file, 'utf8'))).toMatchObject({ version: 1, profiles: [added] });
  });

  it('refuses a duplicate id, a plain-http address and a stray field such as a password', () => {
    const store = fresh();
    store.add(profile);
    expect(() => store.add(profile)).toThrow(expect.objectContaining({ code: 'CONFLICT' }));
    expect(() => store.add({ ...profile, id: 'b', baseUrl: 'http://example.com' })).toThrow(
      expect.objectContaining({ code: 'VALIDATION' }),
    );
    expect(() => store.add({ ...profile, id: 'c', password: 'hunter2' })).toThrow(
      expect.objectContaining({ code: 'VALIDATION' }),
    );
    expect(readFileSync(store.file, 'utf8')).not.toContain('hunter2');
  });

  it('reports a damaged file as STORE_CORRUPT and leaves it as it was', () => {
    const store = fresh();
    store.add(profile);
    writeFileSync(store.file, '{"version":1,"profiles":[{"id":"x"}]}');
    expect(() => store.list()).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
    expect(() => store.add({ ...profile, id: 'other' })).toThrow(
      expect.objectContaining({ code: 'STORE_CORRUPT' }),
    );
    writeFileSync(store.file, '{not json');
    expect(() => store.list()).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
    expect(readFileSync(store.file, 'utf8')).toBe('{not json');
  });

  it('removes a profile, and makes ids from names', () => {
    const store = fresh();
    store.add(profile);
    expect(store.remove('nope')).toBe(false);
    expect(store.remove('sandbox')).toBe(true);
    expect(store.list()).toEqual([]);
    expect(profileIdFromName('Wrong pin')).toBe('wrong-pin');
    expect(profileIdFromName('  Sandbox EU (test) ')).toBe('sandbox-eu-test');
  });
});
