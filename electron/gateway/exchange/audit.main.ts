import { createHash } from 'node:crypto';
import type {
  ExchangeExport,
  ExchangeImport,
  ExchangePolicy,
  ExchangeVerification,
  TrustedSigner,
} from '../../../shared/contract/exchange.std';
import type { AuditAppend } from '../../audit/audit-log.main';

/**
 * What the audit log keeps of each `exchange.*` call (merged into AUDITED in
 * electron/audit/app-audit.main.ts). A package holds public material only, yet the log keeps
 * just its SHA-256, id, purpose, signer fingerprint and item count: enough to tie an entry to
 * the file an admin holds. A refusal is logged with the package's hash and the refusal code
 * (the registry adds the code as the entry's result).
 */
type Mapper = (request: Record<string, unknown>, result: unknown) => Omit<AuditAppend, 'result'>;

const fileHash = (r: Record<string, unknown>) =>
  typeof r.package === 'string' ? createHash('sha256').update(r.package, 'utf8').digest('hex') : null;

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

export const EXCHANGE_AUDITED: Record<string, Mapper> = {
  'exchange.export': (r, res) => {
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
              packageSha256: createHash('sha256').update(e.text, 'utf8').digest('hex'),
              alg: e.summary.algorithm,
              items: e.summary.items.length,
            }
          : {}),
      },
    };
  },
  'exchange.verify': (r, res) => ({
    action: 'exchange.verify',
    details: {
      packageSha256: fileHash(r),
      expectedSigner: r.signer ?? null,
      requirePss: r.requirePss === true,
      ...verified(res as ExchangeVerification | undefined),
    },
  }),
  'exchange.import': (r, res) => {
    const i = res as ExchangeImport | undefined;
    return {
      action: 'exchange.import',
      details: {
        packageSha256: fileHash(r),
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
  },
  'exchange.trustSigner': (r, res) => ({
    action: 'exchange.signer.trust',
    details: {
      spkiSha256: r.spkiSha256,
      name: r.name,
      addedBy: (res as TrustedSigner | undefined)?.addedBy ?? null,
    },
  }),
  'exchange.setPolicy': (r, res) => ({
    action: 'exchange.policy.set',
    details: {
      requirePss: r.requirePss === true,
      changedBy: (res as ExchangePolicy | undefined)?.changedBy ?? null,
    },
  }),
  'exchange.untrustSigner': (r, res) => ({
    action: 'exchange.signer.untrust',
    details: {
      spkiSha256: r.spkiSha256,
      removed: (res as { removed?: boolean } | undefined)?.removed ?? false,
    },
  }),
};
