import { createCipheriv, createHmac, createVerify, publicEncrypt, randomBytes, constants } from 'node:crypto';
import { aesCmacKcv } from '../../crypto/kcv.nodejs';
import { CKR_MEANS, probeReason, toMkmError } from './ckr.std';
import { CMAC, CKM_AES_KEY_WRAP_KWP, HMAC_SHA256, oaep, rfc3394Iv, SHA256_RSA_PKCS } from './mechanisms.host';
import { pkcs11js, readBool, type Handle, type Mechanism, type PKCS11, type Template } from './pkcs11.host';
import { rsaPublicFromComponents } from './spki.nodejs';
import {
  CAPABILITY_NAMES,
  type CapabilitiesResult,
  type Capability,
  type CapabilityName,
  type TokenSummary,
} from '../../../shared/tokens.std';

/**
 * What the token really does, found by doing it on temporary objects, destroyed here. Session
 * objects (CKA_TOKEN false, gone with the session) are tried first; a token that refuses them
 * (tpm2-pkcs11 makes only token objects) gets token objects, which are always destroyed again,
 * and leftovers of an interrupted probe (label PROBE_LABEL) are swept at the start.
 *
 * Mechanism lists lie: SoftHSM2 2.6 lists CKM_RSA_PKCS_OAEP but unwraps only with SHA-1;
 * tpm2-pkcs11 lists CKM_AES_KEY_GEN and answers C_GenerateKey with CKR_FUNCTION_NOT_SUPPORTED;
 * NSS's CKM_AES_KEY_WRAP_PAD (0x210A) is PKCS#7 padding around RFC 3394, its RFC 5649 is 0x210B.
 * Where software can predict the answer (known key values), the token's answer is compared with
 * it, so "works" also means "interoperates".
 *
 * Every "no" carries a reason in an admin's words; the raw CKR name, for support and for
 * comparing with the token's own tools, goes in `detail`.
 */
const P = pkcs11js;
export const PROBE_LABEL = 'mkm-probe';

export interface ProbeContext {
  pkcs11: PKCS11;
  /**
   * Opens a session of the probe's own on the slot (logged in if the app is). Trials run there,
   * never in the app's session: a failed operation may leave it active (tpm2-pkcs11 after a
   * refused OAEP), so after each refusal the probe moves to a fresh one.
   */
  openSession(): Handle;
  slot: Handle;
  token: TokenSummary;
}

class Failed extends Error {}

interface Refusal {
  reason: string;
  detail?: string;
}

function refusalOf(error: unknown): Refusal {
  if (error instanceof Failed) {
    const detail = (error as Failed & { detail?: string }).detail;
    return detail ? { reason: error.message, detail } : { reason: error.message };
  }
  const e = toMkmError(error);
  const ckr = typeof e.details?.ckr === 'string' ? e.details.ckr : undefined;
  return { reason: probeReason(ckr), detail: ckr ?? e.code };
}

