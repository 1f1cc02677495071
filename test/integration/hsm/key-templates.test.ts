import { execFileSync } from 'node:child_process';
import { constants, publicEncrypt, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pkcs11js as P, readBool } from '../../../electron/hsm/pkcs11/pkcs11.host';
import type { KeyPurpose, KeyType } from '../../../shared/tokens.std';
import { failure } from '../../helpers/failure';
import { parsePkcs11ToolObjects } from '../../helpers/pkcs11-tool';
import { createSoftHsmToken, type SoftHsmToken } from '../../helpers/softhsm';
import { createTrustedKek } from '../../helpers/trusted-kek';
import { hostTokenService } from '../../helpers/host-token-engine';

/**
 * Every purpose's key template as the token really holds it (issue 10, point 7): each purpose is
 * generated through mkm's token service on a real SoftHSM2 token, then its attributes are read
 * back twice, independently of mkm's own object listing: with OpenSC's pkcs11-tool in another
 * process, and with C_GetAttributeValue through pkcs11js. The expected values are written out
 * here, not derived from templates.std.ts, so a template change has to change this table too.
 * Then the wrap rules are tried on the token: CKA_WRAP_WITH_TRUSTED keeps an exportable key in
 * unless the KEK is one the security officer trusted, and the transport public key wraps nothing.
 */

type Flags = Record<string, boolean>;

const ATTRS: Record<string, number> = {
  token: P.CKA_TOKEN,
  private: P.CKA_PRIVATE,
  sensitive: P.CKA_SENSITIVE,
  extractable: P.CKA_EXTRACTABLE,
  wrapWithTrusted: P.CKA_WRAP_WITH_TRUSTED,
  trusted: P.CKA_TRUSTED,
  encrypt: P.CKA_ENCRYPT,
  decrypt: P.CKA_DECRYPT,
  wrap: P.CKA_WRAP,
  unwrap: P.CKA_UNWRAP,
  sign: P.CKA_SIGN,
  verify: P.CKA_VERIFY,
  derive: P.CKA_DERIVE,
};
/** Which of them each class has (PKCS#11 §4.8–4.10). */
const OF_CLASS = {
  secret: Object.keys(ATTRS),
  private: [
    'token',
    'private',
    'sensitive',
    'extractable',
    'wrapWithTrusted',
    'decrypt',
    'unwrap',
    'sign',
    'derive',
  ],
  public: ['token', 'private', 'trusted', 'encrypt', 'wrap', 'verify', 'derive'],
} as const;

// CKA_WRAP_WITH_TRUSTED only on a key that can leave (CKA_EXTRACTABLE): SoftHSM2's default,
// false, elsewhere, where C_WrapKey refuses the key anyway.
const SECRET_BASE = {
  token: true,
  private: true,
  sensitive: true,
  wrapWithTrusted: false,
  trusted: false,
  derive: false,
};
const NO_SECRET_USE = {
  encrypt: false,
  decrypt: false,
  wrap: false,
  unwrap: false,
  sign: false,
  verify: false,
};
const PRIVATE_BASE = {
  token: true,
  private: true,
  sensitive: true,
  extractable: false,
  wrapWithTrusted: false,
  derive: false,
};
const NO_PRIVATE_USE = { decrypt: false, unwrap: false, sign: false };
const PUBLIC_BASE = { token: true, private: false, trusted: false, derive: false };
const NO_PUBLIC_USE = { encrypt: false, wrap: false, verify: false };

interface Case {
  purpose: KeyPurpose;
  type: KeyType;
  exportable?: boolean;
  /** pkcs11-tool's "Usage:" line (it lists no sign/verify for secret keys) and "Access:" line. */
  tool: Record<string, { usage: string; access: string }>;
  attrs: Record<string, Flags>;
}

const NEVER_LEAVES = 'sensitive, always sensitive, never extractable, local';

