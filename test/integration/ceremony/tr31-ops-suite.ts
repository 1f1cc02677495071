import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenEngine } from '../../../electron/hsm/pkcs11/token-engine.host';
import { pkcs11js } from '../../../electron/hsm/pkcs11/pkcs11.host';
import { kcv } from '../../../electron/crypto/kcv.nodejs';
import type { CeremonyKeyPurpose } from '../../../shared/ceremony/script.std';
import type { ComponentKeyType } from '../../../shared/formats/components.std';
import { failure } from '../../helpers/failure';
import { hostTokenService } from '../../helpers/host-token-engine';
import { parsePkcs11ToolObjects } from '../../helpers/pkcs11-tool';
import {
  ISO_20038_2017_B_3,
  PAYSHIELD_B_K0,
  PAYSHIELD_D_B0,
  PAYSHIELD_D_D0,
  TR31_2018_A_7_2_2,
  TR31_2018_A_7_4,
} from '../../unit/formats/tr31-vectors';
import { componentsOf, encryptTo, type SuiteToken } from './component-ops-suite';

const P = pkcs11js;
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

/**
 * An extractable key with a known value on the token (as if loaded earlier by other means), for
 * export tests: sensitive, extractable, with only `usages` (CKA_ENCRYPT, ...).
 */
