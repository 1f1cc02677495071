import { createCipheriv, createHmac, createVerify, publicEncrypt, randomBytes, constants } from 'node:crypto';
import { aesCmacKcv } from '../../crypto/kcv.main';
import { toMkmError } from './ckr.std';
import { CMAC, HMAC_SHA256, oaep, SHA256_RSA_PKCS, wrapMechanism } from './mechanisms.host';
import { pkcs11js, type Handle, type Mechanism, type PKCS11, type Template } from './pkcs11.host';
import { rsaPublicFromComponents } from './spki.main';
import {
  CAPABILITY_NAMES,
  type CapabilitiesResult,
  type Capability,
  type CapabilityName,
  type TokenSummary,
} from './types.std';

/**
 * What the token really does, found by doing it on temporary session objects (CKA_TOKEN false,
 * gone when the session closes, destroyed here anyway). Mechanism lists lie: SoftHSM2 2.6
 * lists CKM_RSA_PKCS_OAEP but unwraps only with SHA-1; some tokens list CMAC and refuse it for
 * C_Sign. Where software can predict the answer (known key values), the token's answer is
 * compared with it, so "works" also means "interoperates".
 */
const P = pkcs11js;

export interface ProbeContext {
  pkcs11: PKCS11;
  session: Handle;
  slot: Handle;
  token: TokenSummary;
}

class Failed extends Error {}

