import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type SandboxHandle } from '../../../electron/gateway/sandbox/server.nodejs';
import { gatewayAddArgs, mkmOn, type CliRun } from '../../helpers/mkm-cli';
import { findSecrets } from '../../helpers/scan';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { call, login, type Target } from '../sandbox/client';
import { hostTokenService } from '../../helpers/host-token-engine';

/**
 * The air-gapped key ceremony end to end, as two admins would run it with `mkm exchange`:
 * an offline machine (its own SoftHSM2 token and data folder, its gateway profile pointing at an
 * address nothing listens on) and an online machine (another token and data folder) in front of
 * the real sandbox gateway. Packages travel as files; nothing is uploaded or pinned unless the
 * file verifies against the signer fingerprint the receiving admin gives.
 */
const USER = 'ceremony';
const PASSWORD = 'air-gap pass 7731-q';
let sandbox: SandboxHandle;
let sandboxDir: string;
let work: string;
let offline: { token: SoftHsmToken; dataDir: string };
let online: { token: SoftHsmToken; dataDir: string };
let target: Target;

const offlineMkm = mkmOn(() => offline);
const onlineMkm = mkmOn(() => online, { MKM_GATEWAY_PASSWORD: PASSWORD });
const asOffline = (args: string[]) => offlineMkm(args, offline.token.userPin);
const asOnline = (args: string[]) => onlineMkm(args, online.token.userPin);

