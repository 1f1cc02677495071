import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kcv } from '../../../electron/crypto/kcv.nodejs';
import { pkcs11js } from '../../../electron/hsm/pkcs11/pkcs11.host';
import { hostTokenService } from '../../helpers/host-token-engine';
import { mkmOn, type CliRun } from '../../helpers/mkm-cli';
import { filesUnder } from '../../helpers/scan';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { TR31_2018_A_7_4 } from '../../unit/formats/tr31-vectors';
import { componentsOf, encryptTo } from './component-ops-suite';
import { createKnownKey } from './tr31-ops-suite';

/**
 * `mkm keys export-tr31` and `mkm keys import-tr31` as an officer runs them: the real CLI in a
 * process of its own on a SoftHSM2 token, the block on stdout and back in on stdin. The KBPK is
 * formed from components on the token (as a ceremony does) beforehand, in this process.
 */
const P = pkcs11js;
const DATA_KEY = '3F419E1CB7079442AA37474C2EFBF8B8';
let token: SoftHsmToken;
let dataDir: string;

const mkm = (args: string[], stdin = ''): Promise<CliRun> =>
  mkmOn(() => ({ dataDir, token }))(args, token.userPin, stdin);

const EXPORT = ['keys', 'export-tr31', 'data-key', '--kbpk', 'the-kbpk', '--kbpk-type', 'aes-256'];
const IMPORT = (label: string) => [
  'keys',
  'import-tr31',
  '--kbpk',
  'the-kbpk',
  '--kbpk-type',
  'aes-256',
  '--label',
  label,
];

beforeAll(async () => {
  token = createSoftHsmToken({ label: 'tr31-cli' });
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-tr31-cli-data-'));
  const svc = hostTokenService();
  try {
    await svc.loadModule({ path: token.modulePath });
    await svc.login({ slotId: token.slotId, pin: token.userPin });
    const transport = await svc.ceremonyTransportKey({ slotId: token.slotId });
    await svc.formKeyFromComponents({
      slotId: token.slotId,
      transportKeyId: transport.transportKeyId,
      keyType: 'aes-256',
      ciphertexts: componentsOf('aes-256', TR31_2018_A_7_4.kbpk, ['5a'.repeat(32)]).map((c) =>
        encryptTo(transport.spkiPem, c),
      ),
      label: 'the-kbpk',
      id: '7531cc01',
      purpose: 'kbpk',
    });
    createKnownKey(svc, token.slotId, {
      id: '7531cc02',
      label: 'data-key',
      keyHex: DATA_KEY,
      usages: [P.CKA_ENCRYPT, P.CKA_DECRYPT],
    });
  } finally {
    await svc.unloadModule();
  }
}, 120_000);

afterAll(() => {
  token?.cleanup();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('mkm keys export-tr31 / import-tr31', () => {
  let block: string;

  it('export writes the block alone on stdout, the check values on stderr', async () => {
    const r = await mkm([
      ...EXPORT,
      '--usage',
      'D0',
      '--mode-of-use',
      'B',
      '--exportability',
      'E',
      '--kc',
      'cmac',
    ]);
    expect(r.code, r.stderr).toBe(0);
    block = r.stdout.trim();
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(block).toMatch(/^D\d{4}D0AB00E01/);
    expect(r.stderr).toContain('08793E (cmac)');
    expect(r.stdout + r.stderr).not.toMatch(new RegExp(DATA_KEY, 'i'));
  });

  it('import reads the block on stdin and prints the key’s check values', async () => {
    const r = await mkm(IMPORT('copy'), `${block}\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('08793E (cmac)');
    expect(r.stdout).toContain(
      `${kcv('aes-128', Buffer.from(DATA_KEY, 'hex'), 'legacy').kcv.toUpperCase()} (legacy)`,
    );
    expect(r.stdout).toContain('checked in the block: KC');
  });

  it('--json gives the block and the KCVs, never the key', async () => {
    const out = await mkm([
      '--json',
      ...EXPORT,
      '--usage',
      'D0',
      '--mode-of-use',
      'E',
      '--exportability',
      'N',
    ]);
    expect(out.code, out.stderr).toBe(0);
    const exported = JSON.parse(out.stdout) as { block: string; keyKcvs: { kcv: string; method: string }[] };
    expect(exported.block).toMatch(/^D\d{4}D0AE00N/);
    expect(exported.keyKcvs).toContainEqual({ kcv: '08793e', method: 'cmac' });
    expect(out.stdout).not.toMatch(new RegExp(DATA_KEY, 'i'));
    const imported = await mkm(['--json', ...IMPORT('json copy')], exported.block);
    expect(imported.code, imported.stderr).toBe(0);
    const r = JSON.parse(imported.stdout) as {
      kcvs: { kcv: string; method: string }[];
      attributes: { extractable: boolean };
    };
    expect(r.kcvs).toContainEqual({ kcv: '08793e', method: 'cmac' });
    expect(r.attributes.extractable).toBe(false);
  });

  it('a published block (TR-31:2018 A.7.4) imports with its known check value', async () => {
    const r = await mkm(['--json', ...IMPORT('A.7.4')], TR31_2018_A_7_4.block);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).kcvs).toContainEqual({ kcv: '08793e', method: 'cmac' });
  });

  it('a block with one bit flipped in its MAC is refused with TR31_MAC_MISMATCH, exit 1', async () => {
    const b = TR31_2018_A_7_4.block;
    const tampered = b.slice(0, -1) + String.fromCharCode(b.charCodeAt(b.length - 1) ^ 1);
    const r = await mkm(IMPORT('tampered'), tampered);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[TR31_MAC_MISMATCH]');
  });

  it('export of a key that does not exist is refused; a missing option is a usage error', async () => {
    const r = await mkm([
      'keys',
      'export-tr31',
      'nope',
      '--kbpk',
      'the-kbpk',
      '--usage',
      'D0',
      '--mode-of-use',
      'B',
      '--exportability',
      'E',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[KEY_NOT_FOUND]');
    const u = await mkm(['keys', 'export-tr31', 'data-key', '--kbpk', 'the-kbpk', '--usage', 'D0']);
    expect(u.code).not.toBe(0);
  });
});

describe('what the CLI runs left in the data folder', () => {
  it('the audit log names the exports and imports with their header fields; no file holds the key', () => {
    const files = filesUnder(dataDir);
    const all = files.map((f) => readFileSync(f, 'latin1')).join('\n');
    expect(all).toContain('key.export.tr31');
    expect(all).toContain('key.import.tr31');
    for (const form of [DATA_KEY, DATA_KEY.toLowerCase(), Buffer.from(DATA_KEY, 'hex').toString('base64')]) {
      expect(all.includes(form), form.slice(0, 4)).toBe(false);
    }
  });
});
