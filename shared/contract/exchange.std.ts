import { z } from 'zod';
import { channel, noArgs, type AuditMapTools } from '../contract-kit.std';

/**
 * Offline exchange packages for air-gapped machines (issue 5, point 5): the package format and
 * the `exchange.*` channels. One slice of the IPC contract; `shared/contract.std.ts` composes
 * the slices. The format is described in electron/gateway/exchange/README.md.
 */

export const EXCHANGE_FORMAT = 'mkm-exchange';
/**
 * 2: the signature algorithm is signed, `expires` is mandatory and package ids are remembered on
 * import (issue 10, point 9). Version 1 packages are refused: they left the algorithm unsigned.
 */
export const EXCHANGE_VERSION = 2;
/**
 * A package is a few public keys and fingerprints (64 RSA-4096 items are about 100 KiB); a file
 * past this size is not one. Below the IPC layer's 1 MiB string limit, so the refusal is ours.
 */
export const EXCHANGE_MAX_BYTES = 512 * 1024;
export const EXCHANGE_MAX_ITEMS = 64;
/** The longest a package may live (`expires` - `created`): an importer remembers its id that long. */
export const EXCHANGE_MAX_LIFETIME_DAYS = 366;
/** What the exporter sets when not told: long enough to carry a file across, short for a replay. */
export const EXCHANGE_DEFAULT_LIFETIME_DAYS = 7;

export const EXCHANGE_PURPOSES = ['registration-request', 'gateway-key', 'key-announcement'] as const;
export type ExchangePurpose = (typeof EXCHANGE_PURPOSES)[number];
export const EXCHANGE_SIGNATURE_ALGS = ['RSASSA-PSS-SHA256', 'RSASSA-PKCS1-v1_5-SHA256'] as const;
export type ExchangeSignatureAlg = (typeof EXCHANGE_SIGNATURE_ALGS)[number];

/** Which item kinds a package of each purpose may hold (and must hold at least one of). */
export const EXCHANGE_KINDS_OF: Record<ExchangePurpose, readonly ExchangeItem['kind'][]> = {
  'registration-request': ['registration-request'],
  'gateway-key': ['gateway-key', 'registration-receipt'],
  'key-announcement': ['public-key', 'kcv'],
};

const SHA256 = z.string().regex(/^[0-9a-f]{64}$/, 'lowercase hex SHA-256');
const CKA_ID = z.string().regex(/^(?:[0-9a-f]{2}){1,128}$/, 'lowercase hex key id');
const PEM = z
  .string()
  .max(16_384)
  .regex(/^-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\r?\n?$/, 'an SPKI PEM');
const TEXT = z.string().max(256);
const ISO = z.iso.datetime({ offset: true });
const WRAPPING = z.enum(['RSAES-OAEP-SHA256', 'RSAES-OAEP-SHA1']);

const PublicKeyItem = z.strictObject({
  kind: z.literal('public-key'),
  keyId: CKA_ID,
  label: TEXT,
  purpose: z.string().max(32).nullable(),
  bits: z.number().int().min(1024).max(16_384),
  spkiPem: PEM,
  spkiSha256: SHA256,
});
const KcvItem = z.strictObject({
  kind: z.literal('kcv'),
  keyId: CKA_ID,
  label: TEXT,
  keyType: z.enum(['aes-256', 'hmac-256']),
  method: z.enum(['cmac', 'hmac']),
  kcv: z.string().regex(/^[0-9a-f]{6}$/),
});
/** What `POST /v1/encryption/merchant_keys` needs, made on the token that will unwrap. */
const RegistrationRequestItem = z.strictObject({
  kind: z.literal('registration-request'),
  keyId: CKA_ID,
  label: TEXT,
  bits: z.number().int().min(2048).max(16_384),
  publicKeyPem: PEM,
  spkiSha256: SHA256,
  /** The strongest OAEP the producing token unwraps (its capability probe). */
  wrapping: WRAPPING,
});
const GatewayKeyItem = z.strictObject({
  kind: z.literal('gateway-key'),
  /** The profile it was pinned for on the online machine (a hint; the importer names its own). */
  profile: z.strictObject({ id: z.string().max(64), name: TEXT, baseUrl: z.string().max(2048) }),
  gatewayKeyId: z.string().max(128).nullable(),
  pem: PEM,
  spkiSha256: SHA256,
  padding: z.enum(['RSAES-PKCS1-V1_5', 'RSAES-OAEP-SHA256']),
});
/** The gateway's answer to a registration uploaded from an earlier package. */
const RegistrationReceiptItem = z.strictObject({
  kind: z.literal('registration-receipt'),
  keyId: CKA_ID,
  spkiSha256: SHA256,
  wrapping: WRAPPING,
  status: z.enum(['active', 'retired']),
  registeredAt: z.string().max(64),
});

