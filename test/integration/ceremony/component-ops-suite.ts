import { execFileSync } from 'node:child_process';
import { constants, createCipheriv, generateKeyPairSync, privateDecrypt, publicEncrypt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenEngine } from '../../../electron/hsm/pkcs11/token-engine.host';
import { kcv } from '../../../electron/crypto/kcv.nodejs';
import type { CeremonyKeyPurpose } from '../../../shared/ceremony/script.std';
import type { CeremonyTransportKeyResult } from '../../../shared/ceremony/token-ops.std';
import { setOddParity } from '../../../shared/formats/des-keys.std';
import type { ComponentKeyType } from '../../../shared/formats/components.std';
import { failure } from '../../helpers/failure';
import { hostTokenService } from '../../helpers/host-token-engine';
import { pkcs11js as P, type PKCS11, type Template } from '../../../electron/hsm/pkcs11/pkcs11.host';
import { parsePkcs11ToolObjects } from '../../helpers/pkcs11-tool';

/** A token to run the suite on: a fresh SoftHSM2 token, or openCryptoki's swtok under its lock. */
export interface SuiteToken {
  name: string;
  modulePath: string;
  slotId: number;
  userPin: string;
  env: NodeJS.ProcessEnv;
  /** Where this token's OAEP-SHA-256 is undone: on the token, or (raw RSA on it) in the host. */
  oaep: 'token' | 'host';
  /** Where an AES key's components are XORed: on the token (CKM_XOR_BASE_AND_DATA) or in the host. */
  xor: 'token' | 'host';
  /** Initialisation parameters the library needs (NSS softokn). */
  libraryParameters?: string;
  /** Whether pkcs11-tool can open this token (it cannot pass NSS its parameters). Default true. */
  pkcs11Tool?: boolean;
  stop(): void | Promise<void>;
}

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** `bytes` bytes of test key material from a simple formula, in hex. */
const pattern = (bytes: number, f: (i: number) => number) =>
  Buffer.from(Array.from({ length: bytes }, (_, i) => f(i) & 0xff)).toString('hex');

/** Components that XOR to `key` (parity bits aside for TDES): the first ones fixed, the last derived. */
export function componentsOf(type: ComponentKeyType, keyHex: string, firsts: string[]): Uint8Array[] {
  const key = hex(keyHex);
  const tdes = type.startsWith('tdes');
  const parts = firsts.map((f) => (tdes ? setOddParity(hex(f)) : hex(f)));
  const last = Uint8Array.from(key);
  for (const p of parts) for (let i = 0; i < last.length; i++) last[i]! ^= p[i]!;
  if (tdes) setOddParity(last);
  return [...parts, last];
}

