import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LifecycleKeyView, LifecycleVersionView } from '../../../shared/contract.std';
import type { GenerateKeyResult } from '../../../shared/tokens.std';
import { formatKcv, keyTypeName, versionName } from '../../../shared/wording.std';
import { mkmOn } from '../../helpers/mkm-cli';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';

/**
 * Issue 15, words that agree: what the CLI prints for people uses the same convention as the UI
 * (shared/wording.std.ts): KCVs upper-case hex, HMAC keys called HMAC, managed versions
 * `NAME vN`, while --json keeps the machine's values. Real token, real CLI processes.
 */
let token: SoftHsmToken;
let dataDir: string;
const cli = mkmOn(() => ({ dataDir, token }));
const mkm = (args: string[]) => cli(args, token.userPin);
const json = async <T>(args: string[]): Promise<T> => {
  const r = await mkm(['--json', ...args]);
  expect(r.code, r.stderr || r.stdout).toBe(0);
  return JSON.parse(r.stdout) as T;
};

beforeAll(() => {
  token = createSoftHsmToken({ label: 'wording' });
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-wording-'));
});
afterAll(() => {
  token?.cleanup();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('the CLI speaks the convention the UI speaks', () => {
  it('KCVs in upper case and HMAC keys named HMAC, in every text output; --json keeps the raw values', async () => {
    const hmac = await json<GenerateKeyResult>([
      'keys',
      'generate',
      '--type',
      'hmac-256',
      '--label',
      'mac-key',
    ]);
    const aes = await json<GenerateKeyResult>([
      'keys',
      'generate',
      '--type',
      'aes-256',
      '--label',
      'data-key',
    ]);
    expect(hmac.kcv!.kcv).toMatch(/^[0-9a-f]+$/);

    const kcv = await mkm(['keys', 'kcv', 'mac-key']);
    expect(kcv.stdout.trim()).toBe(`${formatKcv(hmac.kcv!.kcv)} (${hmac.kcv!.method})`);

    const list = await mkm(['keys', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).not.toContain('generic-secret');
    const macLine = list.stdout.split('\n').find((l) => l.includes('mac-key'))!;
    expect(macLine).toContain(keyTypeName('generic-secret'));
    // A data key's CKA_SIGN is there for its CMAC KCV only: listed as kcv, not sign.
    const dataLine = list.stdout.split('\n').find((l) => l.includes('data-key'))!;
    expect(dataLine).toContain('[encrypt,decrypt,kcv]');

    const generated = await mkm(['keys', 'generate', '--type', 'aes-256', '--label', 'data-key-2']);
    expect(generated.stdout).toMatch(/KCV [0-9A-F]{6} \(cmac\)/);
    expect(aes.kcv!.kcv).toMatch(/^[0-9a-f]+$/);

    const csv = await mkm(['audit', 'export', '--format', 'csv']);
    expect(csv.stdout).toContain(formatKcv(hmac.kcv!.kcv));
    expect(csv.stdout).not.toContain(`,${hmac.kcv!.kcv},`);
  });

  it('names a managed version NAME vN and destroys it only when that name is typed, saying what differs', async () => {
    await json(['keys', 'create', '--name', 'card data', '--purpose', 'data']);
    const rotated = await json<{ logicalKey: LifecycleKeyView; version: LifecycleVersionView }>([
      'rotate',
      'card data',
    ]);
    const v1 = rotated.logicalKey.versions.find((v) => v.version === 1)!;
    await json(['keys', 'deactivate', v1.id]);

    const asked = await mkm(['keys', 'destroy-version', versionName('card data', 1)]);
    expect(asked.code).toBe(1);
    expect(asked.stderr).toContain('--confirm-label "card data v1"');
    expect(asked.stderr).not.toContain('mkm/');

    const wrong = await mkm([
      'keys',
      'destroy-version',
      'card data v1',
      '--yes',
      '--confirm-label',
      'card data v2',
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('The version differs: this is v1, you typed v2.');

    const done = await mkm([
      'keys',
      'destroy-version',
      'card data v1',
      '--yes',
      '--confirm-label',
      'card data v1',
    ]);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain('card data v1 was destroyed on the token');

    const listed = await mkm(['keys', 'list', '--state', 'destroyed']);
    expect(listed.stdout).toContain('card data');
    expect(listed.stdout).toMatch(/KCV [0-9A-F]{6} \(cmac\)/);
  });
});