export const ExchangeItemSchema = z.discriminatedUnion('kind', [
  PublicKeyItem,
  KcvItem,
  RegistrationRequestItem,
  GatewayKeyItem,
  RegistrationReceiptItem,
]);
export type ExchangeItem = z.infer<typeof ExchangeItemSchema>;

export const ExchangeSignerSchema = z.strictObject({
  keyId: CKA_ID,
  label: TEXT,
  spkiPem: PEM,
  spkiSha256: SHA256,
});

/** A whole package; strict everywhere, so an unknown member is a refusal, not ignored. */
export const ExchangePackageSchema = z.strictObject({
  format: z.literal(EXCHANGE_FORMAT),
  version: z.literal(EXCHANGE_VERSION),
  id: z.uuid(),
  purpose: z.enum(EXCHANGE_PURPOSES),
  created: ISO,
  expires: ISO,
  producer: z.strictObject({
    app: z.literal('mkm'),
    appVersion: z.string().max(64),
    osUser: TEXT,
    token: z.strictObject({ serial: z.string().max(64), label: z.string().max(64) }),
  }),
  items: z.array(ExchangeItemSchema).min(1).max(EXCHANGE_MAX_ITEMS),
  signer: ExchangeSignerSchema,
  signature: z.strictObject({
    alg: z.enum(EXCHANGE_SIGNATURE_ALGS),
    value: z
      .string()
      .max(2048)
      .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'standard base64'),
  }),
});
export type ExchangePackage = z.infer<typeof ExchangePackageSchema>;
/** What the signature covers: everything but the signature value (the algorithm included). */
export type SignedPart = Omit<ExchangePackage, 'signature'> & { signature: { alg: ExchangeSignatureAlg } };
export type UnsignedExchangePackage = Omit<ExchangePackage, 'signature'>;

// ---------------------------------------------------------------- views and results

/** An item as shown: fingerprints and check values, no PEM text. */
export type ExchangeItemView =
  | {
      kind: 'public-key';
      keyId: string;
      label: string;
      purpose: string | null;
      bits: number;
      spkiSha256: string;
    }
  | { kind: 'kcv'; keyId: string; label: string; keyType: string; method: string; kcv: string }
  | {
      kind: 'registration-request';
      keyId: string;
      label: string;
      bits: number;
      spkiSha256: string;
      wrapping: string;
    }
  | {
      kind: 'gateway-key';
      profile: { id: string; name: string; baseUrl: string };
      gatewayKeyId: string | null;
      spkiSha256: string;
      padding: string;
    }
  | {
      kind: 'registration-receipt';
      keyId: string;
      spkiSha256: string;
      wrapping: string;
      status: string;
      registeredAt: string;
    };

export interface ExchangeSummary {
  id: string;
  purpose: ExchangePurpose;
  created: string;
  expires: string;
  producer: ExchangePackage['producer'];
  signer: { keyId: string; label: string; spkiSha256: string; bits: number };
  algorithm: ExchangeSignatureAlg;
  items: ExchangeItemView[];
}

export interface ExchangeVerification {
  verified: true;
  summary: ExchangeSummary;
  /** How the signer came to be trusted: the fingerprint the admin gave, or this installation's list. */
  trust: { by: 'expected-fingerprint' } | { by: 'trusted-signer'; name: string; addedAt: string };
}

export interface ExchangeExport {
  /** The package file's text (one JSON document, pretty-printed; the signature is over its canonical form). */
  text: string;
  fileName: string;
  summary: ExchangeSummary;
}