export async function probeCapabilities(ctx: ProbeContext): Promise<CapabilitiesResult> {
  const { pkcs11, session, slot, token } = ctx;
  const caps = {} as Record<CapabilityName, Capability>;
  const created: Handle[] = [];
  let mechanisms = new Set<number>();
  try {
    mechanisms = new Set(pkcs11.C_GetMechanismList(slot));
  } catch {
    // Some tokens refuse the list; the trials below still tell.
  }
  const unlisted = (m: number) =>
    mechanisms.size > 0 && !mechanisms.has(m) ? ' (not in the mechanism list)' : '';

  const attempt = async (name: CapabilityName, mech: number | null, fn: () => void | Promise<void>) => {
    try {
      await fn();
      caps[name] = { supported: true };
    } catch (error) {
      const why =
        error instanceof Failed
          ? error.message
          : (() => {
              const e = toMkmError(error);
              const ckr = e.details?.ckr;
              // During a probe the app's requests are known-good, so a "bad arguments" answer
              // means the token refuses the mechanism's parameters (SoftHSM2: OAEP with SHA-256).
              if (ckr === 'CKR_ARGUMENTS_BAD' || ckr === 'CKR_MECHANISM_PARAM_INVALID') {
                return `${ckr}: the token refuses the parameters of this mechanism`;
              }
              return `${ckr ?? e.code}: ${e.message}`;
            })();
      caps[name] = { supported: false, reason: why + (mech === null ? '' : unlisted(mech)) };
    }
  };
  const expect = (ok: boolean, message: string) => {
    if (!ok) throw new Failed(message);
  };
  const track = (h: Handle) => {
    created.push(h);
    return h;
  };
  const sessionKey = (extra: Template): Template => [
    { type: P.CKA_TOKEN, value: false },
    { type: P.CKA_PRIVATE, value: false },
    { type: P.CKA_LABEL, value: 'mkm-probe' },
    ...extra,
  ];
  const aesKey = (value: Buffer, extractable: boolean) =>
    track(
      pkcs11.C_CreateObject(
        session,
        sessionKey([
          { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
          { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
          { type: P.CKA_VALUE, value },
          { type: P.CKA_SENSITIVE, value: true },
          { type: P.CKA_EXTRACTABLE, value: extractable },
          { type: P.CKA_ENCRYPT, value: true },
          { type: P.CKA_DECRYPT, value: true },
          { type: P.CKA_SIGN, value: true },
          { type: P.CKA_WRAP, value: true },
          { type: P.CKA_UNWRAP, value: true },
        ]),
      ),
    );
  const unwrapTemplate = (): Template =>
    sessionKey([
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
      { type: P.CKA_SENSITIVE, value: true },
      { type: P.CKA_EXTRACTABLE, value: false },
      { type: P.CKA_SIGN, value: true },
    ]);
  const cmacKcv = (key: Handle) => {
    pkcs11.C_SignInit(session, CMAC, key);
    return pkcs11.C_Sign(session, Buffer.alloc(16), Buffer.alloc(64)).subarray(0, 3).toString('hex');
  };
  const encrypt = (mech: Mechanism, key: Handle, data: Buffer) => {
    pkcs11.C_EncryptInit(session, mech, key);
    return Buffer.from(pkcs11.C_Encrypt(session, data, Buffer.alloc(data.length + 1024)));
  };
  const decrypt = (mech: Mechanism, key: Handle, data: Buffer) => {
    pkcs11.C_DecryptInit(session, mech, key);
    return Buffer.from(pkcs11.C_Decrypt(session, data, Buffer.alloc(data.length + 1024)));
  };

  try {
    await attempt('random', null, () => {
      expect(
        pkcs11.C_GenerateRandom(session, Buffer.alloc(16)).length === 16,
        'the token returned too few random bytes',
      );
    });

    await attempt('aes256Generate', P.CKM_AES_KEY_GEN, () => {
      track(
        pkcs11.C_GenerateKey(
          session,
          { mechanism: P.CKM_AES_KEY_GEN },
          sessionKey([
            { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
            { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
            { type: P.CKA_VALUE_LEN, value: 32 },
            { type: P.CKA_SENSITIVE, value: true },
            { type: P.CKA_EXTRACTABLE, value: false },
            { type: P.CKA_ENCRYPT, value: true },
          ]),
        ),
      );
    });

    const kValue = randomBytes(32);
    let k: Handle | null = null;
    try {
      k = aesKey(kValue, false);
    } catch {
      // Without an importable AES key the AES trials below report why one by one.
    }
    const needK = (): Handle => {
      if (!k) throw new Failed('the token refused a temporary AES-256 key');
      return k;
    };

    await attempt('aesCbcPad', P.CKM_AES_CBC_PAD, () => {
      const iv = randomBytes(16);
      const plain = randomBytes(37);
      const mech = { mechanism: P.CKM_AES_CBC_PAD, parameter: iv };
      const ct = encrypt(mech, needK(), plain);
      const c = createCipheriv('aes-256-cbc', kValue, iv);
      expect(
        ct.equals(Buffer.concat([c.update(plain), c.final()])),
        'the ciphertext differs from AES-256-CBC with PKCS#7',
      );
      expect(decrypt(mech, needK(), ct).equals(plain), 'decryption did not return the plaintext');
    });

    await attempt('aesCmac', P.CKM_AES_CMAC, () => {
      expect(cmacKcv(needK()) === aesCmacKcv(kValue), 'the CMAC differs from NIST SP 800-38B');
    });

    const tValue = randomBytes(32);
    for (const [name, mechName, nodeCipher, iv] of [
      ['aesKeyWrap', 'AES_KEY_WRAP', 'id-aes256-wrap', Buffer.from('a6a6a6a6a6a6a6a6', 'hex')],
      ['aesKeyWrapPad', 'AES_KEY_WRAP_PAD', 'id-aes256-wrap-pad', Buffer.from('a65959a6', 'hex')],
    ] as const) {
      const mech = wrapMechanism(mechName);
      await attempt(name, mech.mechanism, () => {
        const t = aesKey(tValue, true);
        const wrapped = Buffer.from(pkcs11.C_WrapKey(session, mech, needK(), t, Buffer.alloc(1024)));
        const c = createCipheriv(nodeCipher, kValue, iv);
        const expected = Buffer.concat([c.update(tValue), c.final()]);
        expect(
          wrapped.equals(expected),
          `the wrapped key differs from ${name === 'aesKeyWrap' ? 'RFC 3394' : 'RFC 5649'}`,
        );
        const back = track(pkcs11.C_UnwrapKey(session, mech, needK(), wrapped, unwrapTemplate()));
        expect(cmacKcv(back) === aesCmacKcv(tValue), 'the unwrapped key differs from the wrapped one');
      });
    }

    await attempt('hmacSha256', P.CKM_SHA256_HMAC, () => {
      const value = randomBytes(32);
      const h = track(
        pkcs11.C_CreateObject(
          session,
          sessionKey([
            { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
            { type: P.CKA_KEY_TYPE, value: P.CKK_GENERIC_SECRET },
            { type: P.CKA_VALUE, value },
            { type: P.CKA_SENSITIVE, value: true },
            { type: P.CKA_SIGN, value: true },
            { type: P.CKA_VERIFY, value: true },
          ]),
        ),
      );
      const data = Buffer.from('mkm capability probe');
      pkcs11.C_SignInit(session, HMAC_SHA256, h);
      const mac = pkcs11.C_Sign(session, data, Buffer.alloc(64));
      expect(
        mac.equals(createHmac('sha256', value).update(data).digest()),
        'the MAC differs from HMAC-SHA256',
      );
    });

    // RSA sizes from the mechanism's key size range: generating 4096 only to learn that it works
    // takes seconds on a smartcard.
    let range: { min: number; max: number } | null = null;
    try {
      const info = pkcs11.C_GetMechanismInfo(slot, P.CKM_RSA_PKCS_KEY_PAIR_GEN);
      range = { min: info.minKeySize, max: info.maxKeySize };
    } catch {
      range = null;
    }
    // Some tokens report bytes instead of bits; any max below 512 cannot be bits.
    const inBits = range && range.max < 512 ? { min: range.min * 8, max: range.max * 8 } : range;
    const sizeCap = (bits: number): Capability =>
      !inBits
        ? { supported: false, reason: 'the token does not offer RSA key pair generation' }
        : bits >= inBits.min && bits <= inBits.max
          ? { supported: true }
          : {
              supported: false,
              reason: `the token generates RSA keys of ${inBits.min} to ${inBits.max} bits`,
            };

    let rsa: { priv: Handle; pub: ReturnType<typeof rsaPublicFromComponents>; pubHandle: Handle } | null =
      null;
    await attempt('rsa2048Generate', P.CKM_RSA_PKCS_KEY_PAIR_GEN, async () => {
      const common = (cls: number): Template =>
        sessionKey([
          { type: P.CKA_CLASS, value: cls },
          { type: P.CKA_KEY_TYPE, value: P.CKK_RSA },
        ]);
      const pair = await pkcs11.C_GenerateKeyPairAsync(
        session,
        { mechanism: P.CKM_RSA_PKCS_KEY_PAIR_GEN },
        [
          ...common(P.CKO_PUBLIC_KEY),
          { type: P.CKA_MODULUS_BITS, value: 2048 },
          { type: P.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
          { type: P.CKA_ENCRYPT, value: true },
          { type: P.CKA_WRAP, value: true },
          { type: P.CKA_VERIFY, value: true },
        ],
        [
          ...common(P.CKO_PRIVATE_KEY),
          { type: P.CKA_SENSITIVE, value: true },
          { type: P.CKA_EXTRACTABLE, value: false },
          { type: P.CKA_DECRYPT, value: true },
          { type: P.CKA_UNWRAP, value: true },
          { type: P.CKA_SIGN, value: true },
        ],
      );
      track(pair.publicKey);
      track(pair.privateKey);
      const [n, e] = pkcs11.C_GetAttributeValue(session, pair.publicKey, [
        { type: P.CKA_MODULUS },
        { type: P.CKA_PUBLIC_EXPONENT },
      ]);
      rsa = {
        priv: pair.privateKey,
        pubHandle: pair.publicKey,
        pub: rsaPublicFromComponents(n!.value as Buffer, e!.value as Buffer),
      };
    });
    caps.rsa2048Generate = caps.rsa2048Generate!;
    caps.rsa3072Generate = sizeCap(3072);
    caps.rsa4096Generate = sizeCap(4096);
    const needRsa = () => {
      if (!rsa) throw new Failed('no temporary RSA-2048 key pair could be made to try this');
      return rsa as { priv: Handle; pub: ReturnType<typeof rsaPublicFromComponents>; pubHandle: Handle };
    };

    for (const [name, hash] of [
      ['rsaOaepSha1Encrypt', 'sha1'],
      ['rsaOaepSha256Encrypt', 'sha256'],
    ] as const) {
      await attempt(name, P.CKM_RSA_PKCS_OAEP, () => {
        const r = needRsa();
        const plain = randomBytes(32);
        const fromNode = publicEncrypt(
          { key: r.pub.keyObject, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash },
          plain,
        );
        expect(
          decrypt(oaep(hash), r.priv, fromNode).equals(plain),
          'the token did not decrypt standard OAEP',
        );
        const fromToken = encrypt(oaep(hash), r.pubHandle, plain);
        expect(
          decrypt(oaep(hash), r.priv, fromToken).equals(plain),
          'the token did not decrypt its own OAEP',
        );
      });
    }

    for (const [name, hash] of [
      ['rsaOaepSha1Unwrap', 'sha1'],
      ['rsaOaepSha256Unwrap', 'sha256'],
    ] as const) {
      await attempt(name, P.CKM_RSA_PKCS_OAEP, () => {
        const r = needRsa();
        // Exactly what a gateway sends: 32 random bytes under OAEP, wrapped by software.
        const value = randomBytes(32);
        const wrapped = publicEncrypt(
          { key: r.pub.keyObject, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash },
          value,
        );
        const key = track(pkcs11.C_UnwrapKey(session, oaep(hash), r.priv, wrapped, unwrapTemplate()));
        expect(cmacKcv(key) === aesCmacKcv(value), 'the unwrapped key differs from the one sent');
      });
    }

    await attempt('rsaPkcs1Encrypt', P.CKM_RSA_PKCS, () => {
      const r = needRsa();
      const plain = randomBytes(32);
      const fromNode = publicEncrypt({ key: r.pub.keyObject, padding: constants.RSA_PKCS1_PADDING }, plain);
      const mech = { mechanism: P.CKM_RSA_PKCS };
      expect(decrypt(mech, r.priv, fromNode).equals(plain), 'the token did not decrypt PKCS#1 v1.5');
      expect(decrypt(mech, r.priv, encrypt(mech, r.pubHandle, plain)).equals(plain), 'round trip failed');
    });

    await attempt('rsaSha256Sign', P.CKM_SHA256_RSA_PKCS, () => {
      const r = needRsa();
      const data = Buffer.from('mkm capability probe');
      pkcs11.C_SignInit(session, SHA256_RSA_PKCS, r.priv);
      const sig = Buffer.from(pkcs11.C_Sign(session, data, Buffer.alloc(1024)));
      expect(
        createVerify('sha256').update(data).verify(r.pub.keyObject, sig),
        'the signature does not verify',
      );
    });
  } finally {
    for (const h of created.reverse()) {
      try {
        pkcs11.C_DestroyObject(session, h);
      } catch {
        // Session objects go with the session anyway.
      }
    }
  }

  for (const name of CAPABILITY_NAMES) caps[name] ??= { supported: false, reason: 'not probed' };
  const cacheKey = [token.manufacturer, token.model, token.firmware].join('|');
  return {
    cacheKey,
    token: { manufacturer: token.manufacturer, model: token.model, firmware: token.firmware },
    capabilities: caps,
    bestOaepUnwrap: caps.rsaOaepSha256Unwrap.supported
      ? 'RSA_OAEP_SHA256'
      : caps.rsaOaepSha1Unwrap.supported
        ? 'RSA_OAEP_SHA1'
        : null,
    probedAt: new Date().toISOString(),
  };
}