async function ok<T>(run: Promise<CliRun>): Promise<T> {
  const r = await run;
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

/** A refusal: exit 1 and one `mkm: ... [CODE]` line. */
async function refused(run: Promise<CliRun>, code: string): Promise<string> {
  const r = await run;
  expect(r.code, r.stdout + r.stderr).toBe(1);
  expect(r.stderr).toContain(`[${code}]`);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  return r.stderr;
}

/** RFC 8785 ordering written out again here, so the openssl check does not lean on mkm's code. */
function canon(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canon(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

const file = (name: string) => join(work, name);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const readPkg = (name: string): any => JSON.parse(readFileSync(file(name), 'utf8'));
/** `mkm exchange export` of a registration request for the offline transport key. */
const exportRegistration = (out: string, ...extra: string[]) => [
  'exchange',
  'export',
  '--kind',
  'registration',
  '--key',
  'transport',
  '--signing-key',
  'ceremony-signer',
  '--out',
  file(out),
  ...extra,
];

interface Summary {
  id: string;
  purpose: string;
  algorithm: string;
  signer: { spkiSha256: string };
  items: { kind: string; keyId?: string; spkiSha256?: string; wrapping?: string; kcv?: string }[];
}

let transportId: string;
let offlineSigner: string;
let offlineSignerId: string;

/** The bytes a format 2 signature covers, written out again here: the package but its signature value. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const signedPart = (pkg: any): string => {
  const { signature, ...rest } = pkg;
  return canon({ ...rest, signature: { alg: signature.alg } });
};

/** Signs bytes with the offline token's ceremony signer, as mkm would (for packages made wrong on purpose). */
async function offlineSign(
  data: string,
  mechanism: 'SHA256_RSA_PKCS_PSS' | 'SHA256_RSA_PKCS',
): Promise<string> {
  const svc = hostTokenService();
  await svc.loadModule({ path: offline.token.modulePath });
  try {
    await svc.login({ slotId: offline.token.slotId, pin: offline.token.userPin });
    const { signature } = await svc.sign({
      slotId: offline.token.slotId,
      id: offlineSignerId,
      mechanism,
      data: Buffer.from(data, 'utf8').toString('base64'),
    });
    return signature;
  } finally {
    await svc.unloadModule();
  }
}
let onlineSigner: string;

beforeAll(async () => {
  // The offline token is also opened in this process (to craft signed test packages), so its
  // SoftHSM2 configuration is the one this process uses.
  const offlineToken = createSoftHsmToken({ label: 'air-gapped', userPin: '5150-offline' });
  const onlineToken = createSoftHsmToken({ label: 'online', userPin: '5150-online', setProcessEnv: false });
  offline = { token: offlineToken, dataDir: mkdtempSync(join(tmpdir(), 'mkm-xchg-offline-')) };
  online = { token: onlineToken, dataDir: mkdtempSync(join(tmpdir(), 'mkm-xchg-online-')) };
  work = mkdtempSync(join(tmpdir(), 'mkm-xchg-files-'));
  sandboxDir = mkdtempSync(join(tmpdir(), 'mkm-xchg-sandbox-'));
  sandbox = await startSandbox({ port: 0, dataDir: sandboxDir, users: [{ name: USER, password: PASSWORD }] });
  target = { url: sandbox.url, caPem: sandbox.caPem, pin: sandbox.pin };
});

afterAll(async () => {
  await sandbox?.close();
  offline?.token.cleanup();
  online?.token.cleanup();
  for (const d of [offline?.dataDir, online?.dataDir, work, sandboxDir])
    if (d) rmSync(d, { recursive: true, force: true });
});

// Each step runs several mkm processes, each with its own token host: slow on a loaded machine.
describe(
  'mkm exchange: registration from an air-gapped token, gateway key back',
  { timeout: 180_000 },
  () => {
    it('the offline admin makes a transport key and a signing key, and exports a signed registration request', async () => {
      transportId = (
        await ok<{ id: string }>(
          asOffline([
            '--json',
            'keys',
            'generate',
            '--type',
            'rsa-2048',
            '--label',
            'transport',
            '--purpose',
            'gateway-transport',
          ]),
        )
      ).id;
      const signerKey = await ok<{ id: string; spkiSha256: string }>(
        asOffline([
          '--json',
          'keys',
          'generate',
          '--type',
          'rsa-3072',
          '--label',
          'ceremony-signer',
          '--purpose',
          'signing',
        ]),
      );
      offlineSigner = signerKey.spkiSha256;
      offlineSignerId = signerKey.id;

      const made = await ok<{ file: string; summary: Summary }>(
        asOffline(['--json', ...exportRegistration('req.mkmx')]),
      );
      expect(made.summary).toMatchObject({
        purpose: 'registration-request',
        // SoftHSM2 signs with PSS, so the stronger scheme is used.
        algorithm: 'RSASSA-PSS-SHA256',
        signer: { spkiSha256: offlineSigner },
        // SoftHSM2 2.6 unwraps OAEP with SHA-1 only; the probe finds that and the request says so.
        items: [{ kind: 'registration-request', keyId: transportId, wrapping: 'RSAES-OAEP-SHA1' }],
      });
      const again = await asOffline(exportRegistration('req.mkmx'));
      expect(again.stderr).toMatch(/already exists; add --force.*\[CONFLICT\]/);
    });

    it('refuses to sign with a key that is not a signing key', async () => {
      const stderr = await refused(
        asOffline([
          'exchange',
          'export',
          '--kind',
          'registration',
          '--key',
          'transport',
          '--signing-key',
          'transport',
          '--out',
          file('x.mkmx'),
        ]),
        'KEY_NOT_PERMITTED',
      );
      expect(stderr).toContain('--purpose signing');
    });

    it('the package holds public material only: no PIN, no private key', () => {
      const text = readFileSync(file('req.mkmx'), 'utf8');
      expect(text).not.toMatch(/PRIVATE/);
      expect(findSecrets([work], [offline.token.userPin, offline.token.soPin, PASSWORD])).toEqual([]);
    });

    it('its signature verifies with the openssl CLI over the canonical JSON (algorithm included), independent of mkm', () => {
      const pkg = readPkg('req.mkmx');
      const { signature, ...unsigned } = pkg;
      writeFileSync(file('canonical.json'), signedPart(pkg));
      // What format 1 signed: everything but the signature, so not the algorithm.
      writeFileSync(file('canonical-v1.json'), canon(unsigned));
      writeFileSync(file('sig.bin'), Buffer.from(signature.value, 'base64'));
      writeFileSync(file('signer.pem'), pkg.signer.spkiPem);
      const pss = [
        '-sigopt',
        'rsa_padding_mode:pss',
        '-sigopt',
        'rsa_pss_saltlen:32',
        '-sigopt',
        'rsa_mgf1_md:sha256',
      ];
      const args = (data: string) => [
        'dgst',
        '-sha256',
        ...pss,
        '-verify',
        file('signer.pem'),
        '-signature',
        file('sig.bin'),
        data,
      ];
      const good = spawnSync('openssl', args(file('canonical.json')), { encoding: 'utf8' });
      expect(good.stdout).toMatch(/Verified OK/);
      expect(readFileSync(file('canonical.json'), 'utf8')).toContain(
        '"signature":{"alg":"RSASSA-PSS-SHA256"}',
      );
      const withoutAlg = spawnSync('openssl', args(file('canonical-v1.json')), { encoding: 'utf8' });
      expect(withoutAlg.status).not.toBe(0);
      // The pretty-printed file itself is not what was signed.
      const bad = spawnSync('openssl', args(file('req.mkmx')), { encoding: 'utf8' });
      expect(bad.status).not.toBe(0);
    });

    it('a PKCS#1 v1.5 package (--alg pkcs1) verifies with plain openssl dgst -sha256 -verify', async () => {
      await ok(asOffline(['--json', ...exportRegistration('req-pkcs1.mkmx', '--alg', 'pkcs1')]));
      const pkg = readPkg('req-pkcs1.mkmx');
      expect(pkg.signature.alg).toBe('RSASSA-PKCS1-v1_5-SHA256');
      writeFileSync(file('canonical1.json'), signedPart(pkg));
      writeFileSync(file('sig1.bin'), Buffer.from(pkg.signature.value, 'base64'));
      writeFileSync(file('signer1.pem'), pkg.signer.spkiPem);
      const r = spawnSync(
        'openssl',
        [
          'dgst',
          '-sha256',
          '-verify',
          file('signer1.pem'),
          '-signature',
          file('sig1.bin'),
          file('canonical1.json'),
        ],
        { encoding: 'utf8' },
      );
      expect(r.stdout).toMatch(/Verified OK/);
    });

    it('every package expires: 7 days unless --expires says otherwise; one without expires, or in format 1, is refused though validly signed', async () => {
      const day = 86_400_000;
      const lifetime = (p: { created: string; expires: string }) =>
        Date.parse(p.expires) - Date.parse(p.created);
      expect(lifetime(readPkg('req.mkmx'))).toBe(7 * day);
      await ok(asOffline(['--json', ...exportRegistration('req-2d.mkmx', '--expires', '2')]));
      expect(lifetime(readPkg('req-2d.mkmx'))).toBe(2 * day);
      expect((await asOffline(exportRegistration('req-400d.mkmx', '--expires', '400'))).code).toBe(2);

      const { expires: _expires, ...noExpiry } = readPkg('req.mkmx');
      noExpiry.signature.value = await offlineSign(signedPart(noExpiry), 'SHA256_RSA_PKCS_PSS');
      writeFileSync(file('no-expiry.mkmx'), JSON.stringify(noExpiry, null, 2));
      const missing = await refused(
        asOnline(['exchange', 'verify', file('no-expiry.mkmx'), '--signer', offlineSigner]),
        'EXCHANGE_FORMAT_INVALID',
      );
      expect(missing).toContain('no expiry date');

      // Format 1, signed as format 1 signed (the algorithm outside the signed bytes).
      const { signature, ...v1 } = { ...readPkg('req.mkmx'), version: 1 };
      const v1pkg = {
        ...v1,
        signature: { alg: signature.alg, value: await offlineSign(canon(v1), 'SHA256_RSA_PKCS_PSS') },
      };
      writeFileSync(file('v1.mkmx'), JSON.stringify(v1pkg, null, 2));
      const old = await refused(
        asOnline(['exchange', 'verify', file('v1.mkmx'), '--signer', offlineSigner]),
        'EXCHANGE_VERSION_UNSUPPORTED',
      );
      expect(old).toContain('export it again');
    });

    it('PSS can be required: per call with --require-pss, or for the installation (confirmed, audited), and its exporter then signs PSS only', async () => {
      const verifyPkcs1 = (m: typeof asOffline, ...extra: string[]) =>
        m(['exchange', 'verify', file('req-pkcs1.mkmx'), '--signer', offlineSigner, ...extra]);
      expect((await verifyPkcs1(asOnline)).code).toBe(0);
      const perCall = await refused(verifyPkcs1(asOnline, '--require-pss'), 'EXCHANGE_ALGORITHM_REFUSED');
      expect(perCall).toContain('RSASSA-PKCS1-v1_5-SHA256');

      const shown = await asOffline(['exchange', 'policy']);
      expect(shown.stdout).toContain('RSASSA-PSS and PKCS#1 v1.5 accepted (default)');
      await refused(asOffline(['exchange', 'policy', '--require-pss']), 'CONFIRMATION_REQUIRED');
      const set = await ok<{ requirePss: boolean }>(
        asOffline(['--json', 'exchange', 'policy', '--require-pss', '--yes']),
      );
      expect(set.requirePss).toBe(true);
      await refused(verifyPkcs1(asOffline), 'EXCHANGE_ALGORITHM_REFUSED');
      expect(
        (await asOffline(['exchange', 'verify', file('req.mkmx'), '--signer', offlineSigner])).code,
      ).toBe(0);
      await refused(
        asOffline(exportRegistration('refused.mkmx', '--alg', 'pkcs1')),
        'EXCHANGE_ALGORITHM_REFUSED',
      );
      expect(existsSync(file('refused.mkmx'))).toBe(false);
      const pss = await ok<{ summary: Summary }>(
        asOffline(['--json', ...exportRegistration('pss-only.mkmx')]),
      );
      expect(pss.summary.algorithm).toBe('RSASSA-PSS-SHA256');

      await ok(asOffline(['--json', 'exchange', 'policy', '--allow-pkcs1', '--yes']));
      expect((await verifyPkcs1(asOffline)).code).toBe(0);
    });

    it('online: without a signer fingerprint the package is refused, signature valid but signer not trusted, and nothing reaches the gateway', async () => {
      await ok(
        asOnline([
          '--json',
          ...gatewayAddArgs({
            name: 'Sandbox',
            id: 'sandbox',
            url: sandbox.url,
            user: USER,
            pin: sandbox.pin,
            keyRolling: true,
          }),
        ]),
      );
      const verify = await refused(
        asOnline(['exchange', 'verify', file('req.mkmx')]),
        'EXCHANGE_SIGNER_UNTRUSTED',
      );
      expect(verify).toContain('signature is valid');
      expect(verify).toContain(offlineSigner.match(/../g)!.join(':'));
      await refused(
        asOnline(['exchange', 'import', file('req.mkmx'), '--profile', 'sandbox']),
        'EXCHANGE_SIGNER_UNTRUSTED',
      );
      await refused(
        asOnline([
          'exchange',
          'import',
          file('req.mkmx'),
          '--profile',
          'sandbox',
          '--signer',
          onlineSignerPlaceholder(),
        ]),
        'EXCHANGE_SIGNER_UNTRUSTED',
      );
      const bearer = await login(target, USER, PASSWORD);
      const keys = await call(target, 'GET', '/v1/encryption/merchant_keys', { token: bearer });
      expect(keys.body.keys).toEqual([]);
    });

    it('online: verified against the fingerprint the offline admin read out, then uploaded; new key sets are wrapped for the air-gapped token', async () => {
      const human = await asOnline([
        'exchange',
        'verify',
        file('req.mkmx'),
        '--signer',
        offlineSigner.toUpperCase().match(/../g)!.join(':'),
      ]);
      expect(human.code, human.stderr).toBe(0);
      expect(human.stdout).toContain('VERIFIED: signature valid, signer is the expected fingerprint');
      expect(human.stdout).toContain(`registration request  ${transportId}`);

      const imported = await ok<{ registrations: { keyId: string; created: boolean; wrapping: string }[] }>(
        asOnline([
          '--json',
          'exchange',
          'import',
          file('req.mkmx'),
          '--signer',
          offlineSigner,
          '--profile',
          'sandbox',
        ]),
      );
      expect(imported.registrations).toEqual([
        expect.objectContaining({
          keyId: transportId,
          created: true,
          wrapping: 'RSAES-OAEP-SHA1',
          status: 'active',
        }),
      ]);
      // The same package again is a replay: refused, even though it still verifies.
      const replay = await refused(
        asOnline(['exchange', 'import', file('req.mkmx'), '--signer', offlineSigner, '--profile', 'sandbox']),
        'EXCHANGE_REPLAYED',
      );
      expect(replay).toContain(`This package (${readPkg('req.mkmx').id}) was already imported here at`);
      expect((await asOnline(['exchange', 'verify', file('req.mkmx'), '--signer', offlineSigner])).code).toBe(
        0,
      );
      // Re-indented, it is still the same package (the id is what is remembered, not the bytes).
      writeFileSync(file('req-reindented.mkmx'), JSON.stringify(readPkg('req.mkmx')));
      await refused(
        asOnline([
          'exchange',
          'import',
          file('req-reindented.mkmx'),
          '--signer',
          offlineSigner,
          '--profile',
          'sandbox',
        ]),
        'EXCHANGE_REPLAYED',
      );

      const bearer = await login(target, USER, PASSWORD);
      const set = (await call(target, 'POST', '/v1/encryption/key_sets', { token: bearer, json: {} })).body
        .next_key_set;
      expect(set.wrapping_key_id).toBe(transportId);
      // The air-gapped token unwraps it with the transport key that never left it, and the KCV matches.
      const svc = hostTokenService();
      await svc.loadModule({ path: offline.token.modulePath });
      try {
        await svc.login({ slotId: offline.token.slotId, pin: offline.token.userPin });
        const enc = await svc.unwrapKey({
          slotId: offline.token.slotId,
          unwrappingKeyId: transportId,
          mechanism: 'RSA_OAEP_SHA1',
          wrapped: set.enc_key,
          keyType: 'aes-256',
          label: 'set-enc',
          token: false,
        });
        expect(enc.kcv).toBe(set.enc_kcv);
      } finally {
        await svc.unloadModule();
      }
    });

    let gatewayFingerprint: string;

    it('online: exports the pinned gateway key with the registration receipt, signed by its own signing key', async () => {
      onlineSigner = (
        await ok<{ spkiSha256: string }>(
          asOnline([
            '--json',
            'keys',
            'generate',
            '--type',
            'rsa-3072',
            '--label',
            'online-signer',
            '--purpose',
            'signing',
          ]),
        )
      ).spkiSha256;
      // The same export, refused before the gateway key is fetched and made after.
      const exportGatewayKey = [
        'exchange',
        'export',
        '--kind',
        'gateway-key',
        '--profile',
        'sandbox',
        '--signing-key',
        'online-signer',
        '--out',
        file('gw.mkmx'),
      ];
      await refused(asOnline(exportGatewayKey), 'NOT_FOUND');
      gatewayFingerprint = (
        await ok<{ pinned: { spkiSha256: string } }>(
          asOnline(['--json', 'gateway', 'fetch-key', '--profile', 'sandbox']),
        )
      ).pinned.spkiSha256;
      const made = await ok<{ summary: Summary }>(asOnline(['--json', ...exportGatewayKey]));
      expect(made.summary.items).toEqual([
        expect.objectContaining({ kind: 'gateway-key', spkiSha256: gatewayFingerprint }),
        expect.objectContaining({ kind: 'registration-receipt', keyId: transportId, status: 'active' }),
      ]);
    });

    it('offline: imports the gateway key without any network (its profile points nowhere) and pins it', async () => {
      const padding: string = readPkg('gw.mkmx').items[0].padding;
      const cse = padding === 'RSAES-OAEP-SHA256' ? 'oaep' : 'pkcs1';
      const add = (id: string, mode: string) =>
        ok(
          asOffline([
            '--json',
            'gateway',
            'add',
            '--password-env',
            'MKM_GATEWAY_PASSWORD',
            '--name',
            id,
            '--id',
            id,
            '--url',
            'https://127.0.0.1:9',
            '--user',
            USER,
            '--cse',
            mode,
          ]),
        );
      await add('sandbox', cse);
      // A profile that would use the gateway's key with another padding is not given it.
      await add('other-padding', cse === 'oaep' ? 'pkcs1' : 'oaep');
      const conflict = await refused(
        asOffline([
          'exchange',
          'import',
          file('gw.mkmx'),
          '--profile',
          'other-padding',
          '--signer',
          onlineSigner,
        ]),
        'CONFLICT',
      );
      expect(conflict).toContain(`The gateway uses this key with ${padding}`);
      const untouched = await ok<{ gatewayKey: { status: string } }>(
        asOffline(['--json', 'gateway', 'status', 'other-padding']),
      );
      expect(untouched.gatewayKey.status).toBe('none');
      await refused(
        asOffline(['exchange', 'import', file('gw.mkmx'), '--profile', 'sandbox']),
        'EXCHANGE_SIGNER_UNTRUSTED',
      );
      // A package of another purpose than the admin expects is refused.
      await refused(
        asOffline([
          'exchange',
          'import',
          file('gw.mkmx'),
          '--profile',
          'sandbox',
          '--signer',
          onlineSigner,
          '--expect',
          'registration-request',
        ]),
        'EXCHANGE_KIND_REFUSED',
      );
      const imported = await asOffline([
        'exchange',
        'import',
        file('gw.mkmx'),
        '--profile',
        'sandbox',
        '--signer',
        onlineSigner,
      ]);
      expect(imported.code, imported.stderr).toBe(0);
      expect(imported.stdout).toContain(
        `gateway key      pinned for sandbox: spki-sha256 ${gatewayFingerprint}`,
      );
      const status = await ok<{
        gatewayKey: { status: string; pinned: { spkiSha256: string; source: string } };
      }>(asOffline(['--json', 'gateway', 'status', 'sandbox']));
      expect(status.gatewayKey).toMatchObject({
        status: 'pinned',
        pinned: { spkiSha256: gatewayFingerprint, source: 'imported' },
      });
    });

    it('trusted signers: added only with --yes, then packages verify without --signer; removed, they no longer do', async () => {
      await refused(
        asOffline(['exchange', 'trust', onlineSigner, '--name', 'Online desk']),
        'CONFIRMATION_REQUIRED',
      );
      await ok(asOffline(['--json', 'exchange', 'trust', onlineSigner, '--name', 'Online desk', '--yes']));
      const v = await asOffline(['exchange', 'verify', file('gw.mkmx')]);
      expect(v.code, v.stderr).toBe(0);
      expect(v.stdout).toContain('signer trusted here as "Online desk"');
      const list = await ok<{ spkiSha256: string; name: string }[]>(
        asOffline(['--json', 'exchange', 'signers']),
      );
      expect(list).toEqual([expect.objectContaining({ spkiSha256: onlineSigner, name: 'Online desk' })]);
      // Trusting the online signer does not make the offline machine's own packages trusted.
      await refused(asOffline(['exchange', 'verify', file('req.mkmx')]), 'EXCHANGE_SIGNER_UNTRUSTED');
      await ok(asOffline(['--json', 'exchange', 'untrust', onlineSigner, '--yes']));
      await refused(asOffline(['exchange', 'verify', file('gw.mkmx')]), 'EXCHANGE_SIGNER_UNTRUSTED');
    });

    it('every exchange step is in the audit log, refusals with their code', async () => {
      const r = await asOffline(['audit', 'export', '--format', 'json']);
      expect(r.code, r.stderr).toBe(0);
      const text = r.stdout;
      for (const action of [
        'exchange.export',
        'exchange.import',
        'exchange.verify',
        'exchange.signer.trust',
        'exchange.signer.untrust',
        'exchange.policy.set',
      ]) {
        expect(text).toContain(`"${action}"`);
      }
      expect(text).toContain('EXCHANGE_SIGNER_UNTRUSTED');
      expect(text).not.toMatch(/BEGIN PUBLIC KEY|PRIVATE/);
      const onlineAudit = await asOnline(['audit', 'export', '--format', 'json']);
      expect(onlineAudit.stdout).toContain('"exchange.registration.upload"');
      // The upload's own gateway sign-in is audited like the gateway client's.
      expect(onlineAudit.stdout).toMatch(/"via":\s*"exchange.import"/);
    });

    it('no PIN or gateway password in any file either machine wrote (data folders, logs, packages)', () => {
      const secrets = [
        offline.token.userPin,
        offline.token.soPin,
        online.token.userPin,
        online.token.soPin,
        PASSWORD,
      ];
      expect(findSecrets([work, offline.dataDir, online.dataDir], secrets)).toEqual([]);
    });
  },
);

/** A well-formed fingerprint that is nobody's: what an admin gets when reading the wrong one. */
function onlineSignerPlaceholder(): string {
  return 'ab'.repeat(32);
}