export interface ExchangeReceiptView {
  keyId: string;
  spkiSha256: string;
  wrapping: 'RSAES-OAEP-SHA256' | 'RSAES-OAEP-SHA1';
  status: 'active' | 'retired';
  registeredAt: string;
  /** 201 at the gateway; false when it already held exactly this registration. */
  created: boolean;
}

export interface ExchangeImport {
  verification: ExchangeVerification;
  profileId: string;
  /** registration-request: what the gateway registered. */
  registrations?: ExchangeReceiptView[];
  /** gateway-key: the profile's gateway key afterwards (a different key waits for confirmation). */
  gatewayKey?: {
    status: 'none' | 'pinned' | 'rotation-pending';
    pinned: string | null;
    pending: string | null;
  };
  /** gateway-key: registrations the online side reported, for the admin to compare. */
  receipts?: ExchangeReceiptView[];
}

/** Which signatures this installation accepts on packages (`exchange/policy.json`). */
export interface ExchangePolicy {
  /** true: PKCS#1 v1.5 signatures are refused (EXCHANGE_ALGORITHM_REFUSED); the exporter signs PSS only. */
  requirePss: boolean;
  changedAt: string | null;
  changedBy: string | null;
}

export interface TrustedSigner {
  spkiSha256: string;
  name: string;
  addedAt: string;
  addedBy: string;
}

// ---------------------------------------------------------------- channels

const PROFILE_ID = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
/** A fingerprint as people paste it: hex, with or without colons or spaces, any case. */
const FINGERPRINT = z
  .string()
  .max(128)
  .transform((s) =>
    s
      .replace(/^sha256:/i, '')
      .replace(/[\s:]/g, '')
      .toLowerCase(),
  )
  .pipe(SHA256);
const KEY_ID = z
  .string()
  .regex(/^(?:[0-9a-fA-F]{2}){1,128}$/)
  .transform((s) => s.toLowerCase());
/** Text of the file; the service measures it in bytes against EXCHANGE_MAX_BYTES. */
const PACKAGE_TEXT = z
  .string()
  .min(1)
  .max(1024 * 1024);
const SLOT = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const verifyRequest = {
  package: PACKAGE_TEXT,
  /** The signer's SPKI-SHA256 as the admin got it by another channel (phone, paper). */
  signer: FINGERPRINT.optional(),
  /** Refuse a package of any other purpose. */
  expect: z.enum(EXCHANGE_PURPOSES).optional(),
  /** Refuse a PKCS#1 v1.5 signature for this call (the stored policy may already require PSS). */
  requirePss: z.boolean().optional(),
};

/**
 * What the audit log keeps of an exchange call: a package holds public material only, yet the
 * log keeps just its SHA-256, id, purpose, signer fingerprint and item count, enough to tie an
 * entry to the file an admin holds. A refusal is logged with the package's hash and the code.
 */
const fileHash = (r: Record<string, unknown>, t: AuditMapTools) =>
  typeof r.package === 'string' ? t.sha256Hex(r.package) : null;

const verified = (v: ExchangeVerification | undefined) =>
  v
    ? {
        packageId: v.summary.id,
        purpose: v.summary.purpose,
        signer: v.summary.signer.spkiSha256,
        trustedBy: v.trust.by,
        items: v.summary.items.length,
      }
    : {};