export function createKnownKey(
  engine: TokenEngine,
  slotId: number,
  key: { id: string; label: string; keyHex: string; usages: number[]; keyType?: number },
): void {
  const raw = engine._raw(slotId);
  raw.pkcs11.C_CreateObject(raw.session, [
    { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
    { type: P.CKA_KEY_TYPE, value: key.keyType ?? P.CKK_AES },
    { type: P.CKA_TOKEN, value: true },
    { type: P.CKA_PRIVATE, value: true },
    { type: P.CKA_SENSITIVE, value: true },
    { type: P.CKA_EXTRACTABLE, value: true },
    { type: P.CKA_LABEL, value: key.label },
    { type: P.CKA_ID, value: Buffer.from(key.id, 'hex') },
    ...[P.CKA_ENCRYPT, P.CKA_DECRYPT, P.CKA_WRAP, P.CKA_UNWRAP, P.CKA_SIGN, P.CKA_VERIFY, P.CKA_DERIVE].map(
      (u) => ({ type: u, value: key.usages.includes(u) }),
    ),
    { type: P.CKA_VALUE, value: Buffer.from(key.keyHex, 'hex') },
  ]);
}

/** A token for the TR-31 suite; `slotB`, when there is one, is a second token of the same module. */
export interface Tr31SuiteToken extends SuiteToken {
  slotB?: number;
}

/**
 * TR-31 / X9.143 key blocks on a real token (issue 11 point 4): the KBPK on the token, its block
 * keys derived by the token's CMAC, every refusal with the code of its check, and a key read from
 * a block given only what its header grants.
 */
export function tr31OpsSuite(make: () => Promise<Tr31SuiteToken>): void {
  let token: Tr31SuiteToken;
  let svc: TokenEngine;
  let slotA: number;
  let slotB: number;
  let n = 0;
  const newId = () => `7531${(++n).toString(16).padStart(4, '0')}`;

  beforeAll(async () => {
    token = await make();
    slotA = token.slotId;
    slotB = token.slotB ?? token.slotId;
    svc = hostTokenService();
    await svc.loadModule({ path: token.modulePath });
    await svc.login({ slotId: slotA, pin: token.userPin });
    if (slotB !== slotA) await svc.login({ slotId: slotB, pin: token.userPin });
  }, 120_000);
  afterAll(async () => {
    await svc?.unloadModule();
    await token?.stop();
  });

  /** A key formed from components, as a ceremony does: the same components make the same key on both tokens. */
  const formOn = async (
    slotId: number,
    type: ComponentKeyType,
    keyHex: string,
    purpose: CeremonyKeyPurpose = 'kbpk',
  ) => {
    const transport = await svc.ceremonyTransportKey({ slotId });
    const id = newId();
    const firsts = [Buffer.alloc(hex(keyHex).length, 0x5a).toString('hex')];
    await svc.formKeyFromComponents({
      slotId,
      transportKeyId: transport.transportKeyId,
      keyType: type,
      ciphertexts: componentsOf(type, keyHex, firsts).map((c) => encryptTo(transport.spkiPem, c)),
      label: `kbpk ${id}`,
      id,
      purpose,
    });
    await svc.ceremonyDropTransportKey({ slotId, transportKeyId: transport.transportKeyId });
    return id;
  };

  const loadExportable = (slotId: number, keyHex: string, usages: number[], keyType: number = P.CKK_AES) => {
    const id = newId();
    createKnownKey(svc, slotId, { id, label: `exportable ${id}`, keyHex, usages, keyType });
    return id;
  };
  const secretCount = async (slotId: number) => (await svc.listObjects({ slotId, class: 'secret' })).length;

  const AES_KBPK = TR31_2018_A_7_4.kbpk;
  const DATA_KEY = '3F419E1CB7079442AA37474C2EFBF8B8';
  let kbpkA: string;
  let kbpkB: string;

  beforeAll(async () => {
    kbpkA = await formOn(slotA, 'aes-256', AES_KBPK);
    kbpkB = slotB === slotA ? kbpkA : await formOn(slotB, 'aes-256', AES_KBPK);
  }, 120_000);

  describe('export and import across two tokens holding the same KBPK', () => {
    it('a D0 key exported from one token imports on the other with the same KCVs and what its header grants', async () => {
      const keyId = loadExportable(slotA, DATA_KEY, [P.CKA_ENCRYPT, P.CKA_DECRYPT]);
      const out = await svc.tr31Export({
        slotId: slotA,
        keyId,
        kbpkId: kbpkA,
        kbpkType: 'aes-256',
        usage: 'D0',
        modeOfUse: 'B',
        exportability: 'E',
        kcv: { KC: 'cmac', KP: 'cmac' },
      });
      expect(out.block).toMatch(/^D\d{4}D0AB00E/);
      expect(out.header).toMatchObject({ version: 'D', usage: 'D0', algorithm: 'A', modeOfUse: 'B' });
      expect(out.keyKcvs).toEqual([
        kcv('aes-128', hex(DATA_KEY), 'legacy'),
        kcv('aes-128', hex(DATA_KEY), 'cmac'),
      ]);
      expect(out.keyKcvs[1]!.kcv).toBe('08793e');
      expect(JSON.stringify(out).toLowerCase()).not.toContain(DATA_KEY.toLowerCase());
      const imported = await svc.tr31Import({
        slotId: slotB,
        kbpkId: kbpkB,
        kbpkType: 'aes-256',
        block: out.block,
        label: 'round trip',
      });
      expect(imported.kcvs).toEqual(out.keyKcvs);
      expect(imported.tokenKcv).toBe(out.keyKcvs[0]!.kcv);
      expect(imported.kbpkKcvs).toEqual(out.kbpkKcvs);
      expect(imported.checkedKcvs).toEqual(['KC', 'KP']);
      expect(imported.attributes).toEqual({
        sensitive: true,
        extractable: true,
        wrapWithTrusted: true,
        encrypt: true,
        decrypt: true,
        wrap: false,
        unwrap: false,
        sign: false,
        verify: false,
        derive: false,
      });
      const obj = await svc.getObject({ slotId: slotB, id: imported.id, class: 'secret' });
      expect(obj).toMatchObject({ token: true, sensitive: true, extractable: true, keyType: 'aes' });
      expect([...obj.usages].sort()).toEqual(['decrypt', 'encrypt']);
      // E: exportable only under a trusted key (CKA_WRAP_WITH_TRUSTED), which mkm cannot bring
      // into host memory to build a block: refused, not carried out unprotected.
      const again = await failure(
        svc.tr31Export({
          slotId: slotB,
          keyId: imported.id,
          kbpkId: kbpkB,
          kbpkType: 'aes-256',
          usage: 'D0',
          modeOfUse: 'B',
          exportability: 'E',
        }),
      );
      expect(again.code).toBe('TR31_NOT_EXPORTABLE');
      expect(again.details).toMatchObject({ reason: 'wrap_with_trusted' });
    });

    it('a TDES K0 key in a version B block under a TDES KBPK: the same KCVs on the other token', async () => {
      const tdesA = await formOn(slotA, 'tdes-2key', TR31_2018_A_7_2_2.kbpk);
      const tdesB = slotB === slotA ? tdesA : await formOn(slotB, 'tdes-2key', TR31_2018_A_7_2_2.kbpk);
      const KEY = '0123456789ABCDEFFEDCBA9876543210';
      const keyId = loadExportable(slotA, KEY, [P.CKA_WRAP, P.CKA_UNWRAP], P.CKK_DES2);
      const out = await svc.tr31Export({
        slotId: slotA,
        keyId,
        kbpkId: tdesA,
        usage: 'K0',
        modeOfUse: 'D',
        exportability: 'E',
        kcv: { KC: 'legacy' },
      });
      expect(out.block).toMatch(/^B\d{4}K0TD00E/);
      expect(out.keyType).toBe('tdes-2key');
      expect(out.keyKcvs[0]).toEqual({ kcv: '08d7b4', method: 'legacy' });
      const imported = await svc.tr31Import({
        slotId: slotB,
        kbpkId: tdesB,
        block: out.block,
        label: 'tdes kek',
      });
      expect(imported.kcvs).toEqual(out.keyKcvs);
      expect(imported.checkedKcvs).toEqual(['KC']);
      expect(imported.attributes).toMatchObject({
        wrap: false,
        unwrap: true,
        encrypt: false,
        extractable: true,
      });
    });

    it('an N block imports as non-extractable, and exporting that key again is refused', async () => {
      const keyId = loadExportable(slotA, 'A1'.repeat(32), [P.CKA_SIGN, P.CKA_VERIFY]);
      const out = await svc.tr31Export({
        slotId: slotA,
        keyId,
        kbpkId: kbpkA,
        kbpkType: 'aes-256',
        usage: 'M6',
        modeOfUse: 'C',
        exportability: 'N',
      });
      const imported = await svc.tr31Import({
        slotId: slotB,
        kbpkId: kbpkB,
        kbpkType: 'aes-256',
        block: out.block,
        label: 'never again',
      });
      expect(imported.keyType).toBe('aes-256');
      expect(imported.attributes).toMatchObject({
        extractable: false,
        sensitive: true,
        sign: true,
        verify: true,
      });
      expect(imported.attributes.encrypt).toBe(false);
      const e = await failure(
        svc.tr31Export({
          slotId: slotB,
          keyId: imported.id,
          kbpkId: kbpkB,
          kbpkType: 'aes-256',
          usage: 'M6',
          modeOfUse: 'C',
          exportability: 'N',
        }),
      );
      expect(e.code).toBe('TR31_NOT_EXPORTABLE');
      expect(e.details).toMatchObject({ reason: 'not_extractable' });
    });

    it('a K1 block with mode E gives a KBPK that makes blocks but cannot read them', async () => {
      const keyId = loadExportable(slotA, '3C'.repeat(32), [P.CKA_WRAP, P.CKA_UNWRAP, P.CKA_SIGN]);
      const out = await svc.tr31Export({
        slotId: slotA,
        keyId,
        kbpkId: kbpkA,
        kbpkType: 'aes-256',
        usage: 'K1',
        modeOfUse: 'E',
        exportability: 'N',
      });
      const k1 = await svc.tr31Import({
        slotId: slotB,
        kbpkId: kbpkB,
        kbpkType: 'aes-256',
        block: out.block,
        label: 'kbpk from block',
      });
      expect(k1.attributes).toMatchObject({
        wrap: true,
        unwrap: false,
        sign: true,
        derive: false,
        extractable: false,
      });
      const e = await failure(
        svc.tr31Import({ slotId: slotB, kbpkId: k1.id, kbpkType: 'aes-256', block: out.block, label: 'x' }),
      );
      expect(e.code).toBe('TR31_KBPK_NOT_PERMITTED');
      expect(e.details).toMatchObject({ direction: 'read', missing: ['unwrap'] });
    });
  });

  describe('published blocks imported on the token under their KBPK', () => {
    it('TR-31:2018 A.7.4 (version D, AES-256 KBPK): the P0 key, cmac KCV 08793E, encrypt only', async () => {
      const before = await secretCount(slotA);
      const r = await svc.tr31Import({
        slotId: slotA,
        kbpkId: kbpkA,
        kbpkType: 'aes-256',
        block: TR31_2018_A_7_4.block,
        label: 'A.7.4',
      });
      expect(r.kcvs).toEqual([
        kcv('aes-128', hex(TR31_2018_A_7_4.key), 'legacy'),
        kcv('aes-128', hex(TR31_2018_A_7_4.key), 'cmac'),
      ]);
      expect(r.kcvs[1]!.kcv).toBe('08793e');
      expect(r.header).toMatchObject({ usage: 'P0', algorithm: 'A', modeOfUse: 'E', exportability: 'E' });
      expect(r.attributes).toMatchObject({ encrypt: true, decrypt: false, sign: false, unwrap: false });
      expect(await secretCount(slotA)).toBe(before + 1);
    });

    it('TR-31:2018 A.7.2.2 (version B, TDES KBPK formed from components): the TDES P0 key', async () => {
      const kbpk = await formOn(slotA, 'tdes-2key', TR31_2018_A_7_2_2.kbpk);
      const r = await svc.tr31Import({
        slotId: slotA,
        kbpkId: kbpk,
        block: TR31_2018_A_7_2_2.block,
        label: 'A.7.2.2',
      });
      expect(r.keyType).toBe('tdes-2key');
      expect(r.kcvs).toEqual([
        kcv('tdes-2key', hex(TR31_2018_A_7_2_2.key), 'legacy'),
        kcv('tdes-2key', hex(TR31_2018_A_7_2_2.key), 'cmac'),
      ]);
      expect(r.tokenKcv).toBe(r.kcvs[0]!.kcv);
    });
  });

  describe('published blocks of other usages (B0, M3, K0, D0) under their KBPKs', () => {
    it.each([
      [PAYSHIELD_D_B0, 'tdes-2key', { derive: true, encrypt: false, sign: false, extractable: false }],
      [ISO_20038_2017_B_3, 'tdes-2key', { verify: true, sign: false, extractable: false }],
      [PAYSHIELD_B_K0, 'tdes-2key', { wrap: true, unwrap: true, extractable: false }],
      [PAYSHIELD_D_D0, 'aes-256', { encrypt: true, decrypt: true, extractable: false }],
    ] as const)('$source', async (v, keyType, granted) => {
      const family = v.block[0] === 'D' ? 'aes-256' : 'tdes-2key';
      const kbpk = await formOn(slotA, family, v.kbpk);
      const r = await svc.tr31Import({
        slotId: slotA,
        kbpkId: kbpk,
        ...(family === 'aes-256' ? { kbpkType: 'aes-256' as const } : {}),
        block: v.block,
        label: v.source.slice(0, 60),
      });
      expect(r.keyType).toBe(keyType);
      expect(r.kcvs).toEqual([kcv(keyType, hex(v.key), 'legacy'), kcv(keyType, hex(v.key), 'cmac')]);
      expect(r.tokenKcv).toBe(r.kcvs[0]!.kcv);
      expect(r.attributes).toMatchObject({ sensitive: true, ...granted });
    });
  });

  describe('a bit flipped anywhere is refused with the code of its check, and nothing is left on the token', () => {
    const flip = (block: string, pos: number, bit = 1) =>
      block.slice(0, pos) + String.fromCharCode(block.charCodeAt(pos) ^ bit) + block.slice(pos + 1);
    const block = TR31_2018_A_7_4.block;
    const macStart = block.length - 32;
    it.each([
      ['header: usage P0 → Q0 (no such usage)', 'TR31_USAGE_UNKNOWN', flip(block, 5, 1)],
      ['header: exportability E → D (no such value)', 'TR31_EXPORTABILITY_UNKNOWN', flip(block, 11, 1)],
      ['header: mode E → D (a valid mode; the MAC catches it)', 'TR31_MAC_MISMATCH', flip(block, 8, 1)],
      ['header: length digit', 'TR31_LENGTH_MISMATCH', flip(block, 4, 1)],
      ['key data: one bit of the encrypted key', 'TR31_MAC_MISMATCH', flip(block, 20, 1)],
      ['key data: a hex digit made lower case', 'TR31_ENCODING_INVALID', flip(block, 16, 0x20)],
      ['MAC: one bit of its last digit', 'TR31_MAC_MISMATCH', flip(block, block.length - 1, 1)],
      ['MAC: one bit of its first digit', 'TR31_MAC_MISMATCH', flip(block, macStart, 2)],
    ])('%s → %s', async (_what, code, changed) => {
      expect(changed).not.toBe(block);
      const before = await svc.listObjects({ slotId: slotA, class: 'secret' });
      const e = await failure(
        svc.tr31Import({
          slotId: slotA,
          kbpkId: kbpkA,
          kbpkType: 'aes-256',
          block: changed,
          label: 'tampered',
        }),
      );
      expect(e.code).toBe(code);
      expect(await svc.listObjects({ slotId: slotA, class: 'secret' })).toEqual(before);
    });

    it('a block under another KBPK is refused by its MAC', async () => {
      const other = await formOn(slotA, 'aes-256', '11'.repeat(32));
      const e = await failure(
        svc.tr31Import({ slotId: slotA, kbpkId: other, kbpkType: 'aes-256', block, label: 'wrong kbpk' }),
      );
      expect(e.code).toBe('TR31_MAC_MISMATCH');
    });
  });

  describe('export refusals', () => {
    it('a key that is not extractable (formed in a ceremony) is refused', async () => {
      const formed = await formOn(slotA, 'aes-128', DATA_KEY, 'data');
      const e = await failure(
        svc.tr31Export({
          slotId: slotA,
          keyId: formed,
          kbpkId: kbpkA,
          kbpkType: 'aes-256',
          usage: 'D0',
          modeOfUse: 'B',
          exportability: 'E',
        }),
      );
      expect(e.code).toBe('TR31_NOT_EXPORTABLE');
    });

    it('a header granting more than the key may do on the token is refused', async () => {
      const keyId = loadExportable(slotA, DATA_KEY, [P.CKA_ENCRYPT, P.CKA_DECRYPT]);
      const e = await failure(
        svc.tr31Export({
          slotId: slotA,
          keyId,
          kbpkId: kbpkA,
          kbpkType: 'aes-256',
          usage: 'K0',
          modeOfUse: 'B',
          exportability: 'E',
        }),
      );
      expect(e.code).toBe('TR31_EXPORT_USAGE_EXCEEDS');
      expect(e.details).toMatchObject({ usages: ['wrap', 'unwrap'] });
    });

    it('a KBPK that may not make blocks (a MAC key: sign but no wrap) is refused', async () => {
      const macKey = await formOn(slotA, 'aes-256', AES_KBPK, 'mac');
      const keyId = loadExportable(slotA, DATA_KEY, [P.CKA_ENCRYPT, P.CKA_DECRYPT]);
      const e = await failure(
        svc.tr31Export({
          slotId: slotA,
          keyId,
          kbpkId: macKey,
          kbpkType: 'aes-256',
          usage: 'D0',
          modeOfUse: 'B',
          exportability: 'E',
        }),
      );
      expect(e.code).toBe('TR31_KBPK_NOT_PERMITTED');
      expect(e.details).toMatchObject({ direction: 'create', missing: ['wrap'] });
    });

    it('an AES KBPK whose size the token does not report needs its type named', async () => {
      const keyId = loadExportable(slotA, DATA_KEY, [P.CKA_ENCRYPT, P.CKA_DECRYPT]);
      const info = await svc.getObject({ slotId: slotA, id: kbpkA, class: 'secret' });
      const call = svc.tr31Export({
        slotId: slotA,
        keyId,
        kbpkId: kbpkA,
        usage: 'D0',
        modeOfUse: 'B',
        exportability: 'E',
      });
      if (info.bits === null) expect((await failure(call)).code).toBe('TR31_KBPK_SIZE_UNKNOWN');
      else expect((await call).block).toMatch(/^D/);
    });
  });

  it('pkcs11-tool, in a process of its own, sees the imported keys as sensitive, and the N key not extractable', () => {
    const text = execFileSync(
      'pkcs11-tool',
      ['--module', token.modulePath, '--slot', String(slotB), '-O', '--login', '--pin', token.userPin],
      { env: token.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const objects = parsePkcs11ToolObjects(text);
    const never = objects.find((o) => o.label === 'never again');
    const roundTrip = objects.find((o) => o.label === 'round trip');
    expect(never?.Access).toMatch(/^sensitive/);
    expect(never?.Access).not.toMatch(/(^|, )extractable/);
    expect(roundTrip?.Access).toMatch(/^sensitive/);
    expect(roundTrip?.Access).toMatch(/(^|, )extractable/);
  });
}
