import { z } from 'zod';
import { channel, noArgs } from '../contract-kit.std';
import type { DueLevel, KeyState, ManagedPurpose } from '../lifecycle/vocabulary.std';

/**
 * The PCI DSS v4 3.6/3.7 compliance report and key custodians (issue 4).
 * One slice of the IPC contract; `shared/contract.std.ts` composes the slices.
 *
 * Everything here is metadata: states, dates, counts, fingerprints, names of custodians. No key
 * material, PIN or password is ever part of a report.
 */

/**
 * met: this installation's evidence supports the requirement (the admin still keeps the written
 * procedure); attention: the evidence shows something to fix, `why` says what; manual: mkm cannot
 * evidence it, the admin's own procedure and records must; n/a: does not apply to a merchant.
 */
export const PCI_STATUSES = ['met', 'attention', 'manual', 'n/a'] as const;
export type PciStatus = (typeof PCI_STATUSES)[number];

export const PCI_STATUS_LABELS: Record<PciStatus, string> = {
  met: 'Met',
  attention: 'Needs attention',
  manual: 'Manual evidence',
  'n/a': 'Not applicable',
};

export interface PciFact {
  label: string;
  value: string;
}

export interface PciRequirementResult {
  id: string;
  section: '3.6' | '3.7';
  title: string;
  /** Who it applies to per the standard. */
  appliesTo: 'all' | 'service-providers';
  mkmDoes: string;
  adminMust: string;
  status: PciStatus;
  /** Why this status, one sentence each (the first is the headline). */
  why: string[];
  facts: PciFact[];
}

export interface PciKeyEvidence {
  logicalKeyId: string;
  name: string;
  purpose: ManagedPurpose;
  type: string;
  tokenSerial: string | null;
  cryptoPeriodDays: number;
  versions: number;
  primaryVersion: number | null;
  primaryActivatedAt: string | null;
  primaryExpiresAt: string | null;
  /** When the current primary replaced the one before it (null: never rotated yet). */
  lastRotation: string | null;
  dueLevel: DueLevel | null;
  /** The primary's crypto-period has ended. */
  pastCryptoPeriod: boolean;
  /** Uses of the primary as counted on every path (null: no primary). */
  primaryUses?: number | null;
  /** Uses of every version of the key. */
  totalUses?: number;
  /** The policy's use limit per version (null: none). */
  maxUses?: number | null;
}

export type PciInventoryEvidence =
  | {
      ok: true;
      logicalKeys: number;
      versions: number;
      byState: Record<KeyState, number>;
      byOrigin: { generated: number; adopted: number; imported: number };
      keys: PciKeyEvidence[];
      pastCryptoPeriod: number;
      overdue: number;
      dueSoon: number;
      /** Replaced versions still active after their grace period. */
      graceExpired: number;
      compromised: { name: string; version: number; compromisedAt: string | null; destroyed: boolean }[];
      /** Keys with a compromised version and no replacement primary yet. */
      compromisedUnreplaced: number;
      tombstones: number;
      missingOnToken: number;
      rotationsInFlight: number;
      tokens: string[];
      /** Seals made with each audit key (the usage counts); absent where no usage service runs. */
      auditKeyUses?: { id: string; kcv: string; uses: number; operations: Record<string, number> }[];
      policies: {
        purpose: ManagedPurpose;
        cryptoPeriodDays: number;
        maxUses: number | null;
        graceDays: number;
      }[];
    }
  | { ok: false; reason: string };

export type PciTokenEvidence =
  | {
      checked: true;
      tokens: {
        serial: string;
        label: string;
        manufacturer: string;
        model: string;
        /** A software token (SoftHSM2): not a secure cryptographic device. */
        software: boolean;
      }[];
      /** Secret and private keys on the logged-in token(s). */
      keys: number;
      sensitive: number;
      nonExtractable: number;
      neverExtractable: number;
      generatedOnToken: number;
      /** Keys that are extractable or not sensitive: label and class only. */
      exposed: { label: string; class: string; serial: string }[];
      managedFound: number;
      managedMissing: number;
    }
  | { checked: false; reason: string };

export interface PciAuditEvidence {
  ok: boolean;
  entries: number;
  seals: number;
  sealsVerified: boolean;
  unsealed: number;
  firstBad: { seq: number | null; line: number; reason: string } | null;
  error: string | null;
}

export interface PciGatewayEvidence {
  profiles: {
    id: string;
    name: string;
    pinnedFingerprint: string | null;
    keyStatus: 'none' | 'pinned' | 'rotation-pending';
    /**
     * Every pinned gateway key (encryption; signing, contract 1.1) and who compared its
     * fingerprint with the gateway's out of band; null: pinned, unconfirmed.
     */
    pins: {
      key: 'encryption' | 'signing';
      fingerprint: string;
      confirmed: { by: string; role: string | null; at: string } | null;
    }[];
    merchantKeysActive: number;
    lastSync: { at: string; ok: boolean } | null;
  }[];
  /** Registration of gateway transport key versions that are in service. */
  transport: { registered: number; pending: number; failed: number; skipped: number };
  error: string | null;
}

export interface CustodianView {
  id: string;
  name: string;
  role: string;
  textVersion: string;
  acknowledgedAt: string;
  /** The OS user who recorded the acknowledgement. */
  recordedBy: string;
  revokedAt: string | null;
  revokedReason: string | null;
  /** Not revoked and for the current text. */
  current: boolean;
}

