import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  INVENTORY_FILE,
  INVENTORY_LAST_GOOD,
  INVENTORY_LOCK,
  INVENTORY_SCHEMA_VERSION,
  InventoryStore,
  managedByOnDisk,
  ReadOnlyInventory,
} from '../../../electron/lifecycle/inventory.nodejs';
import { AUDIT_KEY_LABEL } from '../../../electron/audit/app-audit.nodejs';
import type { ObjectInfo } from '../../../shared/tokens.std';
import { MkmError } from '../../../shared/errors.std';
import { oneKey, T0, version } from './fixtures';

let dir: string;
const file = () => join(dir, INVENTORY_FILE);
const clock = () => new Date('2026-02-01T00:00:00.000Z');
const open = () => InventoryStore.open({ dir, clock });

/** v1 active; a rotation planned, its v2 in the inventory but not yet on the token. */
function withPendingRotation(
  store: ReturnType<typeof open>,
  data: ReturnType<typeof oneKey>['data'],
  key: ReturnType<typeof oneKey>['key'],
  v1: ReturnType<typeof oneKey>['v1'],
) {
  const rotation = {
    id: '00000000-0000-4000-8000-000000000001',
    logicalKeyId: key.id,
    reason: 'manual' as const,
    fromVersionId: v1.id,
    newVersionId: '00000000-0000-4000-8000-000000000002',
    label: 'mkm/pending/v2',
    step: 'planned' as const,
    startedAt: '2026-01-02T00:00:00.000Z',
    updatedAt: '2026-01-02T00:00:00.000Z',
  };
  const v2 = version(key, {
    id: rotation.newVersionId,
    version: 2,
    state: 'pre-activation',
    primary: false,
    ckaId: null,
    label: rotation.label,
  });
  store.mutate((d) => Object.assign(d, { ...data, versions: [v1, v2], rotations: [rotation] }));
  return { rotation, v2 };
}

function codeOf(fn: () => unknown): MkmError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(MkmError);
    return error as MkmError;
  }
  throw new Error('expected an error');
}

function rewrite(edit: (file: { data: Record<string, unknown>; digest: string }) => void, redigest = false) {
  const parsed = JSON.parse(readFileSync(file(), 'utf8'));
  edit(parsed);
  if (redigest) parsed.digest = createHash('sha256').update(JSON.stringify(parsed.data)).digest('hex');
  writeFileSync(file(), JSON.stringify(parsed));
}

/** A schema 2 inventory file (before gateway retirement) holding oneKey()'s data. */
function schema2File() {
  const { data } = oneKey();
  writeFileSync(
    file(),
    JSON.stringify({
      format: 'mkm-key-inventory',
      schemaVersion: 2,
      digest: createHash('sha256').update(JSON.stringify(data)).digest('hex'),
      data,
    }),
  );
  return data;
}

