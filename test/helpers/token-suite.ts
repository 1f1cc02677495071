import { execFile } from 'node:child_process';
import {
  constants,
  createDecipheriv,
  createPublicKey,
  createVerify,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../shared/errors.std';
import { MkmError } from '../../shared/errors.std';
import { aesCmacKcv } from '../../electron/crypto/kcv.nodejs';
import type { TokenEngine } from '../../electron/hsm/pkcs11/token-engine.host';
import type {
  CapabilitiesResult,
  CapabilityName,
  SecretKeyType,
  WrapMechanism,
} from '../../shared/tokens.std';
import { hostTokenService } from './host-token-engine';

/**
 * One suite for every PKCS#11 implementation mkm is tested on (SoftHSM2, openCryptoki, NSS
 * softokn, tpm2-pkcs11): the probe must tell the truth, and every operation mkm does must either
 * work or be refused with a specific code, exactly as the probe predicted. Where the token has a
 * tool of its own that lists mechanisms (`pkcs11-tool -M`), the probe may claim nothing the tool
 * does not list.
 */
export interface TokenUnderTest {
  name: string;
  modulePath: string;
  libraryParameters?: string;
  slotId: number;
  /** Absent for a token that needs no login. */
  userPin?: string;
  /** Environment for the token's own tools. */
  env: NodeJS.ProcessEnv;
  /** Whether `pkcs11-tool --module` can load it (NSS needs parameters pkcs11-tool cannot pass). */
  pkcs11Tool: boolean;
  /**
   * The security officer makes a wrap-only AES KEK with CKA_TRUSTED, as with the token's own tools
   * (test/helpers/trusted-kek.ts). Absent where no SO can make one that mkm may trust.
   */
  trustedKek?: (options: { idHex: string; label: string; value: Buffer }) => void;
  /** Capabilities the token's own tools were seen doing (NSS: certutil -G makes an RSA-2048 pair). */
  toolSays?: CapabilityName[];
  stop(): Promise<void> | void;
}

/** The codes that tell an admin precisely why an operation is not available on this token. */
export const SPECIFIC_REFUSALS: readonly ErrorCode[] = [
  'MECHANISM_UNSUPPORTED',
  'MECHANISM_PARAM_INVALID',
  'KEY_TEMPLATE_REFUSED',
  'TEMPLATE_INVALID',
  'CAPABILITY_MISSING',
  'KEY_SIZE_RANGE',
  'KEY_NOT_PERMITTED',
  'KEY_TYPE_INCONSISTENT',
];

const run = promisify(execFile);

/** pkcs11-tool's mechanism names (and mechtype-0x... for unnamed ones) → values and flags. */
const TOOL_NAMES: Record<string, number> = {
  'RSA-PKCS-KEY-PAIR-GEN': 0x0,
  'RSA-PKCS': 0x1,
  'RSA-PKCS-OAEP': 0x9,
  'SHA256-RSA-PKCS': 0x40,
  'SHA256-HMAC': 0x251,
  'AES-KEY-GEN': 0x1080,
  'AES-CBC-PAD': 0x1085,
  'AES-CMAC': 0x108a,
  'AES-KEY-WRAP': 0x2109,
  'AES-KEY-WRAP-PAD': 0x210a,
  'AES-KEY-WRAP-KWP': 0x210b,
};

export async function toolMechanisms(t: TokenUnderTest): Promise<Map<number, Set<string>>> {
  const { stdout } = await run('pkcs11-tool', ['--module', t.modulePath, '--slot', String(t.slotId), '-M'], {
    env: t.env,
  });
  const out = new Map<number, Set<string>>();
  for (const line of stdout.split('\n')) {
    const m = /^\s+([A-Za-z0-9_-]+)(?:,|\s*$)(.*)$/.exec(line);
    if (!m) continue;
    const hex = /^mechtype-0x([0-9a-f]+)$/i.exec(m[1]!);
    const value = hex ? parseInt(hex[1]!, 16) : TOOL_NAMES[m[1]!];
    if (value === undefined) continue;
    const flags = new Set(m[2]!.split(',').map((f) => f.trim()));
    out.set(value, flags);
  }
  return out;
}

/** What the token's tool must list (mechanism and usage flag) for the probe to say yes. */
export const CAPABILITY_MECHANISMS: Partial<Record<CapabilityName, [number[], string]>> = {
  aes256Generate: [[0x1080], 'generate'],
  aesCbcPad: [[0x1085], 'encrypt'],
  aesCmac: [[0x108a], 'sign'],
  aesKeyWrap: [[0x2109], 'wrap'],
  aesKeyWrapPad: [[0x210a, 0x210b], 'wrap'],
  hmacSha256: [[0x251], 'sign'],
  rsa2048Generate: [[0x0], 'generate_key_pair'],
  rsa3072Generate: [[0x0], 'generate_key_pair'],
  rsa4096Generate: [[0x0], 'generate_key_pair'],
  rsaOaepSha1Encrypt: [[0x9], 'decrypt'],
  rsaOaepSha256Encrypt: [[0x9], 'decrypt'],
  rsaOaepSha1Unwrap: [[0x9], 'unwrap'],
  rsaOaepSha256Unwrap: [[0x9], 'unwrap'],
  rsaPkcs1Encrypt: [[0x1], 'decrypt'],
  rsaSha256Sign: [[0x40], 'sign'],
};

async function outcome<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: MkmError }> {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    if (error instanceof MkmError) return { ok: false, error };
    throw error;
  }
}

