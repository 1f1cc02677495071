import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SupportBundlePreview, SupportBundleWritten } from '../../../shared/contract/troubleshoot.std';
import { mkmOn } from '../../helpers/mkm-cli';
import { findSecrets } from '../../helpers/scan';
import { createDiagnoseHarness, PASSWORD, rsaEncrypt, type DiagnoseHarness } from './diagnose-harness';

/**
 * The support bundle after known secrets went through the app for real: a PAN and a CVV (pasted
 * into the troubleshooter in clear and encrypted, and through the console's encrypt when it is
 * there), the user PIN (a login) and a wrong PIN (a failed login), the gateway password (sign-ins
 * to two gateways), and a clear AES key imported on the token. None of them may appear in the
 * bundle, as typed, as hex or as base64; what support needs (module, token, audit, profiles,
 * recent problems, the last diagnoses) must.
 */

let h: DiagnoseHarness;
let outDir: string;
const PAN = '4012888888881881';
const CVV = '739';
const WRONG_PIN = 'wrong-Pin-97531';
const CLEAR_KEY = '8f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0';
/** Long enough to scan for anywhere; the 3-digit CVV is looked for as a value of its own. */
let long: string[];
/** String values that hold the CVV as a token of its own (digits inside hex or times are chance). */
function cvvIn(content: string): string[] {
  const found: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string' && new RegExp(`(^|[^0-9A-Za-z])${CVV}([^0-9A-Za-z]|$)`).test(v))
      found.push(v.slice(0, 40));
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(JSON.parse(content));
  return found;
}

beforeAll(async () => {
  h = await createDiagnoseHarness();
  outDir = mkdtempSync(join(tmpdir(), 'mkm-bundle-out-'));
  long = [PAN, h.token.userPin, WRONG_PIN, PASSWORD, CLEAR_KEY];

  const wrong = await h
    .call('tokens.logout', { slotId: h.token.slotId })
    .then(() => h.call('tokens.login', { slotId: h.token.slotId, pin: WRONG_PIN }));
  expect(wrong.ok ? 'ok' : wrong.error.code).toBe('PIN_INCORRECT');
  await h.ok('tokens.login', { slotId: h.token.slotId, pin: h.token.userPin });

  await h.app.tokens.call('importKey', {
    slotId: h.token.slotId,
    type: 'aes-256',
    label: 'imported-clear',
    purpose: 'data',
    keyHex: CLEAR_KEY,
  });
  const pem = h.pinnedPem('sandbox');
  await h.diagnose(JSON.stringify({ credit_card: { number: PAN }, csc: CVV }), 'sandbox');
  await h.diagnose(
    JSON.stringify({
      credit_card: { encrypted_number: rsaEncrypt(pem, PAN).toString('base64') },
      encrypted_csc: rsaEncrypt(pem, CVV).toString('base64'),
    }),
    'sandbox',
  );
  await h.diagnose(rsaEncrypt(h.encryptionKey.pem, PAN).toString('base64'));
  await h.diagnose(`card ${PAN} cvv ${CVV}`);
  // A private key pasted by mistake: diagnosed as a secret, kept nowhere.
  const privatePem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
  await h.diagnose(privatePem);
  long.push(privatePem.split('\n')[5]!);
  // The console's own encryption, where that domain is wired (best effort: another engineer's).
  await h.call('console.encrypt', {
    profileId: 'sandbox',
    fields: { number: PAN, expiration: '12/30', csc: CVV },
  });
  await h.ok('gateway.ping', { profileId: 'sandbox' });
}, 180_000);