function seeded() {
  const store = open();
  const fixture = oneKey();
  store.mutate((d) => Object.assign(d, fixture.data));
  store.close();
  return fixture;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mkm-inventory-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the key inventory file', () => {
  it('is created with its format, schema version and digest, plus a last good copy', () => {
    const store = open();
    expect(store.openReport).toEqual({ created: true, migratedFrom: null, removedTemp: 0 });
    store.close();
    const onDisk = JSON.parse(readFileSync(file(), 'utf8'));
    expect(onDisk).toMatchObject({ format: 'mkm-key-inventory', schemaVersion: INVENTORY_SCHEMA_VERSION });
    expect(onDisk.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(join(dir, INVENTORY_LAST_GOOD), 'utf8')).toBe(readFileSync(file(), 'utf8'));
  });

  it('keeps what was written across reopening', () => {
    const { v1 } = seeded();
    const store = open();
    expect(store.read().versions).toEqual([v1]);
    store.close();
  });

  it('a change on disk is reported done even when the last good copy cannot be refreshed', () => {
    const { key } = seeded();
    const store = open();
    // The last good copy's name taken by a folder: its refresh fails, the inventory itself not.
    rmSync(join(dir, INVENTORY_LAST_GOOD));
    mkdirSync(join(dir, INVENTORY_LAST_GOOD));
    store.mutate((d) => {
      d.logicalKeys[0]!.name = 'renamed';
    });
    expect(store.read().logicalKeys[0]!.name).toBe('renamed');
    expect(JSON.parse(readFileSync(file(), 'utf8')).data.logicalKeys[0].name).toBe('renamed');
    expect(key.name).not.toBe('renamed');
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
    store.close();
  });

  it('refuses a change that breaks an invariant, in memory and on disk', () => {
    const { key, v1 } = seeded();
    const store = open();
    const before = readFileSync(file(), 'utf8');
    const err = codeOf(() =>
      store.mutate((d) => {
        d.versions.push(version(key, { version: 2 })); // a second primary
      }),
    );
    expect(err.code).toBe('CONFLICT');
    expect(err.message).toMatch(/2 primaries/);
    expect(store.read().versions).toEqual([v1]);
    expect(readFileSync(file(), 'utf8')).toBe(before);
    store.close();
  });

  it('a file that is not JSON gives STORE_CORRUPT and is left as it is (no silent reset)', () => {
    seeded();
    writeFileSync(file(), '{"format": "mkm-key-inv');
    const err = codeOf(open);
    expect(err.code).toBe('STORE_CORRUPT');
    expect(err.details).toMatchObject({ reason: 'not JSON', lastGoodAvailable: true });
    expect(err.message).toMatch(/key inventory file is damaged.*restored from the last good copy/);
    expect(readFileSync(file(), 'utf8')).toBe('{"format": "mkm-key-inv');
    expect(existsSync(join(dir, INVENTORY_LOCK))).toBe(false);
  });

  it('a hand-edited file (valid JSON, value changed) gives STORE_CORRUPT: digest mismatch', () => {
    seeded();
    rewrite((f) => ((f.data.versions as { useCount: number }[])[0]!.useCount = 0 + 5));
    const err = codeOf(open);
    expect(err.code).toBe('STORE_CORRUPT');
    expect(err.details?.reason).toMatch(/digest mismatch/);
  });

  it('an edit that recomputes the digest is still caught by the schema and the invariants', () => {
    seeded();
    rewrite((f) => ((f.data.versions as { state: string }[])[0]!.state = 'retired'), true);
    expect(codeOf(open).details?.reason).toMatch(/^schema: versions\.0\.state/);
    restoreAndCheck();
    rewrite((f) => ((f.data.versions as { state: string }[])[0]!.state = 'deactivated'), true);
    expect(codeOf(open).details?.reason).toMatch(/^inconsistent: primary version .* is deactivated/);
  });

  function restoreAndCheck() {
    const report = InventoryStore.restoreLastGood(dir, undefined, clock);
    expect(report.restoredFrom).toBe(join(dir, INVENTORY_LAST_GOOD));
    expect(report.movedAside).toBe(join(dir, 'key-inventory.corrupt-2026-02-01T00-00-00-000Z.json'));
    return report;
  }

  it('restoreLastGood moves the damaged file aside and brings back the last good content', () => {
    const { v1 } = seeded();
    writeFileSync(file(), 'garbage');
    const report = restoreAndCheck();
    expect(readFileSync(report.movedAside!, 'utf8')).toBe('garbage');
    const store = open();
    expect(store.read().versions).toEqual([v1]);
    store.close();
  });

  it('with onCorrupt "restore", opening restores the last good copy itself and says so', () => {
    const { v1 } = seeded();
    rewrite((f) => ((f.data.versions as { useCount: number }[])[0]!.useCount = 7));
    const store = InventoryStore.open({ dir, clock, onCorrupt: 'restore' });
    expect(store.openReport.restored).toMatchObject({
      reason: 'digest mismatch: edited outside the app',
      restoredFrom: join(dir, INVENTORY_LAST_GOOD),
    });
    expect(existsSync(store.openReport.restored!.movedAside!)).toBe(true);
    expect(store.read().versions).toEqual([v1]);
    store.close();
  });

  it('refuses to restore when the last good copy is damaged too', () => {
    seeded();
    writeFileSync(file(), 'garbage');
    writeFileSync(join(dir, INVENTORY_LAST_GOOD), 'garbage too');
    const err = codeOf(() => InventoryStore.restoreLastGood(dir));
    expect(err.code).toBe('STORE_CORRUPT');
    expect(err.details?.lastGoodAvailable).toBe(false);
    expect(readFileSync(file(), 'utf8')).toBe('garbage');
  });

  it('a deleted inventory next to a good copy is damage, not a first start', () => {
    seeded();
    unlinkSync(file());
    expect(codeOf(open).code).toBe('STORE_CORRUPT');
    InventoryStore.restoreLastGood(dir);
    const store = open();
    expect(store.read().versions).toHaveLength(1);
    store.close();
  });

  it('migrates a schema 1 file (no journal, no gateway status) and keeps the old file', () => {
    const { data, v1 } = oneKey();
    const v1Shape = data.versions.map((v) => {
      const { gateway: _g, destroyPending: _d, ...rest } = v;
      return rest;
    });
    const oldData = { logicalKeys: data.logicalKeys, versions: v1Shape };
    writeFileSync(
      file(),
      JSON.stringify({
        format: 'mkm-key-inventory',
        schemaVersion: 1,
        digest: createHash('sha256').update(JSON.stringify(oldData)).digest('hex'),
        data: oldData,
      }),
    );
    const store = open();
    expect(store.openReport.migratedFrom).toBe(1);
    expect(store.read()).toEqual({ ...data, versions: [v1], rotations: [], history: [] });
    store.close();
    expect(JSON.parse(readFileSync(file(), 'utf8')).schemaVersion).toBe(INVENTORY_SCHEMA_VERSION);
    expect(JSON.parse(readFileSync(join(dir, 'key-inventory.v1.json'), 'utf8')).schemaVersion).toBe(1);
  });

  it('migrates a schema 2 file (no gateway retirement yet) unchanged to schema 3, keeping the old copy', () => {
    const data = schema2File();
    const store = open();
    expect(store.openReport.migratedFrom).toBe(2);
    expect(store.read()).toEqual(data);
    // The new statuses are accepted from now on.
    store.mutate((d) => {
      d.versions[0]!.gateway.status = 'retirePending';
    });
    store.close();
    expect(JSON.parse(readFileSync(file(), 'utf8')).schemaVersion).toBe(3);
    expect(existsSync(join(dir, 'key-inventory.v2.json'))).toBe(true);
  });

  it('refuses a file from a newer schema', () => {
    seeded();
    rewrite((f) => Object.assign(f, { schemaVersion: INVENTORY_SCHEMA_VERSION + 1 }));
    expect(codeOf(open).details?.reason).toBe(`newer schema ${INVENTORY_SCHEMA_VERSION + 1}`);
  });

  it('has one writer: a live holder is refused, a dead one’s lock is taken over; crash leftovers go', () => {
    const store = open();
    expect(codeOf(open).code).toBe('CONFLICT');
    store.close();
    writeFileSync(join(dir, INVENTORY_LOCK), String(process.ppid));
    const busy = codeOf(open);
    expect(busy.code).toBe('KEYS_BUSY');
    expect(busy.message).toContain(`(pid ${process.ppid})`);
    expect(busy.details).toEqual({ pid: process.ppid, lock: join(dir, INVENTORY_LOCK) });
    writeFileSync(join(dir, INVENTORY_LOCK), '999999999');
    writeFileSync(join(dir, `${INVENTORY_FILE}.tmp-4242`), 'half a write');
    const again = open();
    expect(again.openReport.removedTemp).toBe(1);
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
    again.close();
    expect(existsSync(join(dir, INVENTORY_LOCK))).toBe(false);
  });
});