const CASES: Case[] = [
  {
    purpose: 'data',
    type: 'aes-256',
    attrs: {
      secret: {
        ...SECRET_BASE,
        ...NO_SECRET_USE,
        extractable: false,
        encrypt: true,
        decrypt: true,
        sign: true,
      },
    },
    tool: { secret: { usage: 'encrypt, decrypt', access: NEVER_LEAVES } },
  },
  {
    purpose: 'data',
    type: 'aes-256',
    exportable: true,
    attrs: {
      secret: {
        ...SECRET_BASE,
        ...NO_SECRET_USE,
        extractable: true,
        wrapWithTrusted: true,
        encrypt: true,
        decrypt: true,
        sign: true,
      },
    },
    tool: {
      secret: { usage: 'encrypt, decrypt', access: 'sensitive, always sensitive, extractable, local' },
    },
  },
  {
    purpose: 'kek',
    type: 'aes-256',
    attrs: {
      secret: { ...SECRET_BASE, ...NO_SECRET_USE, extractable: false, wrap: true, unwrap: true, sign: true },
    },
    tool: { secret: { usage: 'wrap, unwrap', access: NEVER_LEAVES } },
  },
  {
    purpose: 'hmac',
    type: 'hmac-256',
    exportable: true,
    attrs: {
      secret: {
        ...SECRET_BASE,
        ...NO_SECRET_USE,
        extractable: true,
        wrapWithTrusted: true,
        sign: true,
        verify: true,
      },
    },
    tool: { secret: { usage: 'verify', access: 'sensitive, always sensitive, extractable, local' } },
  },
  {
    purpose: 'audit',
    type: 'hmac-256',
    attrs: { secret: { ...SECRET_BASE, ...NO_SECRET_USE, extractable: false, sign: true, verify: true } },
    tool: { secret: { usage: 'verify', access: NEVER_LEAVES } },
  },
  {
    purpose: 'gateway-transport',
    type: 'rsa-2048',
    attrs: {
      private: { ...PRIVATE_BASE, ...NO_PRIVATE_USE, unwrap: true },
      public: { ...PUBLIC_BASE, ...NO_PUBLIC_USE },
    },
    tool: { private: { usage: 'unwrap', access: NEVER_LEAVES }, public: { usage: 'none', access: 'local' } },
  },
  {
    purpose: 'encryption',
    type: 'rsa-2048',
    attrs: {
      private: { ...PRIVATE_BASE, ...NO_PRIVATE_USE, decrypt: true },
      public: { ...PUBLIC_BASE, ...NO_PUBLIC_USE, encrypt: true },
    },
    tool: {
      private: { usage: 'decrypt', access: NEVER_LEAVES },
      public: { usage: 'encrypt', access: 'local' },
    },
  },
  {
    purpose: 'signing',
    type: 'rsa-2048',
    attrs: {
      private: { ...PRIVATE_BASE, ...NO_PRIVATE_USE, sign: true },
      public: { ...PUBLIC_BASE, ...NO_PUBLIC_USE, verify: true },
    },
    tool: { private: { usage: 'sign', access: NEVER_LEAVES }, public: { usage: 'verify', access: 'local' } },
  },
];

const TOOL_KIND = {
  secret: /^Secret Key Object/,
  private: /^Private Key Object/,
  public: /^Public Key Object/,
};

