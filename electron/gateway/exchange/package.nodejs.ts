import { constants, createVerify } from 'node:crypto';
import {
  EXCHANGE_FORMAT,
  EXCHANGE_KINDS_OF,
  EXCHANGE_MAX_BYTES,
  EXCHANGE_MAX_LIFETIME_DAYS,
  EXCHANGE_VERSION,
  ExchangePackageSchema,
  type ExchangeItem,
  type ExchangeItemView,
  type ExchangePackage,
  type ExchangePurpose,
  type ExchangeSignatureAlg,
  type ExchangeSummary,
  type SignedPart,
} from '../../../shared/contract/exchange.std';
import { MkmError } from '../../../shared/errors.std';
import { issueLines } from '../../../shared/formats/schemas.std';
import { parseRsaPublicKey, type RsaPublicKey } from '../../crypto/pem.nodejs';
import { canonicalJson } from '../../../shared/formats/canonical-json.std';

/**
 * The exchange package format, pure: what is signed, how a file is read, and every check a
 * verifier makes, in the order it makes them. No token and no gateway here; the service signs
 * through the token and decides trust. Each refusal is an MkmError with a stable EXCHANGE_* code
 * and a `reason` in its details that says exactly which check failed.
 */

/**
 * A fingerprint as people compare it, in colon-separated pairs (as openssl prints them). Messages
 * use this form: a long run of hex reads like key material, and logs and the CLI redact it.
 */
export function colonHex(hex: string): string {
  return hex.match(/../g)?.join(':') ?? hex;
}

/**
 * The bytes the signature covers: the canonical JSON of the whole package but the signature
 * value. The algorithm (`signature.alg`) is inside, so it cannot be swapped for another without
 * breaking the signature (format 2; format 1 left it outside).
 */
export function signedBytes(pkg: SignedPart | ExchangePackage): Buffer {
  const { signature, ...rest } = pkg;
  return Buffer.from(canonicalJson({ ...rest, signature: { alg: signature.alg } }), 'utf8');
}

/** The file as written: pretty-printed for people; the signature does not depend on the layout. */
export function packageText(pkg: ExchangePackage): string {
  return JSON.stringify(pkg, null, 2) + '\n';
}

