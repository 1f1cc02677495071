import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkmOn } from '../../helpers/mkm-cli';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';

/**
 * The CLI takes paths (it is the user's own shell) but never writes inside the app's data folder
 * (audit log, key inventory, settings live there), nor over a file without --force.
 */
let token: SoftHsmToken;
let dataDir: string;
let outDir: string;
const mkm = mkmOn(() => ({ dataDir, token }));

beforeAll(() => {
  token = createSoftHsmToken({ label: 'cli-destinations' });
  dataDir = mkdtempSync(join(tmpdir(), 'mkm-cli-dest-data-'));
  outDir = mkdtempSync(join(tmpdir(), 'mkm-cli-dest-out-'));
});
afterAll(() => {
  token?.cleanup();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(outDir, { recursive: true, force: true });
});

describe('CLI destinations', () => {
  it('refuses the data folder for an audit export and a support bundle', async () => {
    const audit = await mkm(['audit', 'export', '--out', join(dataDir, 'audit', 'audit.log'), '--force']);
    expect(audit.code).toBe(1);
    expect(audit.stderr).toContain('DESTINATION_IN_DATA_FOLDER');
    expect(readFileSync(join(dataDir, 'audit', 'audit.log'), 'utf8')).not.toMatch(/^\[/);
    const bundle = await mkm(['support', 'bundle', '--out', join(dataDir, 'bundle.json')]);
    expect(bundle.code).toBe(1);
    expect(bundle.stderr).toContain('DESTINATION_IN_DATA_FOLDER');
  });

  it('refuses the data folder for an exchange package before anything is signed', async () => {
    const out = join(dataDir, 'package.mkmx');
    const refused = await mkm([
      'exchange',
      'export',
      '--kind',
      'registration',
      '--key',
      'any',
      '--signing-key',
      'any',
      '--out',
      out,
    ]);
    expect(refused.code).toBe(1);
    // The refusal names the folder, not a write failure, and comes before the login and the keys.
    expect(refused.stderr).toContain('DESTINATION_IN_DATA_FOLDER');
    expect(refused.stderr).not.toMatch(/IO_ERROR|NOT_LOGGED_IN|NOT_FOUND/);
  });

  it('replaces an existing export only with --force', async () => {
    const out = join(outDir, 'audit.json');
    writeFileSync(out, 'mine');
    const refused = await mkm(['audit', 'export', '--out', out]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('DESTINATION_EXISTS');
    expect(readFileSync(out, 'utf8')).toBe('mine');
    expect((await mkm(['audit', 'export', '--out', out, '--force'])).code).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toBeInstanceOf(Array);
  });
});