describe('reconcile', () => {
  const obj = (id: string, cls: ObjectInfo['class'], label = 'x'): ObjectInfo => ({
    id,
    class: cls,
    label,
    keyType: cls === 'secret' ? 'aes' : 'rsa',
    bits: cls === 'secret' ? 256 : 2048,
    token: true,
    private: cls !== 'public',
    local: true,
    sensitive: true,
    extractable: false,
    alwaysSensitive: true,
    neverExtractable: true,
    usages: [],
  });

  it('flags missing objects, clears them when back, and lists unmanaged and pending ones', () => {
    const store = open();
    const { data, key, v1 } = oneKey();
    const { rotation } = withPendingRotation(store, data, key, v1);

    const gone = store.reconcile('serial-1', [
      obj('aa01', 'secret', 'stray'),
      obj('bb02', 'secret', rotation.label),
    ]);
    expect(gone.missing).toEqual([
      { versionId: v1.id, logicalKeyId: key.id, ckaId: v1.ckaId, since: '2026-02-01T00:00:00.000Z' },
    ]);
    expect(gone.unmanaged).toEqual([
      { ckaId: 'aa01', classes: ['secret'], label: 'stray', keyType: 'aes', bits: 256 },
    ]);
    expect(gone.pendingRotation).toEqual([{ rotationId: rotation.id, ckaId: 'bb02', label: rotation.label }]);
    expect(store.read().versions[0]!.missingSince).toBe('2026-02-01T00:00:00.000Z');

    const back = store.reconcile('serial-1', [obj(v1.ckaId!, 'secret')]);
    expect(back).toMatchObject({ missing: [], found: [v1.id], unmanaged: [] });
    expect(store.read().versions[0]!.missingSince).toBeNull();

    // Another token's objects are not this token's business.
    expect(store.reconcile('serial-2', [obj(v1.ckaId!, 'secret')]).unmanaged).toHaveLength(1);
    store.close();
  });

  it('shows mkm’s own keys (audit key, gateway key sets, session objects) as system, never as unmanaged', () => {
    const store = open();
    const report = store.reconcile('serial-1', [
      obj('a0d1', 'secret', AUDIT_KEY_LABEL),
      { ...obj('e1', 'secret', 'mkm gateway set enc'), token: false },
      { ...obj('e2', 'secret', 'mkm gateway set mac'), token: false },
      { ...obj('5e', 'secret', 'scratch'), token: false },
      obj('c0ffee', 'secret', 'an admin key'),
    ]);
    expect(report.unmanaged.map((u) => u.ckaId)).toEqual(['c0ffee']);
    expect(report.system).toEqual([
      { ckaId: 'a0d1', classes: ['secret'], label: AUDIT_KEY_LABEL, kind: 'audit' },
      { ckaId: 'e1', classes: ['secret'], label: 'mkm gateway set enc', kind: 'gateway-key-set' },
      { ckaId: 'e2', classes: ['secret'], label: 'mkm gateway set mac', kind: 'gateway-key-set' },
      { ckaId: '5e', classes: ['secret'], label: 'scratch', kind: 'session' },
    ]);
    store.close();
  });
});

