import { z } from 'zod';
import { channel, CONFIRMED, noArgs } from '../contract-kit.std';

/**
 * The audit log (`audit.*`).
 * One slice of the IPC contract; `shared/contract.std.ts` composes the slices.
 */

/** What `audit.verify` found; electron/audit/verify.nodejs.ts fills it (narrowing `firstBad.kind`). */
export interface AuditVerifyReport {
  ok: boolean;
  /** Entry lines (not seals) in the part of the log that could be checked. */
  entries: number;
  lines: number;
  seals: number;
  /** False when no sealer was given or the token could not be reached: MACs were not checked. */
  sealsVerified: boolean;
  /** Set when the sealer failed (e.g. NOT_LOGGED_IN). */
  sealError?: string;
  /** Last seq authenticated by a seal (checked with the token when sealsVerified). */
  sealedThrough: number;
  /** Entries after sealedThrough: chained, but not yet authenticated by the token. */
  unsealed: number;
  firstUnsealed?: { seq: number; line: number };
  /** Lines after the last write the state file recorded (the app was running or crashed). */
  unconfirmed: number;
  firstBad?: { seq: number | null; line: number; kind: string; reason: string };
  /** Set when the logged-in token cannot seal at all: why (issue 12). */
  noSeal?: string;
  /** How the logged-in token seals (HMAC-SHA256, AES-CMAC, RSASSA-PSS). */
  sealedWith?: string;
}

export interface AuditStatusView {
  open: boolean;
  error: string | null;
  held: number;
  sealing: boolean;
  /**
   * What seals new entries: the audit key's kind (HMAC-SHA256, else AES-CMAC, else an RSASSA-PSS
   * signature, by what the token can make), or, while a token is logged in that cannot make any,
   * why not (`impossible`). Optional for callers that predate it.
   */
  seal?: {
    kind: 'hmac' | 'cmac' | 'rsa-pss' | null;
    method: string | null;
    impossible: string | null;
    /** The one sentence to show, derived from the above. */
    summary: string;
  };
  /** The code of the last seal's failure while sealing (entries stay unsealed); null when it worked. */
  sealError: string | null;
  /**
   * Set while actions that must be recorded are refused (AUDIT_UNAVAILABLE): why, and whether
   * `audit.recover` is the way out (not for a disk that cannot be written: moving the log aside
   * gives it no room or rights back).
   */
  unavailable: { cause: string; reason: string; recoverable: boolean } | null;
}

export interface AuditRecoverView {
  /** The folder (inside the audit folder) the damaged log was moved to, untouched. */
  movedTo: string;
  reason: string;
  /** The old log's last complete line: its seq and SHA-256, and how many lines it had. */
  oldHead: { seq: number; hash: string; lines: number } | null;
  verified: { ok: boolean; sealsVerified: boolean };
}

export interface AuditEntryView {
  seq: number;
  time: string;
  actor: { osUser: string; token: { serial: string; label: string } | null };
  action: string;
  key?: { id: string; kcv?: string; fingerprint?: string };
  result: string;
  details?: Record<string, unknown>;
}

const auditFilter = z.strictObject({
  action: z.string().max(100).optional(),
  keyId: z.string().max(256).optional(),
  result: z.string().max(64).optional(),
  from: z.iso.datetime().optional(),
  to: z.iso.datetime().optional(),
  text: z.string().max(200).optional(),
});

export const auditContract = {
  status: channel(noArgs, 'Whether the audit log is open and sealing.')
    .returns<AuditStatusView>()
    .notAudited('reads the state of the audit log itself'),
  verify: channel(noArgs, 'Check the whole audit log: chain, seals, truncation.')
    .returns<AuditVerifyReport>()
    .audited(
      (_r, res) => ({
        action: 'audit.verify',
        details: { ok: (res as AuditVerifyReport | undefined)?.ok ?? false },
      }),
      { whenUnavailable: 'run' },
    ),
  query: channel(
    z.strictObject({
      filter: auditFilter.optional(),
      limit: z.number().int().min(1).max(10_000).optional(),
    }),
    'Search the audit log, newest first.',
  )
    .returns<{ entries: AuditEntryView[]; matched: number }>()
    .notAudited('reads the audit log itself'),
  export: channel(
    z.strictObject({ format: z.enum(['json', 'csv']), filter: auditFilter.optional() }),
    'The audit log as JSON or CSV text.',
  )
    .returns<{ format: 'json' | 'csv'; content: string }>()
    .audited((r) => ({ action: 'audit.export', details: { format: r.format } })),
  recover: channel(
    z.strictObject({ confirm: CONFIRMED }),
    'Move a damaged audit log aside untouched and start a new one that names it and its last entry.',
  )
    .returns<AuditRecoverView>()
    // Its record is the new log's first entries (audit.start and audit.recover name the
    // quarantine and the old head): it is the one way out while the log takes nothing.
    .recordsItself({ whenUnavailable: 'run' }),
  replaceKey: channel(
    z.strictObject({ confirm: CONFIRMED }),
    'Make a new audit key on the logged-in token; the old one stays (pinned, protected) to verify its seals.',
  )
    .returns<{ key: { id: string; kcv: string }; replaced: { id: string; kcv: string } }>()
    // audit.key.generate (with the key it replaces) and the seals on either side of it.
    .recordsItself(),
} as const;