export function verifySignature(
  alg: ExchangeSignatureAlg,
  key: RsaPublicKey,
  data: Buffer,
  signature: Buffer,
): boolean {
  const verifier = createVerify('sha256').update(data);
  return alg === 'RSASSA-PSS-SHA256'
    ? verifier.verify(
        { key: key.keyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        signature,
      )
    : verifier.verify(key.keyObject, signature);
}

function refuse(
  code:
    | 'EXCHANGE_TOO_LARGE'
    | 'EXCHANGE_NOT_JSON'
    | 'EXCHANGE_FORMAT_INVALID'
    | 'EXCHANGE_VERSION_UNSUPPORTED'
    | 'EXCHANGE_SIGNATURE_INVALID'
    | 'EXCHANGE_ITEM_MISMATCH'
    | 'EXCHANGE_EXPIRED'
    | 'EXCHANGE_KIND_REFUSED'
    | 'EXCHANGE_ALGORITHM_REFUSED',
  message: string,
  details: Record<string, string | number | boolean | null | string[]>,
): MkmError {
  return new MkmError(code, message, details);
}

/** A public key from a package: an RSA SPKI of 2048 bits or more, or a refusal naming where it was. */
function packageKey(pem: string, where: string): RsaPublicKey {
  try {
    return parseRsaPublicKey(pem, { minBits: 2048 });
  } catch (error) {
    throw refuse('EXCHANGE_FORMAT_INVALID', `The public key in ${where} is not a usable RSA public key.`, {
      reason: 'public-key-invalid',
      where,
      cause: error instanceof MkmError ? error.code : 'INTERNAL',
    });
  }
}

/**
 * Reads a package file and checks it structurally: size, JSON, format marker, version, then the
 * strict schema (missing or unknown members). It proves nothing about who made it.
 */
export function parsePackage(text: string): ExchangePackage {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > EXCHANGE_MAX_BYTES) {
    throw refuse(
      'EXCHANGE_TOO_LARGE',
      `The file is ${bytes} bytes; an exchange package is at most ${EXCHANGE_MAX_BYTES}.`,
      {
        reason: 'too-large',
        bytes,
        limit: EXCHANGE_MAX_BYTES,
      },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw refuse(
      'EXCHANGE_NOT_JSON',
      'The file is not JSON, so it is not an exchange package (damaged or truncated?).',
      {
        reason: 'not-json',
        bytes,
      },
    );
  }
  if (
    typeof json !== 'object' ||
    json === null ||
    Array.isArray(json) ||
    (json as { format?: unknown }).format !== EXCHANGE_FORMAT
  ) {
    throw refuse(
      'EXCHANGE_FORMAT_INVALID',
      `The file is JSON but not an mkm exchange package (no "format": "${EXCHANGE_FORMAT}").`,
      {
        reason: 'wrong-format',
      },
    );
  }
  const version = (json as { version?: unknown }).version;
  if (version !== EXCHANGE_VERSION) {
    const hint =
      typeof version === 'number' && version < EXCHANGE_VERSION
        ? ' Older packages did not sign their signature algorithm and may have no expiry: ask the sender to export it again with a current mkm.'
        : ' It was made by a newer mkm: update this one.';
    throw refuse(
      'EXCHANGE_VERSION_UNSUPPORTED',
      `The package has format version ${JSON.stringify(version ?? null).slice(0, 20)}; this mkm reads version ${EXCHANGE_VERSION}.${hint}`,
      {
        reason: 'unsupported-version',
        version: typeof version === 'number' ? version : String(version).slice(0, 20),
        supported: EXCHANGE_VERSION,
      },
    );
  }
  // Said on its own rather than as one schema issue among others: the exporter always sets it,
  // and a package without it could be replayed for ever.
  if (!('expires' in json) || (json as { expires?: unknown }).expires === undefined) {
    throw refuse(
      'EXCHANGE_FORMAT_INVALID',
      'The package has no expiry date ("expires"); every package must have one. Ask for a fresh one.',
      { reason: 'expires-missing' },
    );
  }
  const parsed = ExchangePackageSchema.safeParse(json);
  if (!parsed.success) {
    const issues = issueLines(parsed.error).slice(0, 10);
    throw refuse('EXCHANGE_FORMAT_INVALID', `The package does not have the expected fields: ${issues[0]}`, {
      reason: 'schema',
      issues,
    });
  }
  return parsed.data;
}

export interface SignatureCheck {
  signer: RsaPublicKey;
}

/** Which signatures a verifier accepts: PSS always, PKCS#1 v1.5 unless `requirePss`. */
export interface SignaturePolicy {
  requirePss: boolean;
}

/**
 * The package's algorithm is allowed, the signer's key is the one its fingerprint names, and the
 * signature over the canonical bytes (algorithm included) verifies under it. This shows the
 * package is intact and made by the holder of that key; whether that key is anyone the admin
 * trusts is a separate decision (see the service).
 */
export function checkSignature(
  pkg: ExchangePackage,
  policy: SignaturePolicy = { requirePss: false },
): SignatureCheck {
  if (policy.requirePss && pkg.signature.alg !== 'RSASSA-PSS-SHA256') {
    throw refuse(
      'EXCHANGE_ALGORITHM_REFUSED',
      `The package is signed with ${pkg.signature.alg}; this installation accepts RSASSA-PSS-SHA256 only. Ask the sender to export it with --alg pss.`,
      { reason: 'algorithm-not-allowed', alg: pkg.signature.alg, required: 'RSASSA-PSS-SHA256' },
    );
  }
  const signer = packageKey(pkg.signer.spkiPem, 'the signer');
  if (signer.spkiSha256 !== pkg.signer.spkiSha256) {
    throw refuse(
      'EXCHANGE_ITEM_MISMATCH',
      "The signer's public key does not match the signer fingerprint the package states.",
      {
        reason: 'signer-fingerprint-mismatch',
        stated: pkg.signer.spkiSha256,
        actual: signer.spkiSha256,
      },
    );
  }
  const signature = Buffer.from(pkg.signature.value, 'base64');
  if (!verifySignature(pkg.signature.alg, signer, signedBytes(pkg), signature)) {
    throw refuse(
      'EXCHANGE_SIGNATURE_INVALID',
      'The signature does not match the package: it was changed after it was signed, or signed by another key.',
      { reason: 'signature-invalid', signer: signer.spkiSha256, alg: pkg.signature.alg },
    );
  }
  return { signer };
}

/** After the signature: each item's PEM is what its fingerprint says, and nothing is odd for the purpose. */
export function checkContents(pkg: ExchangePackage, now: Date = new Date()): void {
  pkg.items.forEach((item, index) => {
    const pem =
      item.kind === 'public-key'
        ? item.spkiPem
        : item.kind === 'registration-request'
          ? item.publicKeyPem
          : item.kind === 'gateway-key'
            ? item.pem
            : null;
    if (pem === null || !('spkiSha256' in item)) return;
    const key = packageKey(pem, `item ${index + 1} (${item.kind})`);
    if (key.spkiSha256 !== item.spkiSha256) {
      throw refuse(
        'EXCHANGE_ITEM_MISMATCH',
        `Item ${index + 1} (${item.kind}) states a fingerprint its public key does not have.`,
        {
          reason: 'item-fingerprint-mismatch',
          item: index + 1,
          kind: item.kind,
          stated: item.spkiSha256,
          actual: key.spkiSha256,
        },
      );
    }
    if (
      (item.kind === 'registration-request' || item.kind === 'public-key') &&
      key.modulusBits !== item.bits
    ) {
      throw refuse(
        'EXCHANGE_ITEM_MISMATCH',
        `Item ${index + 1} (${item.kind}) states ${item.bits} bits; its key has ${key.modulusBits}.`,
        {
          reason: 'item-bits-mismatch',
          item: index + 1,
        },
      );
    }
  });
  if (Date.parse(pkg.expires) <= now.getTime()) {
    throw refuse('EXCHANGE_EXPIRED', `The package expired at ${pkg.expires}; ask for a fresh one.`, {
      reason: 'expired',
      expires: pkg.expires,
    });
  }
  // An importer remembers a package id until the package expires; a longer life would make it
  // remember (or forget) ids for ever.
  const lifetime = Date.parse(pkg.expires) - Date.parse(pkg.created);
  if (lifetime > EXCHANGE_MAX_LIFETIME_DAYS * 86_400_000) {
    throw refuse(
      'EXCHANGE_FORMAT_INVALID',
      `The package is valid from ${pkg.created} to ${pkg.expires}: longer than the ${EXCHANGE_MAX_LIFETIME_DAYS} days a package may live.`,
      { reason: 'lifetime-too-long', created: pkg.created, expires: pkg.expires },
    );
  }
  if (Date.parse(pkg.created) > now.getTime() + 24 * 3600_000) {
    throw refuse(
      'EXCHANGE_FORMAT_INVALID',
      `The package says it was made at ${pkg.created}, in the future; check both clocks.`,
      {
        reason: 'created-in-future',
        created: pkg.created,
      },
    );
  }
  checkKinds(pkg);
}

/** The purpose decides which item kinds belong; a gateway-key package has exactly one gateway key. */
export function checkKinds(pkg: ExchangePackage, expect?: ExchangePurpose): void {
  if (expect !== undefined && pkg.purpose !== expect) {
    throw refuse(
      'EXCHANGE_KIND_REFUSED',
      `This is a ${pkg.purpose} package; a ${expect} package was expected.`,
      {
        reason: 'unexpected-purpose',
        purpose: pkg.purpose,
        expected: expect,
      },
    );
  }
  const allowed = EXCHANGE_KINDS_OF[pkg.purpose];
  const stray = [...new Set(pkg.items.map((i) => i.kind).filter((k) => !allowed.includes(k)))];
  if (stray.length > 0) {
    throw refuse(
      'EXCHANGE_KIND_REFUSED',
      `A ${pkg.purpose} package may not hold ${stray.join(', ')} items.`,
      {
        reason: 'item-kind-not-allowed',
        purpose: pkg.purpose,
        kinds: stray,
      },
    );
  }
  if (pkg.purpose === 'gateway-key' && pkg.items.filter((i) => i.kind === 'gateway-key').length !== 1) {
    throw refuse('EXCHANGE_KIND_REFUSED', 'A gateway-key package holds exactly one gateway key.', {
      reason: 'gateway-key-count',
    });
  }
  const ids = pkg.items.filter((i) => i.kind === 'registration-request').map((i) => i.keyId);
  if (new Set(ids).size !== ids.length) {
    throw refuse('EXCHANGE_KIND_REFUSED', 'The package asks to register the same key id twice.', {
      reason: 'duplicate-registration',
    });
  }
}

export function itemView(item: ExchangeItem): ExchangeItemView {
  switch (item.kind) {
    case 'public-key': {
      const { spkiPem: _pem, ...view } = item;
      return view;
    }
    case 'registration-request': {
      const { publicKeyPem: _pem, ...view } = item;
      return view;
    }
    case 'gateway-key': {
      const { pem: _pem, ...view } = item;
      return view;
    }
    default:
      return item;
  }
}

export function summarize(pkg: ExchangePackage, signer: RsaPublicKey): ExchangeSummary {
  return {
    id: pkg.id,
    purpose: pkg.purpose,
    created: pkg.created,
    expires: pkg.expires,
    producer: pkg.producer,
    signer: {
      keyId: pkg.signer.keyId,
      label: pkg.signer.label,
      spkiSha256: pkg.signer.spkiSha256,
      bits: signer.modulusBits,
    },
    algorithm: pkg.signature.alg,
    items: pkg.items.map(itemView),
  };
}