export function tokenSuite(start: () => Promise<TokenUnderTest>): void {
  let t: TokenUnderTest;
  let svc: TokenEngine;
  let caps: CapabilitiesResult;
  const slot = () => t.slotId;

  let ready: Promise<void>;
  // Set-up that fails must fail the tests, not skip them (a failing hook reports its tests as
  // skipped): the hook starts the work, every test awaits it.
  beforeAll(() => {
    ready = setUp();
    ready.catch(() => undefined);
  });
  async function setUp(): Promise<void> {
    t = await start();
    svc = hostTokenService();
    await svc.loadModule({
      path: t.modulePath,
      ...(t.libraryParameters ? { libraryParameters: t.libraryParameters } : {}),
    });
    await svc.login(t.userPin ? { slotId: slot(), pin: t.userPin } : { slotId: slot() });
    const before = await svc.listObjects({ slotId: slot() });
    caps = await svc.probeCapabilities({ slotId: slot() });
    // The probe removes what it made, token objects included.
    expect(await svc.listObjects({ slotId: slot() })).toEqual(before);
  }

  afterAll(async () => {
    await ready?.catch(() => undefined);
    await svc?.unloadModule();
    await t?.stop();
  });

  describe('the probe tells the truth', () => {
    it('gives every "no" a reason in words, never a raw CKR name', async () => {
      await ready;
      for (const [name, c] of Object.entries(caps.capabilities)) {
        if (c.supported) continue;
        expect(c.reason, name).toBeTruthy();
        expect(c.reason, name).not.toMatch(/CKR_|0x[0-9a-f]{2,}/i);
      }
    });

    it('never contradicts itself on RSA sizes', async () => {
      await ready;
      const sizes = [
        caps.capabilities.rsa2048Generate,
        caps.capabilities.rsa3072Generate,
        caps.capabilities.rsa4096Generate,
      ];
      // A size may be refused for its size alone; otherwise every size shares one answer.
      const notBySize = sizes.filter((c) => !/makes RSA keys of \d+ to \d+ bits/.test(c.reason ?? ''));
      expect(new Set(notBySize.map((c) => c.supported)).size).toBeLessThanOrEqual(1);
    });

    it("says yes to what the token's own tools were seen doing", async () => {
      await ready;
      for (const name of t.toolSays ?? [])
        expect(caps.capabilities[name], name).toMatchObject({ supported: true });
    });

    it("claims nothing the token's own tool does not list", async ({ skip }) => {
      await ready;
      if (!t.pkcs11Tool) skip('pkcs11-tool cannot pass this library its parameters');
      const listed = await toolMechanisms(t);
      for (const [name, [mechs, flag]] of Object.entries(CAPABILITY_MECHANISMS)) {
        if (!caps.capabilities[name as CapabilityName].supported) continue;
        const offered = mechs.some((m) => listed.get(m)?.has(flag));
        expect(
          offered,
          `${name}: probe says yes, pkcs11-tool -M lists no ${mechs.map((m) => m.toString(16))} with ${flag}`,
        ).toBe(true);
      }
    });
  });

  describe('every operation works or is refused with a specific code, as the probe said', () => {
    const can = (...names: CapabilityName[]) => names.every((n) => caps.capabilities[n].supported);
    /** The operation must work when the probe says so, and be refused specifically otherwise. */
    async function expectAsProbed<T>(needs: CapabilityName[], op: Promise<T>): Promise<T | null> {
      const r = await outcome(op);
      if (can(...needs)) {
        if (!r.ok) throw new Error(`${needs.join('+')} probed yes, but: ${r.error.code} ${r.error.message}`);
        return r.value;
      }
      if (r.ok) throw new Error(`${needs.join('+')} probed no, but the operation worked`);
      expect(SPECIFIC_REFUSALS, `${needs.join('+')}: ${r.error.code} ${r.error.message}`).toContain(
        r.error.code,
      );
      return null;
    }
    const genSecret = (type: SecretKeyType, purpose: 'data' | 'kek' | 'hmac', exportable = false) =>
      svc.generateKey({
        slotId: slot(),
        type,
        label: `suite-${purpose}`,
        purpose,
        ...(exportable ? { exportable } : {}),
      });

    it('AES-256: generate, KCV (CMAC), CBC-PAD both ways', async () => {
      await ready;
      const key = await expectAsProbed(['aes256Generate'], genSecret('aes-256', 'data'));
      if (!key) return;
      const kcv = await expectAsProbed(['aesCmac'], svc.kcv({ slotId: slot(), id: key.id }));
      if (kcv) expect(kcv.kcv).toMatch(/^[0-9a-f]{6}$/);
      const iv = randomBytes(16).toString('base64');
      const data = randomBytes(45).toString('base64');
      const enc = await expectAsProbed(
        ['aesCbcPad'],
        svc.encrypt({ slotId: slot(), id: key.id, mechanism: 'AES_CBC_PAD', iv, data }),
      );
      if (!enc) return;
      const dec = await svc.decrypt({
        slotId: slot(),
        id: key.id,
        mechanism: 'AES_CBC_PAD',
        iv,
        data: enc.data,
      });
      expect(dec.data).toBe(data);
    });

    it('HMAC-SHA256: generate, sign, verify', async () => {
      await ready;
      const key = await expectAsProbed(['hmacSha256'], genSecret('hmac-256', 'hmac'));
      if (!key) return;
      const data = randomBytes(20).toString('base64');
      const { mac } = await svc.hmacSign({ slotId: slot(), id: key.id, data });
      expect((await svc.hmacVerify({ slotId: slot(), id: key.id, data, mac })).valid).toBe(true);
    });

    it('an exportable key: made only where export is restricted to trusted KEKs, wrapped only under one, and back', async () => {
      await ready;
      if (!can('aes256Generate')) return; // the AES test above shows how generation is refused
      const data = await expectAsProbed(['wrapWithTrusted'], genSecret('aes-256', 'data', true));
      if (!data) return;
      // An ordinary KEK, even one of the user's own, never takes it out.
      const kek = await genSecret('aes-256', 'kek');
      for (const mechanism of ['AES_KEY_WRAP', 'AES_KEY_WRAP_PAD'] as const) {
        const r = await outcome(
          svc.wrapKey({ slotId: slot(), wrappingKeyId: kek.id, keyId: data.id, mechanism }),
        );
        expect(r.ok ? 'wrapped' : r.error.code, mechanism).toBe('KEY_WRAP_UNTRUSTED');
      }
      if (!t.trustedKek) return; // no SO-made KEK: nothing else may take it out either
      const kekValue = randomBytes(32);
      const trusted = randomBytes(16).toString('hex');
      t.trustedKek({ idHex: trusted, label: 'suite-trusted-kek', value: kekValue });
      for (const [cap, mechanism, cipher, iv] of [
        ['aesKeyWrap', 'AES_KEY_WRAP', 'id-aes256-wrap', 'a6a6a6a6a6a6a6a6'],
        ['aesKeyWrapPad', 'AES_KEY_WRAP_PAD', 'id-aes256-wrap-pad', 'a65959a6'],
      ] as [CapabilityName, WrapMechanism, string, string][]) {
        const wrapped = await expectAsProbed(
          [cap],
          svc.wrapKey({ slotId: slot(), wrappingKeyId: trusted, keyId: data.id, mechanism }),
        );
        if (!wrapped) continue;
        // Back where the KEK's value is known (the escrow side): the key whose KCV the token gave.
        const d = createDecipheriv(cipher, kekValue, Buffer.from(iv, 'hex'));
        const value = Buffer.concat([d.update(Buffer.from(wrapped.wrapped, 'base64')), d.final()]);
        expect(aesCmacKcv(value), mechanism).toBe(data.kcv!.kcv);
      }
    });

    it('RSA-2048 signing key: generate (accepting wider usage only when the token insists), sign, CSR', async () => {
      await ready;
      const narrow = await outcome(
        svc.generateKey({ slotId: slot(), type: 'rsa-2048', label: 'suite-sign', purpose: 'signing' }),
      );
      let key = narrow.ok ? narrow.value : null;
      if (!narrow.ok) {
        if (!can('rsa2048Generate')) {
          expect(SPECIFIC_REFUSALS).toContain(narrow.error.code);
          return;
        }
        expect(narrow.error.code).toBe('KEY_TEMPLATE_REFUSED');
        expect(narrow.error.details?.refused).toEqual(
          expect.arrayContaining([expect.stringMatching(/^(private|public):/)]),
        );
        key = await svc.generateKey({
          slotId: slot(),
          type: 'rsa-2048',
          label: 'suite-sign',
          purpose: 'signing',
          acceptWiderUsage: true,
        });
        expect(key.widerUsage).toEqual(narrow.error.details?.refused);
      } else {
        expect(can('rsa2048Generate')).toBe(true);
      }
      const data = Buffer.from('mkm token suite');
      const sig = await expectAsProbed(
        ['rsaSha256Sign'],
        svc.sign({
          slotId: slot(),
          id: key!.id,
          mechanism: 'SHA256_RSA_PKCS',
          data: data.toString('base64'),
        }),
      );
      if (!sig) return;
      const { pem } = await svc.exportPublicKey({ slotId: slot(), id: key!.id, format: 'pem' });
      expect(createVerify('sha256').update(data).verify(pem!, Buffer.from(sig.signature, 'base64'))).toBe(
        true,
      );
      const csr = await svc.createCsr({ slotId: slot(), id: key!.id, subject: { commonName: 'suite' } });
      expect(csr.pem).toContain('BEGIN CERTIFICATE REQUEST');
    });

    it('RSA encryption key: OAEP and PKCS#1 v1.5 both ways', async () => {
      await ready;
      if (!can('rsa2048Generate')) return; // the signing test shows how generation is refused
      const made = await outcome(
        svc.generateKey({ slotId: slot(), type: 'rsa-2048', label: 'suite-enc', purpose: 'encryption' }),
      );
      const key = made.ok
        ? made.value
        : await svc.generateKey({
            slotId: slot(),
            type: 'rsa-2048',
            label: 'suite-enc',
            purpose: 'encryption',
            acceptWiderUsage: true,
          });
      for (const [cap, mechanism] of [
        ['rsaOaepSha1Encrypt', 'RSA_OAEP_SHA1'],
        ['rsaOaepSha256Encrypt', 'RSA_OAEP_SHA256'],
        ['rsaPkcs1Encrypt', 'RSA_PKCS'],
      ] as const) {
        const data = randomBytes(32).toString('base64');
        const enc = await expectAsProbed([cap], svc.encrypt({ slotId: slot(), id: key.id, mechanism, data }));
        if (!enc) continue;
        expect(Buffer.from(enc.data, 'base64')).toHaveLength(256);
        expect((await svc.decrypt({ slotId: slot(), id: key.id, mechanism, data: enc.data })).data).toBe(
          data,
        );
      }
    });

    it("RSA transport key: a gateway's OAEP-wrapped key set unwraps, or is refused specifically", async () => {
      await ready;
      const made = await outcome(
        svc.generateKey({
          slotId: slot(),
          type: 'rsa-2048',
          label: 'suite-transport',
          purpose: 'gateway-transport',
        }),
      );
      const key = made.ok
        ? made.value
        : made.error.code === 'KEY_TEMPLATE_REFUSED'
          ? await svc.generateKey({
              slotId: slot(),
              type: 'rsa-2048',
              label: 'suite-transport',
              purpose: 'gateway-transport',
              acceptWiderUsage: true,
            })
          : null;
      if (!key) {
        expect(can('rsa2048Generate')).toBe(false);
        return;
      }
      const { pem } = await svc.exportPublicKey({ slotId: slot(), id: key.id, format: 'pem' });
      for (const [cap, mechanism, hash] of [
        ['rsaOaepSha1Unwrap', 'RSA_OAEP_SHA1', 'sha1'],
        ['rsaOaepSha256Unwrap', 'RSA_OAEP_SHA256', 'sha256'],
      ] as const) {
        const value = randomBytes(32);
        const wrapped = publicEncrypt(
          { key: createPublicKey(pem!), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash },
          value,
        );
        const unwrapped = await expectAsProbed(
          [cap],
          svc.unwrapKey({
            slotId: slot(),
            unwrappingKeyId: key.id,
            mechanism,
            wrapped: wrapped.toString('base64'),
            keyType: 'aes-256',
            label: 'suite-set',
            token: false,
          }),
        );
        if (unwrapped) expect(unwrapped.method).toBe('cmac');
      }
    });
  });
}

/** The probe's answers, one line each, for the capability matrix (scripts/token-matrix.ts). */
export function capabilityLines(caps: CapabilitiesResult): string[] {
  return Object.entries(caps.capabilities).map(
    ([name, c]) => `${c.supported ? 'yes' : 'no'} ${name}${c.reason ? ` — ${c.reason}` : ''}`,
  );
}