afterAll(async () => {
  await h?.close();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

describe('the support bundle', () => {
  let preview: SupportBundlePreview;

  it('previews one JSON document with every section support needs', async () => {
    preview = await h.ok<SupportBundlePreview>('support.preview');
    const bundle = JSON.parse(preview.content) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(preview.sections).toEqual([
      'format',
      'version',
      'createdAt',
      'notice',
      'app',
      'module',
      'tokens',
      'recentProblems',
      'audit',
      'gateway',
      'diagnoses',
    ]);
    expect(bundle.module.info.manufacturer).toMatch(/SoftHSM/);
    const slot = bundle.tokens.find(
      (s: { token: { label: string } | null }) => s.token?.label === 'diagnose',
    );
    expect(slot.token).toMatchObject({
      label: 'diagnose',
      model: expect.any(String),
      flags: expect.objectContaining({ loginRequired: true }),
    });
    expect(slot.capabilities).not.toHaveProperty('unavailable');
    expect(bundle.audit.entries.map((e: { action: string }) => e.action)).toEqual(
      expect.arrayContaining(['token.login', 'console.diagnose', 'console.diagnose.oracle']),
    );
    expect(bundle.gateway.map((p: { id: string }) => p.id).sort()).toEqual(['production', 'sandbox']);
    expect(
      bundle.gateway.find((p: { id: string }) => p.id === 'sandbox').gatewayKey.pinned.spkiSha256,
    ).toMatch(/^[0-9a-f]{16}…$/);
    expect(bundle.diagnoses.length).toBeGreaterThanOrEqual(4);
    expect(bundle.diagnoses[0].codes).toEqual(expect.any(Array));
    expect(
      bundle.recentProblems.some((r: { level: string }) => r.level === 'warn' || r.level === 'error'),
    ).toBe(true);
  });

  it('holds no PAN, CVV, PIN, password or key in clear, hex or base64', () => {
    const file = join(outDir, 'preview.json');
    writeFileSync(file, preview.content);
    expect(findSecrets([outDir], long)).toEqual([]);
    expect(cvvIn(preview.content)).toEqual([]);
    rmSync(file);
    // The scan is live: it does find a secret that is there.
    writeFileSync(file, JSON.stringify({ leak: Buffer.from(PAN).toString('base64') }));
    expect(findSecrets([outDir], [PAN])).toHaveLength(1);
    rmSync(file);
  });

  it('writes exactly what it previewed, and never over an existing file unless asked', async () => {
    const out = join(outDir, 'bundle.json');
    const written = await h.ok<SupportBundleWritten>('support.write', { outPath: out });
    expect(readFileSync(out, 'utf8')).toBe(preview.content);
    expect(written).toMatchObject({ outPath: out, bytes: preview.bytes, sha256: preview.sha256 });
    const again = await h.call('support.write', { outPath: out });
    expect(again.ok ? 'ok' : again.error.code).toBe('DESTINATION_EXISTS');
    expect((await h.call('support.write', { outPath: out, overwrite: true })).ok).toBe(true);
    const relative = await h.call('support.write', { outPath: 'bundle.json' });
    expect(relative.ok ? 'ok' : relative.error.code).toBe('VALIDATION');
    expect(findSecrets([outDir], long)).toEqual([]);
    expect(cvvIn(readFileSync(out, 'utf8'))).toEqual([]);
    // Nor anywhere else the app wrote: log, audit log, gateway state, capability cache.
    expect(findSecrets([h.dataDir], long)).toEqual([]);
  });

  it('is written by the CLI, previewed without writing, and diagnosed inputs exit 0', async () => {
    await h.app.close();
    const mkm = mkmOn(() => ({ dataDir: h.dataDir, token: h.token }), { MKM_GATEWAY_PASSWORD: PASSWORD });
    const out = join(outDir, 'cli-bundle.json');
    const previewRun = await mkm(['support', 'bundle', '--out', out, '--preview']);
    expect(previewRun.code).toBe(0);
    expect(JSON.parse(previewRun.stdout).format).toBe('mkm-support-bundle');
    expect(existsSync(out)).toBe(false);
    const run = await mkm(['--json', 'support', 'bundle', '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).outPath).toBe(out);
    expect((await mkm(['support', 'bundle', '--out', out])).code).toBe(1);

    const broken = join(outDir, 'broken.txt');
    writeFileSync(
      broken,
      rsaEncrypt(h.pinnedPem('sandbox'), PAN).toString('base64').replace(/\+/g, '-').replace(/\//g, '_'),
    );
    const diag = await mkm(
      ['--json', 'console', 'diagnose', '--in', broken, '--profile', 'sandbox'],
      h.token.userPin,
    );
    expect(diag.code, diag.stderr).toBe(0);
    expect(JSON.parse(diag.stdout).findings[0].code).toBe('BASE64URL');
    const human = await mkm(['console', 'diagnose', '--in', broken, '--profile', 'sandbox']);
    expect(human.stdout).toMatch(/ERROR {2}URL-safe base64 instead of standard base64 \[BASE64URL\]/);
    expect((await mkm(['console', 'diagnose', '--in', join(outDir, 'missing.txt')])).code).toBe(1);
    expect(findSecrets([outDir], long)).toEqual([]);
    expect(cvvIn(readFileSync(out, 'utf8'))).toEqual([]);
  }, 120_000);
});