export const exchangeContract = {
  export: channel(
    z.strictObject({
      kind: z.enum(['registration', 'gateway-key', 'announcement']),
      slotId: SLOT.optional(),
      /** The signing-purpose RSA key on the logged-in token. */
      signingKeyId: KEY_ID,
      /** registration: transport keys; announcement: any keys (public keys and KCVs). */
      keyIds: z.array(KEY_ID).max(EXCHANGE_MAX_ITEMS).optional(),
      /** gateway-key: the profile whose pinned gateway key is exported. */
      profileId: PROFILE_ID.optional(),
      /** Default EXCHANGE_DEFAULT_LIFETIME_DAYS; every package expires. */
      expiresInDays: z.number().int().min(1).max(EXCHANGE_MAX_LIFETIME_DAYS).optional(),
      algorithm: z.enum(['auto', 'pss', 'pkcs1']).optional(),
    }),
    'Make a signed exchange package (public keys, fingerprints, KCVs, registration requests) on the token.',
  )
    .returns<ExchangeExport>()
    .audited((r, res, t) => {
      const e = res as ExchangeExport | undefined;
      return {
        action: 'exchange.export',
        key: { id: String(r.signingKeyId), ...(e ? { fingerprint: e.summary.signer.spkiSha256 } : {}) },
        details: {
          kind: r.kind,
          keyIds: r.keyIds ?? [],
          profileId: r.profileId ?? null,
          ...(e
            ? {
                packageId: e.summary.id,
                packageSha256: t.sha256Hex(e.text),
                alg: e.summary.algorithm,
                items: e.summary.items.length,
              }
            : {}),
        },
      };
    }),
  verify: channel(
    z.strictObject(verifyRequest),
    'Check an exchange package: format, signature, signer trust, item fingerprints, expiry. Changes nothing.',
  )
    .returns<ExchangeVerification>()
    .audited((r, res, t) => ({
      action: 'exchange.verify',
      details: {
        packageSha256: fileHash(r, t),
        expectedSigner: r.signer ?? null,
        requirePss: r.requirePss === true,
        ...verified(res as ExchangeVerification | undefined),
      },
    })),
  import: channel(
    z.strictObject({ ...verifyRequest, profileId: PROFILE_ID }),
    'Verify a package, then upload its registrations to the gateway or pin its gateway key.',
  )
    .returns<ExchangeImport>()
    .audited((r, res, t) => {
      const i = res as ExchangeImport | undefined;
      return {
        action: 'exchange.import',
        details: {
          packageSha256: fileHash(r, t),
          profileId: r.profileId,
          expectedSigner: r.signer ?? null,
          requirePss: r.requirePss === true,
          ...verified(i?.verification),
          ...(i?.registrations ? { registered: i.registrations.map((x) => x.keyId) } : {}),
          ...(i?.gatewayKey
            ? { gatewayKey: i.gatewayKey.status, pinned: i.gatewayKey.pinned, pending: i.gatewayKey.pending }
            : {}),
        },
      };
    }),
  trustedSigners: channel(noArgs, 'Signers this installation trusts for exchange packages.')
    .returns<TrustedSigner[]>()
    .notAudited('reads the trusted signers'),
  trustSigner: channel(
    z.strictObject({
      spkiSha256: FINGERPRINT,
      name: z.string().trim().min(1).max(128),
      confirm: z.literal(true),
    }),
    'Trust a package signer, named by its fingerprint (an admin decision; audited).',
  )
    .returns<TrustedSigner>()
    .audited((r, res) => ({
      action: 'exchange.signer.trust',
      details: {
        spkiSha256: r.spkiSha256,
        name: r.name,
        addedBy: (res as TrustedSigner | undefined)?.addedBy ?? null,
      },
    })),
  untrustSigner: channel(
    z.strictObject({ spkiSha256: FINGERPRINT, confirm: z.literal(true) }),
    'Stop trusting a package signer.',
  )
    .returns<{ removed: boolean }>()
    .audited((r, res) => ({
      action: 'exchange.signer.untrust',
      details: {
        spkiSha256: r.spkiSha256,
        removed: (res as { removed?: boolean } | undefined)?.removed ?? false,
      },
    })),
  policy: channel(noArgs, 'Which package signatures this installation accepts.')
    .returns<ExchangePolicy>()
    .notAudited('a read'),
  setPolicy: channel(
    z.strictObject({ requirePss: z.boolean(), confirm: z.literal(true) }),
    'Require RSASSA-PSS signatures on packages, or accept PKCS#1 v1.5 again (an admin decision; audited).',
  )
    .returns<ExchangePolicy>()
    .audited((r, res) => ({
      action: 'exchange.policy.set',
      details: {
        requirePss: r.requirePss === true,
        changedBy: (res as ExchangePolicy | undefined)?.changedBy ?? null,
      },
    })),
} as const;
