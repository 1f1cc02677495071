import { MkmError } from '../../../shared/errors.std';
import type { KeyPurpose, KeyType, KeyUsage, SecretKeyType } from '../../../shared/tokens.std';

/**
 * Key templates, in words, decided in one place. The host file turns them into CKA_* numbers.
 *
 * Every template names every usage explicitly (true or false): tokens differ in their defaults
 * (SoftHSM2 defaults CKA_ENCRYPT, CKA_SIGN, ... to true), so leaving one out would hand a key a
 * usage nobody decided on. Keys are token objects, private, sensitive and not extractable.
 *
 * AES keys carry CKA_SIGN for one reason: the gateway contract's KCV is AES-CMAC, which a token
 * computes only with C_Sign. A CMAC gives nothing beyond what CBC encryption under the same key
 * already gives, and the app never exposes CMAC of caller data.
 *
 * The rule per purpose (least privilege: what the app really does with the key, nothing more):
 *
 * | purpose           | half    | may                         | why                                           |
 * | ----------------- | ------- | --------------------------- | --------------------------------------------- |
 * | gateway-transport | private | unwrap                      | key sets unwrap into the token, never clear   |
 * |                   | public  | nothing                     | the gateway wraps under the exported PEM, off |
 * |                   |         |                             | the token; CKA_WRAP would let a PIN holder    |
 * |                   |         |                             | wrap a key out and unwrap it back readable    |
 * | encryption        | private | decrypt                     | test and troubleshooting keys                 |
 * |                   | public  | encrypt                     |                                               |
 * | signing           | private | sign                        | CSRs, exchange packages; nothing else         |
 * |                   | public  | verify                      |                                               |
 * | data (AES)        | secret  | encrypt, decrypt, sign(KCV) | may be made exportable: trusted KEK only      |
 * | kek (AES)         | secret  | wrap, unwrap, sign(KCV)     | never leaves                                  |
 * | hmac              | secret  | sign, verify                | may be made exportable: trusted KEK only      |
 * | audit (HMAC, AES) | secret  | sign, verify                | never leaves; AES seals with CMAC             |
 * | audit (RSA)       | private | sign                        | PSS seals where no MAC key can be made        |
 * |                   | public  | verify                      |                                               |
 * | unwrapped key set | secret  | as data / hmac              | never leaves (session objects)                |
 *
 * Every key that may leave the token at all (a data or hmac key made `exportable`:
 * CKA_EXTRACTABLE) carries CKA_WRAP_WITH_TRUSTED = true: it leaves only under a KEK the security
 * officer marked CKA_TRUSTED, so a user PIN holder cannot wrap it under a KEK of their own and
 * unwrap it back with a template that makes it readable. The token enforces it (SoftHSM2:
 * CKR_KEY_NOT_WRAPPABLE) and the token service checks it first (KEY_WRAP_UNTRUSTED), for tokens
 * that would not (NSS softokn keeps the attribute but wraps anyway). Neither the user nor mkm can
 * clear CKA_WRAP_WITH_TRUSTED or set CKA_TRUSTED (CKR_ATTRIBUTE_READ_ONLY); on SoftHSM2 even the
 * SO can make only public objects, so a trusted KEK is a public, sensitive, wrap-only key the SO
 * makes with the token's own tools.
 *
 * | key                          | CKA_EXTRACTABLE | CKA_WRAP_WITH_TRUSTED | why                      |
 * | ---------------------------- | --------------- | --------------------- | ------------------------ |
 * | data / hmac, `exportable`    | true            | true                  | leaves under trusted KEK |
 * | every other secret key       | false           | not set               | C_WrapKey refuses a non- |
 * | every private key            | false           | not set               | extractable key at all   |
 * |                              |                 |                       | (CKR_KEY_UNEXTRACTABLE), |
 * |                              |                 |                       | and CKA_EXTRACTABLE can  |
 * |                              |                 |                       | never turn true again:   |
 * |                              |                 |                       | the attribute would add  |
 * |                              |                 |                       | nothing                  |
 *
 * Leaving it off where it adds nothing lets tokens that do not know the attribute (openCryptoki's
 * swtok: CKR_ATTRIBUTE_TYPE_INVALID) make every non-exportable key. An exportable key is never
 * made without it: on such a token its generation or import is refused (CAPABILITY_MISSING,
 * capability `wrapWithTrusted`), and the probe says so beforehand.
 */

export type BoolAttr =
  | 'token'
  | 'private'
  | 'sensitive'
  | 'extractable'
  | 'encrypt'
  | 'decrypt'
  | 'wrap'
  | 'unwrap'
  | 'sign'
  | 'verify'
  | 'derive'
  | 'wrapWithTrusted';

export type AbstractTemplate = Partial<Record<BoolAttr, boolean>>;

const USAGE_ATTRS = ['encrypt', 'decrypt', 'wrap', 'unwrap', 'sign', 'verify', 'derive'] as const;

interface PurposeRule {
  keyTypes: readonly KeyType[];
  /** Usages for a secret key, or for the private and public halves of a key pair. */
  secret?: readonly KeyUsage[];
  private?: readonly KeyUsage[];
  public?: readonly KeyUsage[];
  /** May a secret key of this purpose be exported wrapped (CKA_EXTRACTABLE with CKA_SENSITIVE)? */
  exportable: boolean;
}