describe(
  'key templates on a real SoftHSM2 token (pkcs11-tool and C_GetAttributeValue)',
  { timeout: 120_000 },
  () => {
    let hsm: SoftHsmToken;
    const svc = hostTokenService();
    let slotId: number;
    const ids = new Map<Case, string>();

    beforeAll(async () => {
      hsm = createSoftHsmToken({ label: 'templates' });
      slotId = hsm.slotId;
      await svc.loadModule({ path: hsm.modulePath });
      await svc.login({ slotId, pin: hsm.userPin });
      for (const c of CASES) {
        const made = await svc.generateKey({
          slotId,
          type: c.type,
          purpose: c.purpose,
          label: `${c.purpose}${c.exportable ? '-exportable' : ''}`,
          ...(c.exportable ? { exportable: true } : {}),
        });
        ids.set(c, made.id);
      }
    });
    afterAll(async () => {
      await svc.unloadModule();
      hsm.cleanup();
    });

    const read = (id: string, cls: keyof typeof OF_CLASS): Record<string, boolean | null> => {
      const { pkcs11, session, find } = svc._raw(slotId);
      const names = OF_CLASS[cls];
      const values = pkcs11.C_GetAttributeValue(
        session,
        find(id, cls),
        names.map((n) => ({ type: ATTRS[n]! })),
      );
      return Object.fromEntries(names.map((n, i) => [n, readBool(values[i]!.value as Buffer)]));
    };

    it.each(CASES.map((c) => [`${c.purpose}${c.exportable ? ' (exportable)' : ''}`, c] as const))(
      '%s: C_GetAttributeValue reads back exactly the attributes its purpose allows',
      (_name, c) => {
        for (const [cls, expected] of Object.entries(c.attrs)) {
          expect(read(ids.get(c)!, cls as keyof typeof OF_CLASS), `${c.purpose} ${cls}`).toEqual(expected);
        }
      },
    );

    it('pkcs11-tool, in a process of its own, sees the same usages and protections', () => {
      const text = execFileSync(
        'pkcs11-tool',
        ['--module', hsm.modulePath, '--slot', String(slotId), '-O', '--login', '--pin', hsm.userPin],
        { env: hsm.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const objects = parsePkcs11ToolObjects(text);
      for (const c of CASES) {
        for (const [cls, expected] of Object.entries(c.tool)) {
          const found = objects.find(
            (o) => o.ID === ids.get(c) && TOOL_KIND[cls as keyof typeof TOOL_KIND].test(o.kind!),
          );
          expect(found, `${c.purpose} ${cls}`).toBeDefined();
          expect({ usage: found!.Usage, access: found!.Access }, `${c.purpose} ${cls}`).toEqual(expected);
        }
      }
    });

    it('an exportable key is not wrapped under an untrusted KEK: the token refuses, and mkm says why first', async () => {
      const data = [...ids].find(([c]) => c.purpose === 'data' && c.exportable)![1];
      const kek = [...ids].find(([c]) => c.purpose === 'kek')![1];
      const e = await failure(
        svc.wrapKey({ slotId, wrappingKeyId: kek, keyId: data, mechanism: 'AES_KEY_WRAP' }),
      );
      expect(e.code).toBe('KEY_WRAP_UNTRUSTED');
      expect(e.details).toMatchObject({ keyId: data, wrappingKeyId: kek, wrappingKeyTrusted: false });
      // The token itself enforces it too, whatever mkm checks.
      const { pkcs11, session, find } = svc._raw(slotId);
      expect(() =>
        pkcs11.C_WrapKey(
          session,
          { mechanism: P.CKM_AES_KEY_WRAP },
          find(kek, 'secret'),
          find(data, 'secret'),
          Buffer.alloc(64),
        ),
      ).toThrow(/CKR_KEY_NOT_WRAPPABLE/);
      // A user cannot make the KEK trusted, nor take the restriction off the key.
      expect(() =>
        pkcs11.C_SetAttributeValue(session, find(kek, 'secret'), [{ type: P.CKA_TRUSTED, value: true }]),
      ).toThrow(/CKR_ATTRIBUTE_READ_ONLY/);
      expect(() =>
        pkcs11.C_SetAttributeValue(session, find(data, 'secret'), [
          { type: P.CKA_WRAP_WITH_TRUSTED, value: false },
        ]),
      ).toThrow(/CKR_ATTRIBUTE_READ_ONLY/);
      // The exportable HMAC key likewise.
      const hmac = [...ids].find(([c]) => c.purpose === 'hmac')![1];
      expect(
        (await failure(svc.wrapKey({ slotId, wrappingKeyId: kek, keyId: hmac, mechanism: 'AES_KEY_WRAP' })))
          .code,
      ).toBe('KEY_WRAP_UNTRUSTED');
    });

    it('under a KEK the security officer marked trusted, the exportable key does leave (wrapped)', async () => {
      const data = [...ids].find(([c]) => c.purpose === 'data' && c.exportable)![1];
      createTrustedKek(hsm, slotId, { idHex: 'a0e5', label: 'so escrow', value: randomBytes(32) });
      const { wrapped } = await svc.wrapKey({
        slotId,
        wrappingKeyId: 'a0e5',
        keyId: data,
        mechanism: 'AES_KEY_WRAP_PAD',
      });
      expect(Buffer.from(wrapped, 'base64')).toHaveLength(40);
    });

    it('keys made another way get the same rules: a gateway key set unwrapped as session keys, an imported exportable key', async () => {
      const transport = [...ids].find(([c]) => c.purpose === 'gateway-transport')![1];
      const { pem } = await svc.exportPublicKey({ slotId, id: transport, format: 'pem' });
      const wrap = (value: Buffer) =>
        publicEncrypt(
          { key: pem!, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
          value,
        ).toString('base64');
      const enc = await svc.unwrapKey({
        slotId,
        unwrappingKeyId: transport,
        mechanism: 'RSA_OAEP_SHA1',
        wrapped: wrap(randomBytes(32)),
        keyType: 'aes-256',
        label: 'set-enc',
        token: false,
      });
      expect(read(enc.id, 'secret')).toEqual({
        ...SECRET_BASE,
        ...NO_SECRET_USE,
        token: false,
        extractable: false,
        encrypt: true,
        decrypt: true,
        sign: true,
      });
      const mac = await svc.unwrapKey({
        slotId,
        unwrappingKeyId: transport,
        mechanism: 'RSA_OAEP_SHA1',
        wrapped: wrap(randomBytes(32)),
        keyType: 'hmac-256',
        label: 'set-mac',
        token: false,
      });
      expect(read(mac.id, 'secret')).toEqual({
        ...SECRET_BASE,
        ...NO_SECRET_USE,
        token: false,
        extractable: false,
        sign: true,
        verify: true,
      });
      const imported = await svc.importKey({
        slotId,
        type: 'hmac-256',
        label: 'imported',
        purpose: 'hmac',
        exportable: true,
        keyHex: randomBytes(32).toString('hex'),
      });
      expect(read(imported.id, 'secret')).toEqual({
        ...SECRET_BASE,
        ...NO_SECRET_USE,
        extractable: true,
        wrapWithTrusted: true,
        sign: true,
        verify: true,
      });
    });

    it('the transport public key wraps nothing, not even a key that may leave under any KEK', async () => {
      const transport = [...ids].find(([c]) => c.purpose === 'gateway-transport')![1];
      const { pkcs11, session } = svc._raw(slotId);
      // An extractable key without CKA_WRAP_WITH_TRUSTED (as another tool could make), so only
      // the transport key's own CKA_WRAP decides.
      const looseId = 'b00c';
      pkcs11.C_GenerateKey(session, { mechanism: P.CKM_AES_KEY_GEN }, [
        { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
        { type: P.CKA_VALUE_LEN, value: 32 },
        { type: P.CKA_ID, value: Buffer.from(looseId, 'hex') },
        { type: P.CKA_TOKEN, value: false },
        { type: P.CKA_SENSITIVE, value: true },
        { type: P.CKA_EXTRACTABLE, value: true },
        { type: P.CKA_WRAP_WITH_TRUSTED, value: false },
      ]);
      const e = await failure(
        svc.wrapKey({ slotId, wrappingKeyId: transport, keyId: looseId, mechanism: 'RSA_OAEP_SHA1' }),
      );
      expect(e.code).toBe('KEY_NOT_PERMITTED');
      expect(e.details).toMatchObject({ ckr: 'CKR_KEY_FUNCTION_NOT_PERMITTED' });
    });
  },
);
