import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LifecycleKeyView, LifecycleVersionView } from '../../../shared/contract.std';
import type { LifecycleDueReport } from '../../../shared/contract/lifecycle.std';
import { mkmOn } from '../../helpers/mkm-cli';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';

/**
 * The key lifecycle as an admin drives it from the `mkm` CLI: each command is its own process
 * (app services, HSM host, real SoftHSM2 token), the PIN comes from MKM_PIN only, and the key
 * inventory lives in the data folder between commands.
 */
let token: SoftHsmToken;
let dataDir: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const cli = mkmOn(() => ({ dataDir, token }));
const mkm = (args: string[]): Promise<Run> => cli(args, token.userPin);

const json = async <T>(args: string[]): Promise<T> => {
  const r = await mkm(['--json', ...args]);
  expect(r.code, r.stderr || r.stdout).toBe(0);
  return JSON.parse(r.stdout) as T;
};

beforeAll(() => {
  token = createSoftHsmToken({ label: 'keys-app' });
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-keys-app-'));
});
afterAll(() => {
  token?.cleanup();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('mkm key lifecycle commands on a real token', () => {
  let v1: LifecycleVersionView;
  let v2: LifecycleVersionView;

  it('creates a managed data key: version 1 on the token, active and primary, with its KCV', async () => {
    const created = await json<{ logicalKey: LifecycleKeyView; version: LifecycleVersionView }>([
      'keys',
      'create',
      '--name',
      'payments-data',
      '--purpose',
      'data',
    ]);
    v1 = created.version;
    expect(created.logicalKey).toMatchObject({ name: 'payments-data', purpose: 'data', type: 'aes-256' });
    expect(v1).toMatchObject({ version: 1, state: 'active', primary: true, tokenSerial: token.serial });
    expect(v1.fingerprint).toMatchObject({ kind: 'kcv', method: 'cmac' });
    expect(v1.ckaId).toMatch(/^[0-9a-f]+$/);
  });

  it('rotates it by name: two versions, the new one primary, the old one active in its grace period', async () => {
    const rotated = await json<{ logicalKey: LifecycleKeyView; version: LifecycleVersionView }>([
      'rotate',
      'payments-data',
    ]);
    v2 = rotated.version;
    expect(v2).toMatchObject({ version: 2, state: 'active', primary: true });
    expect(v2.ckaId).not.toBe(v1.ckaId);
    expect(rotated.logicalKey.primaryVersionId).toBe(v2.id);
    const old = rotated.logicalKey.versions.find((v) => v.id === v1.id)!;
    expect(old).toMatchObject({ state: 'active', primary: false });
    expect(Date.parse(old.graceUntil!)).toBeGreaterThan(Date.now());
  });

  it('keys list --state active shows both versions and their states, never key material', async () => {
    const r = await mkm(['keys', 'list', '--state', 'active']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('payments-data');
    expect(r.stdout).toMatch(new RegExp(`v2\\s+active\\s+primary\\s+${v2.id}`));
    expect(r.stdout).toMatch(new RegExp(`v1\\s+active\\s+${v1.id}`));

    const listed = await json<LifecycleKeyView[]>(['keys', 'list', '--state', 'active']);
    expect(listed).toHaveLength(1);
    expect(listed[0]!.versions.map((v) => [v.version, v.state, v.primary])).toEqual([
      [2, 'active', true],
      [1, 'active', false],
    ]);
    expect(JSON.stringify(listed)).not.toMatch(/publicKeyPem|value":"[0-9a-f]{32,}/);
  });

  it('declares the old version compromised by its label; the primary stays, nothing is replaced', async () => {
    const r = await json<{ compromised: LifecycleVersionView; replacement: LifecycleVersionView | null }>([
      'keys',
      'compromise',
      v1.label,
      '--note',
      'left on a laptop',
    ]);
    expect(r.compromised).toMatchObject({ id: v1.id, state: 'compromised', primary: false });
    expect(r.replacement).toBeNull();

    const compromised = await json<LifecycleKeyView[]>(['keys', 'list', '--state', 'compromised']);
    expect(compromised[0]!.versions.map((v) => v.id)).toEqual([v1.id]);
    const active = await json<LifecycleKeyView[]>(['keys', 'list', '--state', 'active']);
    expect(active[0]!.versions.map((v) => v.id)).toEqual([v2.id]);
  });

  it('keys due shows nothing overdue', async () => {
    const due = await json<LifecycleDueReport>(['keys', 'due']);
    expect(due.due.filter((d) => d.level === 'overdue')).toEqual([]);
    expect(due.graceExpired).toEqual([]);
    const text = await mkm(['keys', 'due']);
    expect(text.stdout.trim()).toBe('nothing is due');
  });

  it('keys destroy refuses a managed key and names the lifecycle command to use instead', async () => {
    const r = await mkm(['keys', 'destroy', v2.ckaId!, '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`mkm keys destroy-version ${v2.id}`);
    expect(r.stderr).toMatch(/\[KEY_MANAGED\]\n$/);
    const active = await json<LifecycleKeyView[]>(['keys', 'list', '--state', 'active']);
    expect(active[0]!.versions.map((v) => v.id)).toEqual([v2.id]);
  });

  it('keys destroy-version needs --yes and the label typed again; the version stays as a tombstone', async () => {
    const unconfirmed = await mkm(['keys', 'destroy-version', v1.id]);
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toMatch(/\[CONFIRMATION_REQUIRED\]\n$/);
    const wrongLabel = await mkm([
      'keys',
      'destroy-version',
      v1.id,
      '--yes',
      '--confirm-label',
      'payments-data',
    ]);
    expect(wrongLabel.code).toBe(1);
    expect(wrongLabel.stderr).toMatch(/\[CONFIRMATION_REQUIRED\]\n$/);
    const destroyed = await json<LifecycleVersionView>([
      'keys',
      'destroy-version',
      v1.label,
      '--yes',
      '--confirm-label',
      v1.label,
    ]);
    expect(destroyed).toMatchObject({ id: v1.id, state: 'destroyed', ckaId: v1.ckaId });
    const tombstones = await json<LifecycleKeyView[]>(['keys', 'list', '--state', 'destroyed']);
    expect(tombstones[0]!.versions.map((v) => v.id)).toEqual([v1.id]);
  });

  it('rotating an unknown name fails with one line, a code and exit 1', async () => {
    const r = await mkm(['rotate', 'no-such-key']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^mkm: .*no-such-key.* \[NOT_FOUND\]\n$/);
  });

  it('leaves the inventory unlocked between commands, and the lifecycle in the audit log', async () => {
    expect(existsSync(join(dataDir, 'keys', 'key-inventory.lock'))).toBe(false);
    const exported = await mkm(['audit', 'export', '--format', 'json']);
    const actions = (JSON.parse(exported.stdout) as { action: string; result: string }[]).map(
      (e) => `${e.action}:${e.result}`,
    );
    expect(actions).toEqual(
      expect.arrayContaining(['key.rotate.complete:ok', 'key.compromise:ok', 'key.generate:ok']),
    );
    expect(exported.stdout).not.toContain(token.userPin);
  });
});