export const PURPOSES: Readonly<Record<KeyPurpose, PurposeRule>> = {
  // Unwrap only: with CKA_DECRYPT, C_Decrypt would hand a gateway's wrapped enc_key or mac_key
  // back in clear, and the contract says they never are outside a token. The public half does
  // nothing on the token (see the table above).
  'gateway-transport': {
    keyTypes: ['rsa-2048', 'rsa-3072', 'rsa-4096'],
    private: ['unwrap'],
    public: [],
    exportable: false,
  },
  encryption: {
    keyTypes: ['rsa-2048', 'rsa-3072', 'rsa-4096'],
    private: ['decrypt'],
    public: ['encrypt'],
    exportable: false,
  },
  signing: {
    keyTypes: ['rsa-2048', 'rsa-3072', 'rsa-4096'],
    private: ['sign'],
    public: ['verify'],
    exportable: false,
  },
  data: { keyTypes: ['aes-256'], secret: ['encrypt', 'decrypt', 'sign'], exportable: true },
  kek: { keyTypes: ['aes-256'], secret: ['wrap', 'unwrap', 'sign'], exportable: false },
  hmac: { keyTypes: ['hmac-256'], secret: ['sign', 'verify'], exportable: true },
  // HMAC where the token makes one; else AES (CMAC) or RSA (PSS signatures): audit seals on
  // what the token has (issue 12).
  audit: {
    keyTypes: ['hmac-256', 'aes-256', 'rsa-2048', 'rsa-3072'],
    secret: ['sign', 'verify'],
    private: ['sign'],
    public: ['verify'],
    exportable: false,
  },
};

export function purposeRule(type: KeyType, purpose: KeyPurpose): PurposeRule {
  const rule = PURPOSES[purpose];
  if (!rule.keyTypes.includes(type)) {
    throw new MkmError('VALIDATION', `A ${type} key cannot be used for ${purpose}.`, {
      type,
      purpose,
      allowed: [...rule.keyTypes],
    });
  }
  return rule;
}

function usages(
  list: readonly KeyUsage[],
  allowed: readonly (typeof USAGE_ATTRS)[number][],
): AbstractTemplate {
  const t: AbstractTemplate = {};
  for (const u of allowed) t[u] = list.includes(u);
  return t;
}

// Which usage attributes each object class has at all (PKCS#11 §4.8–4.10): a public key has no
// CKA_DECRYPT, a private key no CKA_ENCRYPT; some tokens reject a template that names them.
const SECRET_USAGES = USAGE_ATTRS;
const PRIVATE_USAGES = ['decrypt', 'unwrap', 'sign', 'derive'] as const;
const PUBLIC_USAGES = ['encrypt', 'wrap', 'verify', 'derive'] as const;

export interface SecretTemplateOptions {
  /** false: a session object (one-use gateway key sets, probes). */
  token?: boolean;
  exportable?: boolean;
}

export function secretKeyTemplate(
  type: SecretKeyType,
  purpose: KeyPurpose,
  options: SecretTemplateOptions = {},
): AbstractTemplate {
  const rule = purposeRule(type, purpose);
  if (options.exportable && !rule.exportable) {
    throw new MkmError('VALIDATION', `A ${purpose} key must never leave the token, even wrapped.`, {
      purpose,
    });
  }
  return {
    token: options.token ?? true,
    private: true,
    sensitive: true,
    extractable: options.exportable === true,
    ...(options.exportable === true ? { wrapWithTrusted: true } : {}),
    ...usages(rule.secret ?? [], SECRET_USAGES),
  };
}

export interface KeyPairTemplates {
  privateKey: AbstractTemplate;
  publicKey: AbstractTemplate;
}

export function keyPairTemplates(
  type: KeyType,
  purpose: KeyPurpose,
  options: { token?: boolean } = {},
): KeyPairTemplates {
  const rule = purposeRule(type, purpose);
  const token = options.token ?? true;
  return {
    privateKey: {
      token,
      private: true,
      sensitive: true,
      extractable: false,
      ...usages(rule.private ?? [], PRIVATE_USAGES),
    },
    // A public key is public: readable without login, so the gateway PEM can be exported any time.
    publicKey: { token, private: false, ...usages(rule.public ?? [], PUBLIC_USAGES) },
  };
}

/**
 * A key with CKA_WRAP_WITH_TRUSTED leaves only under a wrapping key with CKA_TRUSTED. Checked
 * before the token is asked, so the refusal is the same on a token that would not enforce it;
 * an unknown CKA_TRUSTED (the token does not report it) counts as not trusted.
 */
export function checkWrapTrust(f: {
  wrapWithTrusted: boolean | null;
  trusted: boolean | null;
  keyId: string;
  wrappingKeyId: string;
}): void {
  if (f.wrapWithTrusted === true && f.trusted !== true) {
    throw new MkmError(
      'KEY_WRAP_UNTRUSTED',
      'This key may leave the token only wrapped under a KEK the security officer marked trusted (CKA_TRUSTED); the chosen wrapping key is not.',
      { keyId: f.keyId, wrappingKeyId: f.wrappingKeyId, wrappingKeyTrusted: f.trusted },
    );
  }
}

/** The purpose an unwrapped gateway key gets: enc_key encrypts/decrypts, mac_key MACs. */
export function unwrapPurpose(type: SecretKeyType): KeyPurpose {
  return type === 'aes-256' ? 'data' : 'hmac';
}

export function rsaBits(type: KeyType): number | null {
  const m = /^rsa-(\d+)$/.exec(type);
  return m ? Number(m[1]) : null;
}