describe('who manages a token object (read from disk, no lock)', () => {
  it('names the version or the rotation in flight, even while another store holds the lock', () => {
    const { data, key, v1 } = oneKey();
    const store = open();
    const { rotation, v2 } = withPendingRotation(store, data, key, v1);
    expect(
      managedByOnDisk(dir, { tokenSerial: 'serial-1', ckaId: v1.ckaId!.toUpperCase(), label: 'x' }),
    ).toEqual({
      kind: 'version',
      versionId: v1.id,
      logicalKeyId: key.id,
      version: 1,
      label: v1.label,
      state: 'active',
    });
    expect(managedByOnDisk(dir, { tokenSerial: 'serial-1', ckaId: 'ab', label: rotation.label })).toEqual({
      kind: 'rotation',
      rotationId: rotation.id,
      logicalKeyId: key.id,
    });
    // Another token, or an object nobody manages.
    expect(managedByOnDisk(dir, { tokenSerial: 'serial-2', ckaId: v1.ckaId!, label: 'x' })).toBeNull();
    expect(managedByOnDisk(dir, { tokenSerial: 'serial-1', ckaId: 'ab', label: 'x' })).toBeNull();
    // A tombstone does not own an object any more.
    store.mutate((d) => {
      d.rotations = [];
      d.versions = d.versions.filter((v) => v.id !== v2.id);
      Object.assign(d.versions[0]!, { state: 'destroyed', primary: false, destroyedAt: T0 });
    });
    expect(managedByOnDisk(dir, { tokenSerial: 'serial-1', ckaId: v1.ckaId!, label: 'x' })).toBeNull();
    store.close();
  });

  it('says nothing is managed in a fresh folder, and refuses to guess from a damaged file', () => {
    expect(managedByOnDisk(dir, { tokenSerial: 's', ckaId: 'ab', label: 'x' })).toBeNull();
    seeded();
    rewrite((f) => (f.digest = '00'));
    expect(codeOf(() => managedByOnDisk(dir, { tokenSerial: 's', ckaId: 'ab', label: 'x' })).code).toBe(
      'STORE_CORRUPT',
    );
  });
});