/** As the renderer (WebCrypto RSA-OAEP/SHA-256) or the CLI (node:crypto) encrypts a component. */
export function encryptTo(spkiPem: string, component: Uint8Array): string {
  return publicEncrypt(
    { key: spkiPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    component,
  ).toString('base64');
}

/**
 * Records which call made each key with a CKA_ID (C_UnwrapKey or C_DeriveKey) through the
 * engine's own module object, every call still passed on to the token: where a formed key came
 * from, seen from outside CeremonyOps. `stop()` puts the module's methods back.
 */
function recordKeyMaking(pkcs11: PKCS11) {
  const made: { call: 'C_UnwrapKey' | 'C_DeriveKey'; id: string; token: boolean }[] = [];
  const record = (call: 'C_UnwrapKey' | 'C_DeriveKey', template: Template) => {
    const id = template.find((a) => a.type === P.CKA_ID)?.value;
    const token = template.find((a) => a.type === P.CKA_TOKEN)?.value === true;
    if (Buffer.isBuffer(id)) made.push({ call, id: id.toString('hex'), token });
  };
  const m = pkcs11 as unknown as Record<string, unknown>;
  const unwrap = pkcs11.C_UnwrapKey.bind(pkcs11);
  const derive = pkcs11.C_DeriveKey.bind(pkcs11);
  m.C_UnwrapKey = (...a: Parameters<PKCS11['C_UnwrapKey']>) => (record('C_UnwrapKey', a[4]), unwrap(...a));
  m.C_DeriveKey = (...a: Parameters<PKCS11['C_DeriveKey']>) => (record('C_DeriveKey', a[3]), derive(...a));
  return {
    made,
    stop() {
      delete m.C_UnwrapKey;
      delete m.C_DeriveKey;
    },
  };
}

export function componentOpsSuite(make: () => Promise<SuiteToken>): void {
  let token: SuiteToken;
  let svc: TokenEngine;
  let slotId: number;
  let transport: CeremonyTransportKeyResult;
  let n = 0;
  const newId = () => `c0ffee${(++n).toString(16).padStart(4, '0')}`;

  beforeAll(async () => {
    token = await make();
    slotId = token.slotId;
    svc = hostTokenService();
    await svc.loadModule({ path: token.modulePath, libraryParameters: token.libraryParameters });
    await svc.login({ slotId, pin: token.userPin });
    transport = await svc.ceremonyTransportKey({ slotId });
  }, 120_000);
  afterAll(async () => {
    await svc?.unloadModule();
    await token?.stop();
  });

  const form = (type: ComponentKeyType, components: Uint8Array[], purpose: CeremonyKeyPurpose = 'kek') => {
    const id = newId();
    return svc
      .formKeyFromComponents({
        slotId,
        transportKeyId: transport.transportKeyId,
        keyType: type,
        ciphertexts: components.map((c) => encryptTo(transport.spkiPem, c)),
        label: `formed ${id}`,
        id,
        purpose,
      })
      .then((r) => ({ ...r, id }));
  };
  const secretsWithId = async (id: string) =>
    (await svc.listObjects({ slotId, class: 'secret' })).filter((o) => o.id === id);
  /** A form that must be refused: its error, once no key with its id is seen on the token. */
  const refused = async (type: ComponentKeyType, components: Uint8Array[], purpose: CeremonyKeyPurpose) => {
    const id = newId();
    const e = await failure(
      svc.formKeyFromComponents({
        slotId,
        transportKeyId: transport.transportKeyId,
        keyType: type,
        ciphertexts: components.map((c) => encryptTo(transport.spkiPem, c)),
        label: 'never made',
        id,
        purpose,
      }),
    );
    expect(await secretsWithId(id)).toEqual([]);
    return e;
  };

  describe('the session transport key', () => {
    it('is an RSA-3072 session pair whose private half is sensitive, not extractable and decrypts only', async () => {
      expect(transport.bits).toBe(3072);
      // Where OAEP-SHA-256 is undone, as found on each token (SoftHSM2 2.6 does OAEP with SHA-1 only).
      expect(transport.oaep).toBe(token.oaep);
      expect(transport.spkiPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
      expect(transport.spkiSha256).toMatch(/^[0-9a-f]{64}$/);
      const priv = await svc.getObject({ slotId, id: transport.transportKeyId, class: 'private' });
      expect(priv).toMatchObject({ token: false, sensitive: true, extractable: false, usages: ['decrypt'] });
    });

    it('a component encrypted to another key is refused as such, never read', async () => {
      const other = generateKeyPairSync('rsa', { modulusLength: 3072 });
      const pem = other.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const [c1] = componentsOf('aes-128', '00'.repeat(16), ['11'.repeat(16)]);
      const e = await failure(
        svc.componentCheck({
          slotId,
          transportKeyId: transport.transportKeyId,
          keyType: 'aes-128',
          ciphertext: encryptTo(pem, c1!),
          componentIndex: 1,
        }),
      );
      expect(e.code).toBe('COMPONENT_CIPHERTEXT_INVALID');
      expect(e.details).toMatchObject({ componentIndex: 1 });
    });
  });

  describe('forming keys from components', () => {
    it('TDES 2-key from 2 components: legacy KCV 08D7B4 (issue 11 known answer), also from the token', async () => {
      const parts = componentsOf('tdes-2key', '0123456789ABCDEFFEDCBA9876543210', [
        'A1B2C3D4E5F60718293A4B5C6D7E8F90',
      ]);
      const checked = await svc.componentCheck({
        slotId,
        transportKeyId: transport.transportKeyId,
        keyType: 'tdes-2key',
        ciphertext: encryptTo(transport.spkiPem, parts[0]!),
      });
      expect(checked.kcvs).toEqual([
        kcv('tdes-2key', parts[0]!, 'legacy'),
        kcv('tdes-2key', parts[0]!, 'cmac'),
      ]);
      const formed = await form('tdes-2key', parts);
      expect(formed.kcvs.find((k) => k.method === 'legacy')!.kcv).toBe('08d7b4');
      // TDES: the degenerate-key checks need the clear key, so it is formed in the host everywhere.
      expect(formed.combinedOn).toBe('host');
      // Computed by the token on what it took, not only by the host on what it sent.
      expect(formed.tokenKcv).toBe('08d7b4');
      if (formed.tokenCheckValue !== null) expect(formed.tokenCheckValue).toBe('08d7b4');
    });

    it('TDES 2-key from 3 components: legacy KCV CB9DEA (issue 11 known answer)', async () => {
      const parts = componentsOf('tdes-2key', 'F039121BEC83D26B169BDCD5B22AAF8F', [
        '0F1E2D3C4B5A69788796A5B4C3D2E1F0',
        '3243F6A8885A308D313198A2E0370734',
      ]);
      const formed = await form('tdes-2key', parts, 'data');
      expect(formed.kcvs.find((k) => k.method === 'legacy')!.kcv).toBe('cb9dea');
      expect(formed.tokenKcv).toBe('cb9dea');
    });

    it('AES-128 from 2 components: cmac KCV 08793E (issue 11 known answer, first 3 of 08793E25AB)', async () => {
      const parts = componentsOf('aes-128', '3F419E1CB7079442AA37474C2EFBF8B8', [
        '9C6F2A1B4D3E5F60718293A4B5C6D7E8',
      ]);
      const formed = await form('aes-128', parts);
      expect(formed.kcvs.find((k) => k.method === 'cmac')!.kcv).toBe('08793e');
      expect(formed.kcvs.find((k) => k.method === 'legacy')!.kcv).toBe(
        kcv('aes-128', hex('3F419E1CB7079442AA37474C2EFBF8B8'), 'legacy').kcv,
      );
      expect(formed.combinedOn).toBe(token.xor);
    });

    it.each([
      ['aes-256', 3],
      ['tdes-3key', 3],
      ['aes-192', 2],
    ] as const)(
      '%s from %i components: the KCVs of the XOR, the key sensitive and never extractable on the token',
      async (type, count) => {
        const bytes = type === 'aes-256' ? 32 : 24;
        const keyHex = pattern(bytes, (i) => i * 37 + 11);
        const firsts = Array.from({ length: count - 1 }, (_, k) =>
          pattern(bytes, (i) => i * 53 + k * 101 + 7),
        );
        const parts = componentsOf(type, keyHex, firsts);
        const expectedKey = type.startsWith('tdes') ? setOddParity(hex(keyHex)) : hex(keyHex);
        const formed = await form(type, parts);
        expect(formed.kcvs).toEqual([kcv(type, expectedKey, 'legacy'), kcv(type, expectedKey, 'cmac')]);
        const [obj] = await secretsWithId(formed.id);
        expect(obj).toMatchObject({
          token: true,
          private: true,
          sensitive: true,
          extractable: false,
          keyType: type.startsWith('tdes') ? 'des3' : 'aes',
        });
        expect([...obj!.usages].sort()).toEqual(['unwrap', 'wrap']);
      },
    );

    it.each([
      ['aes-128', 2],
      ['aes-128', 3],
      ['aes-256', 2],
      ['aes-256', 3],
    ] as const)(
      '%s from %i components: combined where this token can, the KCVs of the XOR computed here',
      async (type, count) => {
        const bytes = type === 'aes-256' ? 32 : 16;
        const keyHex = pattern(bytes, (i) => i * 29 + count);
        const firsts = Array.from({ length: count - 1 }, (_, k) =>
          pattern(bytes, (i) => i * 71 + k * 13 + 5),
        );
        const parts = componentsOf(type, keyHex, firsts);
        const seen = recordKeyMaking(svc._raw(slotId).pkcs11);
        let formed: Awaited<ReturnType<typeof form>>;
        try {
          formed = await form(type, parts, 'data');
        } finally {
          seen.stop();
        }
        expect(formed.combinedOn).toBe(token.xor);
        expect(formed.kcvs).toEqual([kcv(type, hex(keyHex), 'legacy'), kcv(type, hex(keyHex), 'cmac')]);
        expect(formed.tokenKcv).toBe(kcv(type, hex(keyHex), 'legacy').kcv);
        // The observable of where the key was formed: the call that made the token object.
        const final = seen.made.filter((m) => m.id === formed.id);
        expect(final).toEqual([
          { call: token.xor === 'token' ? 'C_DeriveKey' : 'C_UnwrapKey', id: formed.id, token: true },
        ]);
        const [obj] = await secretsWithId(formed.id);
        expect(obj).toMatchObject({
          token: true,
          private: true,
          sensitive: true,
          extractable: false,
          keyType: 'aes',
        });
        expect([...obj!.usages].sort()).toEqual(['decrypt', 'encrypt']);
        // The token encrypts with it as with the XOR of the components.
        const { pkcs11, session, find } = svc._raw(slotId);
        pkcs11.C_EncryptInit(session, { mechanism: P.CKM_AES_ECB }, find(formed.id, 'secret'));
        const block = pkcs11.C_Encrypt(session, Buffer.alloc(16, 0x5a), Buffer.alloc(16));
        const cipher = createCipheriv(`aes-${bytes * 8}-ecb`, hex(keyHex), null).setAutoPadding(false);
        expect(block.toString('hex')).toBe(cipher.update(Buffer.alloc(16, 0x5a)).toString('hex'));
      },
    );

    it('AES components that cancel out (the third the XOR of the first two) form no key', async () => {
      const c1 = hex('00112233445566778899aabbccddeeff');
      const c2 = hex('0f1e2d3c4b5a69788796a5b4c3d2e1f0');
      const c3 = Uint8Array.from(c1, (b, i) => b ^ c2[i]!);
      const e = await refused('aes-128', [c1, c2, c3], 'data');
      expect(e.code).toBe('KEY_DEGENERATE');
      expect(e.details).toMatchObject({ reason: 'zero' });
    });

    it('pkcs11-tool, in a process of its own, sees the formed keys as sensitive and not extractable', async (ctx) => {
      // pkcs11-tool cannot give NSS softokn its initialisation parameters.
      if (token.pkcs11Tool === false) ctx.skip();
      const text = execFileSync(
        'pkcs11-tool',
        ['--module', token.modulePath, '--slot', String(slotId), '-O', '--login', '--pin', token.userPin],
        { env: token.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const formed = parsePkcs11ToolObjects(text).filter((o) => o.label?.startsWith('formed '));
      expect(formed.length).toBeGreaterThanOrEqual(5);
      for (const o of formed) {
        // pkcs11-tool names CKK_DES2 (0x14) "unknown key algorithm 20".
        expect(o.kind).toMatch(/Secret Key Object; (DES3|AES|unknown key algorithm 20)/);
        expect(o.Access).toMatch(/^sensitive/);
        expect(o.Access).not.toMatch(/(^|, )extractable/);
      }
    });

    it('a TDES component of even parity is refused before its KCV, naming the bytes', async () => {
      const [c1, c2] = componentsOf('tdes-2key', '0123456789ABCDEFFEDCBA9876543210', [
        'A1B2C3D4E5F60718293A4B5C6D7E8F90',
      ]);
      const bad = Uint8Array.from(c2!);
      bad[2]! ^= 0x01; // byte 3
      bad[9]! ^= 0x01; // byte 10
      const e = await failure(
        svc.componentCheck({
          slotId,
          transportKeyId: transport.transportKeyId,
          keyType: 'tdes-2key',
          ciphertext: encryptTo(transport.spkiPem, bad),
          componentIndex: 2,
        }),
      );
      expect(e.code).toBe('COMPONENT_PARITY_INVALID');
      expect(e.details).toMatchObject({ componentIndex: 2, positions: ['3', '10'] });
      expect(e.message).toContain('byte 3 (digits 5 and 6) and byte 10 (digits 19 and 20)');
      expect((await refused('tdes-2key', [c1!, bad], 'kek')).code).toBe('COMPONENT_PARITY_INVALID');
    });

    it('a degenerate key (TDES K1 = K2: single DES) is refused and nothing is left on the token', async () => {
      const parts = componentsOf('tdes-2key', '0123456789ABCDEF0123456789ABCDEF', [
        'A1B2C3D4E5F60718293A4B5C6D7E8F90',
      ]);
      const e = await refused('tdes-2key', parts, 'kek');
      expect(e.code).toBe('KEY_DEGENERATE');
      expect(e.details).toMatchObject({ reason: 'single-des' });
    });

    it('components that cancel out (the same component twice) are refused', async () => {
      const c = setOddParity(hex('A1B2C3D4E5F60718293A4B5C6D7E8F90'));
      const e = await failure(form('tdes-2key', [c, c]));
      expect(e.code).toBe('COMPONENT_REPEATED');
    });
  });

  describe('splitting a key into components', () => {
    it.each(['aes-256', 'tdes-2key'] as const)(
      '%s: generated on the token, 3 components each revealed to one custodian key, recombining to the key’s KCV',
      async (type) => {
        const id = newId();
        const split = await svc.splitKey({
          slotId,
          transportKeyId: transport.transportKeyId,
          keyType: type,
          components: 3,
          label: `split ${id}`,
          id,
          purpose: 'data',
        });
        expect(split.components).toHaveLength(3);
        const [obj] = await secretsWithId(id);
        expect(obj).toMatchObject({ token: true, sensitive: true, extractable: false });
        const revealed: Uint8Array[] = [];
        for (const [i, c] of split.components.entries()) {
          // Each custodian's screen: an ephemeral key pair whose private half never leaves it.
          const eph = generateKeyPairSync('rsa', { modulusLength: 2048 });
          const out = await svc.revealComponent({
            slotId,
            transportKeyId: transport.transportKeyId,
            keyType: type,
            ciphertext: c.ciphertext,
            revealKey: eph.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
            componentIndex: i + 1,
          });
          const clear = Uint8Array.from(
            privateDecrypt(
              { key: eph.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
              Buffer.from(out.ciphertext, 'base64'),
            ),
          );
          expect(out.kcvs).toEqual(c.kcvs);
          expect(out.kcvs).toEqual([kcv(type, clear, 'legacy'), kcv(type, clear, 'cmac')]);
          revealed.push(clear);
        }
        expect(new Set(revealed.map(toHex)).size).toBe(3);
        // Recombined off the token (as the custodians' sheets would be): the key's KCVs.
        const key = Uint8Array.from(revealed[0]!);
        for (const c of revealed.slice(1)) for (let i = 0; i < key.length; i++) key[i]! ^= c[i]!;
        if (type === 'tdes-2key') setOddParity(key);
        expect(split.kcvs).toEqual([kcv(type, key, 'legacy'), kcv(type, key, 'cmac')]);
        // And formed again on the token from the revealed components: the same key.
        const again = await form(type, revealed);
        expect(again.kcvs).toEqual(split.kcvs);
      },
    );

    it('a reveal key that is not RSA-2048+ gets nothing', async () => {
      const small = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const split = await svc.splitKey({
        slotId,
        transportKeyId: transport.transportKeyId,
        keyType: 'aes-128',
        components: 2,
        label: 'split ec',
        id: newId(),
        purpose: 'data',
      });
      const e = await failure(
        svc.revealComponent({
          slotId,
          transportKeyId: transport.transportKeyId,
          keyType: 'aes-128',
          ciphertext: split.components[0]!.ciphertext,
          revealKey: small.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        }),
      );
      expect(e.code).toBe('CEREMONY_REVEAL_KEY_INVALID');
    });
  });

  describe('when the transport key is gone', () => {
    it('components held for it are useless: the step says to enter them again', async () => {
      const t2 = await svc.ceremonyTransportKey({ slotId });
      const [c1] = componentsOf('aes-128', '3F419E1CB7079442AA37474C2EFBF8B8', [
        '9C6F2A1B4D3E5F60718293A4B5C6D7E8',
      ]);
      const ciphertext = encryptTo(t2.spkiPem, c1!);
      await svc.ceremonyDropTransportKey({ slotId, transportKeyId: t2.transportKeyId });
      const e = await failure(
        svc.componentCheck({ slotId, transportKeyId: t2.transportKeyId, keyType: 'aes-128', ciphertext }),
      );
      expect(e.code).toBe('CEREMONY_TRANSPORT_KEY_GONE');
    });
  });
}
