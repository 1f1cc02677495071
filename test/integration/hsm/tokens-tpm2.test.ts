import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkmOn } from '../../helpers/mkm-cli';
import { tokenSuite } from '../../helpers/token-suite';
import { startTpm2Token, tpm2Unavailable, type Tpm2Token } from '../../helpers/tpm2';

/**
 * tpm2-pkcs11 (Debian libtpm2-pkcs11-1) on a software TPM (swtpm on 127.0.0.1, tpm2-abrmd on a
 * private D-Bus), all started and stopped here. What this token does differently: it makes only
 * token objects (the probe must not answer "no" for that), every RSA key it makes both signs and
 * decrypts (mkm's narrow templates are refused: KEY_TEMPLATE_REFUSED, or the admin's explicit
 * acceptance, audited), it takes and makes no secret keys, and it cannot unwrap.
 */
const unavailable = tpm2Unavailable();
if (unavailable) console.warn(`tpm2-pkcs11 suite skipped: ${unavailable}`);

describe.skipIf(unavailable !== null)('tpm2-pkcs11 on swtpm', () => {
  let tpm: Promise<Tpm2Token>;
  beforeAll(() => {
    tpm = startTpm2Token();
    tpm.catch(() => undefined);
  });
  afterAll(async () => (await tpm.catch(() => null))?.stop());

  describe('the suite every implementation passes', () => {
    tokenSuite(async () => {
      const t = await tpm;
      return {
        name: 'tpm2-pkcs11',
        modulePath: t.modulePath,
        slotId: t.slotId,
        userPin: t.userPin,
        env: t.env,
        pkcs11Tool: true,
        // The host's tpm2 processes are stopped by the outer afterAll.
        stop: () => {},
      };
    });
  });

  describe('mkm on the command line', () => {
    let dataDir: string;
    let token: Tpm2Token;
    const mkm = mkmOn(() => ({ dataDir, token: { modulePath: token.modulePath, slotId: token.slotId } }));

    beforeAll(async () => {
      token = await tpm;
      dataDir = mkdtempSync(join(tmpdir(), 'mkm-tpm2-cli-'));
    });
    afterAll(() => {
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it('names the usages the token insists on, keeps the key only when the admin accepts them, and audits it', async () => {
      const refused = await mkm(
        ['keys', 'generate', '--type', 'rsa-2048', '--label', 'tpm-transport'],
        token.userPin,
      );
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('[KEY_TEMPLATE_REFUSED]');
      expect(refused.stderr).toContain(
        'insists on decrypt on the private key, sign on the private key, encrypt on the public key, verify on the public key.',
      );
      expect(refused.stderr).toContain('--accept-wider-usage');
      // Nothing was kept.
      expect((await mkm(['keys', 'list'], token.userPin)).stdout).not.toContain('tpm-transport');

      const accepted = await mkm(
        ['keys', 'generate', '--type', 'rsa-2048', '--label', 'tpm-transport', '--accept-wider-usage'],
        token.userPin,
      );
      expect(accepted.stderr).toBe('');
      expect(accepted.stdout).toContain(
        'wider usage accepted (recorded in the audit log): private:decrypt, private:sign, public:encrypt, public:verify',
      );
      type Entry = { action: string; details?: Record<string, unknown> };
      const exported = JSON.parse(
        (await mkm(['audit', 'export', '--format', 'json'], token.userPin)).stdout,
      ) as Entry[] | { entries: Entry[] };
      const entries = Array.isArray(exported) ? exported : exported.entries;
      const wider = entries.filter((e) => e.action === 'key.generate.wider-usage');
      expect(wider).toHaveLength(1);
      expect(wider[0]!.details).toMatchObject({
        label: 'tpm-transport',
        purpose: 'gateway-transport',
        widerUsage: ['private:decrypt', 'private:sign', 'public:encrypt', 'public:verify'],
      });
    });

    it('seals the audit log with an RSASSA-PSS key, since the token makes no HMAC or AES key, and verify checks it', async () => {
      const verified = await mkm(['audit', 'verify'], token.userPin);
      expect(verified.stderr).toBe('');
      expect(verified.code).toBe(0);
      expect(verified.stdout).toContain('audit log OK');
      expect(verified.stdout).toContain('sealed with RSASSA-PSS (SHA-256) signature');
      type Entry = { action: string; details?: Record<string, unknown> };
      const exported = JSON.parse(
        (await mkm(['audit', 'export', '--format', 'json'], token.userPin)).stdout,
      ) as Entry[] | { entries: Entry[] };
      const entries = Array.isArray(exported) ? exported : exported.entries;
      const made = entries.filter((e) => e.action === 'audit.key.generate');
      expect(made).toHaveLength(1);
      // Why not HMAC nor CMAC, and the usage the token insisted on, are in the log.
      expect(made[0]!.details).toMatchObject({
        sealKind: 'rsa-pss',
        notPossible: [expect.stringMatching(/^HMAC-SHA256: /), expect.stringMatching(/^AES-CMAC: /)],
        widerUsage: ['private:decrypt', 'public:encrypt'],
      });
    });

    it('creates a managed signing key right after the login (keys create), with the wider usage accepted', async () => {
      // The token's empty slot (for a new token) carries the same serial as the one in use: the
      // lifecycle must find the logged-in token by its serial, not the empty slot.
      const r = await mkm(
        [
          'keys',
          'create',
          '--name',
          'tpm-signing',
          '--purpose',
          'signing',
          '--type',
          'rsa-2048',
          '--accept-wider-usage',
        ],
        token.userPin,
      );
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/spki-sha256 [0-9a-f]{16}/);
    });

    it('answers a secret key request with the specific code the probe predicts', async () => {
      const r = await mkm(['keys', 'generate', '--type', 'aes-256', '--label', 'tpm-aes'], token.userPin);
      expect(r.stderr).toContain('[MECHANISM_UNSUPPORTED]');
    });
  });
});