describe('the read-only inventory (another live process holds the lock)', () => {
  /** The writer's refusal while the parent process (alive, not us) holds the lock. */
  function heldElsewhere(): MkmError {
    writeFileSync(join(dir, INVENTORY_LOCK), `${process.ppid}\nthe Merchant Key Manager app\n`);
    const busy = codeOf(open);
    expect(busy.code).toBe('KEYS_BUSY');
    return busy;
  }
  const snapshot = () =>
    Object.fromEntries(readdirSync(dir).map((n) => [n, readFileSync(join(dir, n), 'utf8')]));

  it('reads the file as last written, rotation in flight included, and never writes or recovers', () => {
    const { data, key, v1 } = oneKey();
    const store = open();
    const { rotation, v2 } = withPendingRotation(store, data, key, v1);
    store.close();
    const busy = heldElsewhere();
    writeFileSync(join(dir, `${INVENTORY_FILE}.tmp-4242`), 'half a write');
    const before = snapshot();

    const reader = ReadOnlyInventory.open(dir, busy);
    expect(reader.readOnly).toBe(true);
    expect(reader.read()).toEqual({ ...data, versions: [v1, v2], rotations: [rotation] });
    // Changes are refused with the writer's error, which names the holder.
    const refused = codeOf(() => reader.mutate((d) => (d.rotations = [])));
    expect(refused).toBe(busy);
    expect(refused.message).toContain(`(pid ${process.ppid})`);
    expect(codeOf(() => reader.reconcile('serial-1', [])).code).toBe('KEYS_BUSY');
    reader.close();
    // No lock taken or released, no temp file removed, nothing rewritten.
    expect(snapshot()).toEqual(before);
  });

  it('reads an older schema migrated in memory and leaves the file as it is', () => {
    const data = schema2File();
    const busy = heldElsewhere();
    const before = snapshot();
    expect(ReadOnlyInventory.open(dir, busy).read()).toEqual(data);
    expect(snapshot()).toEqual(before);
  });

  it('a damaged or missing file is the writer’s STORE_CORRUPT, never an empty list', () => {
    expect(ReadOnlyInventory.open(dir, heldElsewhere()).read().logicalKeys).toEqual([]);
    rmSync(join(dir, INVENTORY_LOCK));
    seeded();
    rewrite((f) => ((f.data.logicalKeys as { name: string }[])[0]!.name = 'edited by hand'));
    const writer = codeOf(open);
    const reader = codeOf(() => ReadOnlyInventory.open(dir, heldElsewhere()));
    expect(writer.code).toBe('STORE_CORRUPT');
    expect({ code: reader.code, message: reader.message, details: reader.details }).toEqual({
      code: writer.code,
      message: writer.message,
      details: writer.details,
    });
    unlinkSync(file());
    const missing = codeOf(() => ReadOnlyInventory.open(dir, heldElsewhere()));
    expect(missing.code).toBe('STORE_CORRUPT');
    expect(missing.details?.reason).toBe('the inventory file is missing');
  });
});