export interface CustodianText {
  version: string;
  title: string;
  paragraphs: string[];
}

export interface PciCustodianEvidence {
  textVersion: string;
  current: number;
  /** Not revoked, but for an older text: they must acknowledge again. */
  stale: number;
  revoked: number;
  list: CustodianView[];
  /** The custodian file could not be read (e.g. damaged); the figures are then zero. */
  error: string | null;
}

export interface PciEvidence {
  inventory: PciInventoryEvidence;
  token: PciTokenEvidence;
  audit: PciAuditEvidence;
  custodians: PciCustodianEvidence;
  gateway: PciGatewayEvidence;
  /** Split knowledge and dual control (3.6.1.2, 3.7.6): the key ceremonies' signed transcripts. */
  ceremonies: PciCeremonyEvidence;
}

/** One step of a ceremony in which a clear-text component or share passed through a custodian. */
export interface PciCeremonyClearStep {
  step: string;
  kind: string;
  /** The custodian who entered or received it. */
  custodian: string;
  /** The second person who confirmed the step; null when nobody did. */
  confirmer: string | null;
}

/** A ceremony whose transcript verified (chain and signature): only these count as evidence. */
export interface PciCeremonyRecord {
  id: string;
  template: string;
  title: string;
  state: 'completed' | 'aborted';
  startedAt: string;
  closedAt: string;
  clearSteps: PciCeremonyClearStep[];
  /** Every clear-text step had two different people. */
  dualControl: boolean;
  /** No custodian handled two components or shares of the ceremony. */
  splitKnowledge: boolean;
  /** The formed, generated or recovered key's check value, when the ceremony made one. */
  keyKcv: string | null;
  exceptions: string[];
  signedOff: string[];
  /** SHA-256 of the signer's public key. */
  signer: string;
}

export interface PciCeremonyEvidence {
  verified: PciCeremonyRecord[];
  /** Transcripts that did not verify: never evidence. */
  refused: { file: string; reason: string }[];
  /** Journals without a transcript yet. */
  inProgress: { id: string; template: string | null; startedAt: string | null }[];
  /** The ceremony folder could not be read. */
  error: string | null;
}

export interface PciReport {
  title: string;
  standard: string;
  generatedAt: string;
  installation: { id: string; dataDir: string; appVersion: string; mode: string; osUser: string };
  summary: Record<PciStatus, number>;
  requirements: PciRequirementResult[];
  evidence: PciEvidence;
  disclaimer: string;
}

export interface PciExport {
  format: 'html' | 'pdf';
  fileName: string;
  mime: string;
  /** html: the text; pdf: base64. */
  encoding: 'utf8' | 'base64';
  content: string;
  bytes: number;
  /** The statuses in the exported report (recorded in the audit log with the export). */
  summary: Record<PciStatus, number>;
}

const UUID = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
/** Names people type: no control characters (they would break the printed report). */
const PERSON_TEXT = z
  .string()
  .trim()
  .min(1)
  .max(128)
  .regex(/^[^\p{Cc}\p{Cf}]+$/u, 'no control characters');

/**
 * The caller knows no token can be logged in (a CLI run without a PIN): the report says the
 * token was not checked without starting the token host for nothing.
 */
const SKIP_TOKEN = z.boolean().optional();

export const reportContract = {
  pci: channel(
    z.strictObject({ skipToken: SKIP_TOKEN }),
    'The PCI DSS v4 3.6/3.7 report: per requirement, what mkm does, the evidence and a status.',
  )
    .returns<PciReport>()
    .notAudited('reads the PCI report; its export is audited'),
  exportPci: channel(
    z.strictObject({ format: z.enum(['html', 'pdf']), skipToken: SKIP_TOKEN }),
    'The PCI DSS report as a printable HTML page or a PDF (base64).',
  )
    .returns<PciExport>()
    .audited((r, res) => ({
      action: 'report.pci.export',
      details: {
        format: r.format,
        summary: (res as { summary?: Record<string, number> } | undefined)?.summary ?? null,
      },
    })),
  custodians: channel(
    noArgs,
    'The key custodians and their acknowledgements, with the responsibilities text in force.',
  )
    .returns<{ text: CustodianText; custodians: CustodianView[] }>()
    .notAudited('reads the custodian acknowledgements'),
  acknowledge: channel(
    z.strictObject({
      name: PERSON_TEXT,
      role: PERSON_TEXT,
      /** The text version the person was shown; an older one is refused. */
      textVersion: z.string().min(1).max(16),
      confirm: z.literal(true),
    }),
    'Record that a key custodian acknowledged their responsibilities (PCI DSS 3.7.8).',
  )
    .returns<CustodianView>()
    .audited((r, res) => ({
      action: 'report.custodian.acknowledge',
      details: {
        custodianId: (res as { id?: string } | undefined)?.id ?? null,
        name: r.name,
        role: r.role,
        textVersion: r.textVersion,
      },
    })),
  revokeCustodian: channel(
    z.strictObject({ id: UUID, reason: z.string().trim().max(200).optional(), confirm: z.literal(true) }),
    'A key custodian no longer holds the role; the acknowledgement stays on record as revoked.',
  )
    .returns<CustodianView>()
    .audited((r, res) => ({
      action: 'report.custodian.revoke',
      details: { custodianId: r.id, name: (res as { name?: string } | undefined)?.name ?? null },
    })),
} as const;