export async function probeCapabilities(ctx: ProbeContext): Promise<CapabilitiesResult> {
  const { pkcs11, slot, token } = ctx;
  const sessions = [ctx.openSession()];
  let session = sessions[0]!;
  const caps = {} as Record<CapabilityName, Capability>;
  const created: Handle[] = [];
  let mechanisms = new Set<number>();
  try {
    mechanisms = new Set(pkcs11.C_GetMechanismList(slot));
  } catch {
    // Some tokens refuse the list; the trials below still tell.
  }
  const listed = (m: number) => mechanisms.size === 0 || mechanisms.has(m);
  sweepLeftovers(pkcs11, session);

  const no = (r: Refusal, mechs: readonly number[]): Capability => {
    const offered = mechs.length === 0 || mechs.some(listed);
    return {
      supported: false,
      reason: r.reason + (offered ? '' : ' (the token does not list it)'),
      ...(r.detail ? { detail: r.detail } : {}),
    };
  };
  const attempt = async (
    name: CapabilityName,
    mechs: readonly number[],
    fn: () => void | Capability | Promise<void | Capability>,
  ) => {
    try {
      const found = await fn();
      caps[name] = found ?? { supported: true };
    } catch (error) {
      caps[name] = no(refusalOf(error), mechs);
      // Objects stay usable from the new session; the old one stays open for its session objects.
      try {
        session = ctx.openSession();
        sessions.push(session);
      } catch {
        // The token allows no more sessions: the next trials say so themselves.
      }
    }
  };
  const expect = (ok: boolean, message: string) => {
    if (!ok) throw new Failed(message);
  };
  const track = (h: Handle) => {
    created.push(h);
    return h;
  };

  let kwpMechanism: number | null = null;
  // Session objects first; once a token refuses them and takes token objects, token objects.
  let tokenObjects = false;
  const placed = (tokenObject: boolean, extra: Template): Template => [
    { type: P.CKA_TOKEN, value: tokenObject },
    // A token object keeps the token's default privacy (some tokens refuse public secret keys).
    ...(tokenObject ? [] : [{ type: P.CKA_PRIVATE, value: false }]),
    { type: P.CKA_LABEL, value: PROBE_LABEL },
    ...extra,
  ];
  const make = async <T>(build: (tokenObject: boolean) => T | Promise<T>): Promise<T> => {
    if (tokenObjects) return build(true);
    try {
      return await build(false);
    } catch (sessionError) {
      if (sessionError instanceof Failed) throw sessionError;
      try {
        const made = await build(true);
        tokenObjects = true;
        return made;
      } catch (tokenError) {
        // Not logged in: the session answer says more about the token than the login does.
        const ckr = toMkmError(tokenError).details?.ckr;
        throw CKR_MEANS.notLoggedIn(ckr) ? sessionError : tokenError;
      }
    }
  };

  /** A secret key of a known value (sensitive; `usages` say what for). */
  const importSecret = (keyType: number, value: Buffer, usages: Template) =>
    make((t) =>
      track(
        pkcs11.C_CreateObject(
          session,
          placed(t, [
            { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
            { type: P.CKA_KEY_TYPE, value: keyType },
            { type: P.CKA_VALUE, value },
            { type: P.CKA_SENSITIVE, value: true },
            ...usages,
          ]),
        ),
      ),
    );
  const aesKey = (value: Buffer, extractable: boolean) =>
    importSecret(P.CKK_AES, value, [
      { type: P.CKA_EXTRACTABLE, value: extractable },
      { type: P.CKA_ENCRYPT, value: true },
      { type: P.CKA_DECRYPT, value: true },
      { type: P.CKA_SIGN, value: true },
      { type: P.CKA_WRAP, value: true },
      { type: P.CKA_UNWRAP, value: true },
    ]);
  /** A 32-byte secret key the token makes itself (sensitive; `usages` say what for). */
  const generateSecret = (mechanism: number, keyType: number, usages: Template) =>
    make((t) =>
      track(
        pkcs11.C_GenerateKey(
          session,
          { mechanism },
          placed(t, [
            { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
            { type: P.CKA_KEY_TYPE, value: keyType },
            { type: P.CKA_VALUE_LEN, value: 32 },
            { type: P.CKA_SENSITIVE, value: true },
            ...usages,
          ]),
        ),
      ),
    );
  const unwrapTemplate = (t: boolean): Template =>
    placed(t, [
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
  // `room`: an RSA answer gets exactly the modulus length; tpm2-pkcs11 reports the whole buffer
  // as its ciphertext otherwise.
  const encrypt = (mech: Mechanism, key: Handle, data: Buffer, room = data.length + 1024) => {
    pkcs11.C_EncryptInit(session, mech, key);
    return Buffer.from(pkcs11.C_Encrypt(session, data, Buffer.alloc(room)));
  };
  const decrypt = (mech: Mechanism, key: Handle, data: Buffer) => {
    pkcs11.C_DecryptInit(session, mech, key);
    return Buffer.from(pkcs11.C_Decrypt(session, data, Buffer.alloc(data.length + 1024)));
  };

  try {
    await attempt('random', [], () => {
      expect(
        pkcs11.C_GenerateRandom(session, Buffer.alloc(16)).length === 16,
        'the token returned too few random bytes',
      );
    });

    await attempt('aes256Generate', [P.CKM_AES_KEY_GEN], async () => {
      await generateSecret(P.CKM_AES_KEY_GEN, P.CKK_AES, [
        { type: P.CKA_EXTRACTABLE, value: false },
        { type: P.CKA_ENCRYPT, value: true },
      ]);
    });

    const kValue = randomBytes(32);
    let k: Handle | null = null;
    let kRefused: Refusal = { reason: 'the token does not accept an AES-256 key' };
    try {
      k = await aesKey(kValue, false);
    } catch (error) {
      const r = refusalOf(error);
      kRefused = { ...r, reason: `the token does not accept an AES-256 key (${r.reason})` };
    }
    const needK = (): Handle => {
      if (k) return k;
      throw Object.assign(new Failed(kRefused.reason), { detail: kRefused.detail });
    };

    await attempt('aesCbcPad', [P.CKM_AES_CBC_PAD], () => {
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

    await attempt('aesCmac', [P.CKM_AES_CMAC], () => {
      expect(cmacKcv(needK()) === aesCmacKcv(kValue), 'the CMAC differs from NIST SP 800-38B');
    });

    const tValue = randomBytes(32);
    const wrapTrial = async (mech: Mechanism, nodeCipher: string, iv: Buffer, standard: string) => {
      needK();
      const t = await aesKey(tValue, true).catch((error: unknown) => {
        const r = refusalOf(error);
        throw Object.assign(
          new Failed(`the token does not accept an extractable AES-256 key (${r.reason})`),
          {
            detail: r.detail,
          },
        );
      });
      const wrapped = Buffer.from(pkcs11.C_WrapKey(session, mech, needK(), t, Buffer.alloc(1024)));
      const c = createCipheriv(nodeCipher, kValue, iv);
      expect(
        wrapped.equals(Buffer.concat([c.update(tValue), c.final()])),
        `the wrapped key differs from ${standard}`,
      );
      const back = await make((tok) =>
        track(pkcs11.C_UnwrapKey(session, mech, needK(), wrapped, unwrapTemplate(tok))),
      );
      expect(cmacKcv(back) === aesCmacKcv(tValue), 'the unwrapped key differs from the wrapped one');
    };
    await attempt('aesKeyWrap', [P.CKM_AES_KEY_WRAP], () =>
      wrapTrial({ mechanism: P.CKM_AES_KEY_WRAP }, 'id-aes256-wrap', rfc3394Iv(), 'RFC 3394'),
    );
    // RFC 5649 is CKM_AES_KEY_WRAP_KWP (0x210B) in PKCS#11 3.0 and CKM_AES_KEY_WRAP_PAD (0x210A)
    // in SoftHSM2; NSS's 0x210A is something else. Both are tried; the first that matches counts.
    const kwpMechs = [CKM_AES_KEY_WRAP_KWP, P.CKM_AES_KEY_WRAP_PAD] as const;
    await attempt('aesKeyWrapPad', kwpMechs, async () => {
      const refusals: Refusal[] = [];
      for (const m of kwpMechs) {
        try {
          await wrapTrial({ mechanism: m }, 'id-aes256-wrap-pad', Buffer.from('a65959a6', 'hex'), 'RFC 5649');
          kwpMechanism = m;
          return { supported: true, mechanism: `0x${m.toString(16)}` };
        } catch (error) {
          refusals.push(refusalOf(error));
        }
      }
      // The more telling refusal: a wrong result says more than "not offered".
      const best =
        refusals.find((r) => !r.detail) ?? refusals.find((r) => !CKR_MEANS.mechanismInvalid(r.detail));
      const r = best ?? refusals[0]!;
      throw Object.assign(new Failed(r.reason), { detail: r.detail });
    });

    await attempt('hmacSha256', [P.CKM_SHA256_HMAC], async () => {
      const value = randomBytes(32);
      const data = Buffer.from('mkm capability probe');
      let imported: Handle | null = null;
      let importRefusal: unknown;
      try {
        imported = await importSecret(P.CKK_GENERIC_SECRET, value, [
          { type: P.CKA_SIGN, value: true },
          { type: P.CKA_VERIFY, value: true },
        ]);
      } catch (error) {
        importRefusal = error;
      }
      if (imported) {
        pkcs11.C_SignInit(session, HMAC_SHA256, imported);
        const mac = pkcs11.C_Sign(session, data, Buffer.alloc(64));
        expect(
          mac.equals(createHmac('sha256', value).update(data).digest()),
          'the MAC differs from HMAC-SHA256',
        );
        return;
      }
      // A token that takes no key values may still make its own HMAC keys (what mkm does for
      // an HMAC or audit key): then the MAC can only be checked by the token itself.
      let generated: Handle;
      try {
        generated = await generateSecret(P.CKM_GENERIC_SECRET_KEY_GEN, P.CKK_GENERIC_SECRET, [
          { type: P.CKA_SIGN, value: true },
          { type: P.CKA_VERIFY, value: true },
        ]);
      } catch {
        const r = refusalOf(importRefusal);
        throw Object.assign(new Failed(`the token neither takes nor makes an HMAC key (${r.reason})`), {
          detail: r.detail,
        });
      }
      pkcs11.C_SignInit(session, HMAC_SHA256, generated);
      const mac = Buffer.from(pkcs11.C_Sign(session, data, Buffer.alloc(64)));
      expect(mac.length === 32, 'the MAC is not 32 bytes long');
      pkcs11.C_VerifyInit(session, HMAC_SHA256, generated);
      pkcs11.C_Verify(session, data, mac);
    });

    // mkm makes a key exportable only with CKA_WRAP_WITH_TRUSTED on it (templates.std.ts). That
    // holds only where the token takes and keeps the attribute, a PIN holder cannot mark a KEK
    // CKA_TRUSTED (NSS softokn lets anyone), and the token itself keeps such a key from leaving
    // under an ordinary KEK (other tools do not ask mkm). Otherwise: no exportable keys.
    await attempt('wrapWithTrusted', [], async () => {
      const aes = (extra: Template) =>
        generateSecret(P.CKM_AES_KEY_GEN, P.CKK_AES, [{ type: P.CKA_ENCRYPT, value: true }, ...extra]);
      let key: Handle;
      try {
        key = await aes([
          { type: P.CKA_EXTRACTABLE, value: true },
          { type: P.CKA_WRAP_WITH_TRUSTED, value: true },
        ]);
      } catch (error) {
        const r = refusalOf(error);
        // The restriction refused, or AES keys at all? The same key, not extractable, tells.
        try {
          await aes([{ type: P.CKA_EXTRACTABLE, value: false }]);
        } catch {
          throw Object.assign(new Failed(`the token makes no AES key to try it with (${r.reason})`), {
            detail: r.detail,
          });
        }
        throw Object.assign(
          new Failed('the token cannot restrict an exported key to KEKs the security officer trusts'),
          { detail: r.detail },
        );
      }
      const [kept] = pkcs11.C_GetAttributeValue(session, key, [{ type: P.CKA_WRAP_WITH_TRUSTED }]);
      expect(
        readBool(kept!.value as Buffer) === true,
        'the token does not keep the restriction of an exported key to trusted KEKs',
      );
      let selfTrusted = false;
      try {
        // In the kind of object the token already took, without the fallback of `make`: SoftHSM2
        // leaves a half-made object behind a refused template, and only a session object goes
        // away with its session.
        track(
          pkcs11.C_CreateObject(
            session,
            placed(tokenObjects, [
              { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
              { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
              { type: P.CKA_VALUE, value: randomBytes(32) },
              { type: P.CKA_SENSITIVE, value: true },
              { type: P.CKA_EXTRACTABLE, value: false },
              { type: P.CKA_WRAP, value: true },
              { type: P.CKA_TRUSTED, value: true },
            ]),
          ),
        );
        selfTrusted = true;
      } catch {
        // Refused, as it must be: only the security officer marks a KEK trusted.
      }
      expect(!selfTrusted, 'anyone with the PIN can mark a KEK trusted on this token');
      const kek = await aes([
        { type: P.CKA_EXTRACTABLE, value: false },
        { type: P.CKA_WRAP, value: true },
      ]);
      let answer = 'wrapped';
      try {
        pkcs11.C_WrapKey(session, { mechanism: P.CKM_AES_KEY_WRAP }, kek, key, Buffer.alloc(1024));
      } catch (error) {
        answer = String(toMkmError(error).details?.ckr);
      }
      // Only the token's own "not wrappable" shows that it keeps the key in.
      expect(
        CKR_MEANS.keyNotWrappable(answer),
        'the token itself lets such a key leave under any KEK (only mkm would refuse)',
      );
    });

    await probeRsa();
  } finally {
    for (const h of created.reverse()) {
      try {
        pkcs11.C_DestroyObject(session, h);
      } catch {
        // Session objects go with their session; token objects are swept by the next probe.
      }
    }
    for (const s of sessions) {
      try {
        pkcs11.C_CloseSession(s);
      } catch {
        // Already gone.
      }
    }
  }

  async function probeRsa(): Promise<void> {
    // RSA sizes from the mechanism's key size range: generating 4096 only to learn that it works
    // takes seconds on a smartcard. One size in the range is really generated; the others in the
    // range share its answer, so the probe never says yes to one size and no to another for a
    // reason that is not the size.
    let range: { min: number; max: number } | null = null;
    try {
      const info = pkcs11.C_GetMechanismInfo(slot, P.CKM_RSA_PKCS_KEY_PAIR_GEN);
      // Some tokens report bytes instead of bits; any max below 512 cannot be bits.
      range =
        info.maxKeySize < 512
          ? { min: info.minKeySize * 8, max: info.maxKeySize * 8 }
          : { min: info.minKeySize, max: info.maxKeySize };
    } catch {
      range = null;
    }
    const sizes = [
      ['rsa2048Generate', 2048],
      ['rsa3072Generate', 3072],
      ['rsa4096Generate', 4096],
    ] as const;
    const inRange = (bits: number) => !range || (bits >= range.min && bits <= range.max);
    const trialBits = sizes.map(([, b]) => b).find(inRange);
    const genMechs = [P.CKM_RSA_PKCS_KEY_PAIR_GEN];

    let rsa: { priv: Handle; pub: ReturnType<typeof rsaPublicFromComponents>; pubHandle: Handle } | null =
      null;
    let trial: Capability = no({ reason: 'the token does not make RSA key pairs of these sizes' }, genMechs);
    if (trialBits !== undefined) {
      try {
        const pair = await make(async (t) => {
          const common = (cls: number): Template =>
            placed(t, [
              { type: P.CKA_CLASS, value: cls },
              { type: P.CKA_KEY_TYPE, value: P.CKK_RSA },
            ]);
          const made = await pkcs11.C_GenerateKeyPairAsync(
            session,
            { mechanism: P.CKM_RSA_PKCS_KEY_PAIR_GEN },
            [
              ...common(P.CKO_PUBLIC_KEY),
              { type: P.CKA_MODULUS_BITS, value: trialBits },
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
          track(made.publicKey);
          track(made.privateKey);
          return made;
        });
        const [n, e] = pkcs11.C_GetAttributeValue(session, pair.publicKey, [
          { type: P.CKA_MODULUS },
          { type: P.CKA_PUBLIC_EXPONENT },
        ]);
        rsa = {
          priv: pair.privateKey,
          pubHandle: pair.publicKey,
          pub: rsaPublicFromComponents(n!.value as Buffer, e!.value as Buffer),
        };
        trial = { supported: true };
      } catch (error) {
        trial = no(refusalOf(error), genMechs);
      }
    }
    for (const [name, bits] of sizes) {
      caps[name] =
        range && !inRange(bits)
          ? no({ reason: `the token makes RSA keys of ${range.min} to ${range.max} bits` }, [])
          : trial.supported || bits === trialBits
            ? trial
            : { ...trial, reason: `no RSA key pair could be made: ${trial.reason}` };
    }

    const needRsa = () => {
      if (!rsa) throw new Failed(`no RSA key pair could be made to try this (${trial.reason ?? ''})`);
      return rsa;
    };

    for (const [name, hash] of [
      ['rsaOaepSha1Encrypt', 'sha1'],
      ['rsaOaepSha256Encrypt', 'sha256'],
    ] as const) {
      await attempt(name, [P.CKM_RSA_PKCS_OAEP], () => {
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
        const fromToken = encrypt(oaep(hash), r.pubHandle, plain, Math.ceil(r.pub.bits / 8));
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
      await attempt(name, [P.CKM_RSA_PKCS_OAEP], async () => {
        const r = needRsa();
        // Exactly what a gateway sends: 32 random bytes under OAEP, wrapped by software.
        const value = randomBytes(32);
        const wrapped = publicEncrypt(
          { key: r.pub.keyObject, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash },
          value,
        );
        const key = await make((t) =>
          track(pkcs11.C_UnwrapKey(session, oaep(hash), r.priv, wrapped, unwrapTemplate(t))),
        );
        expect(cmacKcv(key) === aesCmacKcv(value), 'the unwrapped key differs from the one sent');
      });
    }

    await attempt('rsaPkcs1Encrypt', [P.CKM_RSA_PKCS], () => {
      const r = needRsa();
      const plain = randomBytes(32);
      const fromNode = publicEncrypt({ key: r.pub.keyObject, padding: constants.RSA_PKCS1_PADDING }, plain);
      const mech = { mechanism: P.CKM_RSA_PKCS };
      expect(decrypt(mech, r.priv, fromNode).equals(plain), 'the token did not decrypt PKCS#1 v1.5');
      const fromToken = encrypt(mech, r.pubHandle, plain, Math.ceil(r.pub.bits / 8));
      expect(decrypt(mech, r.priv, fromToken).equals(plain), 'round trip failed');
    });

    await attempt('rsaSha256Sign', [P.CKM_SHA256_RSA_PKCS], () => {
      const r = needRsa();
      const data = Buffer.from('mkm capability probe');
      pkcs11.C_SignInit(session, SHA256_RSA_PKCS, r.priv);
      const sig = Buffer.from(pkcs11.C_Sign(session, data, Buffer.alloc(1024)));
      expect(
        createVerify('sha256').update(data).verify(r.pub.keyObject, sig),
        'the signature does not verify',
      );
    });
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
    objects: tokenObjects ? 'token' : 'session',
    ...(kwpMechanism !== null ? { aesKeyWrapPadMechanism: kwpMechanism } : {}),
    probedAt: new Date().toISOString(),
  };
}

/** Token objects an interrupted probe left behind (a crash between create and destroy). */
function sweepLeftovers(pkcs11: PKCS11, session: Handle): void {
  try {
    pkcs11.C_FindObjectsInit(session, [{ type: P.CKA_LABEL, value: PROBE_LABEL }]);
    let found: Handle[] = [];
    try {
      found = pkcs11.C_FindObjects(session, 100);
    } finally {
      pkcs11.C_FindObjectsFinal(session);
    }
    for (const h of found) {
      try {
        pkcs11.C_DestroyObject(session, h);
      } catch {
        // Not ours to remove without a login; the next probe tries again.
      }
    }
  } catch {
    // A token that cannot search by label has nothing of ours to sweep that we could find.
  }
}
