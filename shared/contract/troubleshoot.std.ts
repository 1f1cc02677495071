import { z } from 'zod';
import { channel, noArgs } from '../contract-kit.std';
import { SlotIdSchema } from '../tokens.std';

/**
 * The console's troubleshooter (issue 6): diagnose a pasted payload; and the support bundle.
 * One slice of the IPC contract; `shared/contract.std.ts` composes the slices.
 */

/** Most severe first: what the UI sorts by. */
export const FINDING_SEVERITIES = ['error', 'warning', 'info', 'ok'] as const;
export type FindingSeverity = (typeof FINDING_SEVERITIES)[number];

/**
 * One thing the troubleshooter found. `evidence` holds only what is safe to show and keep:
 * lengths, fingerprints, key ids, set ids, last 4, Luhn verdicts; never a decrypted value,
 * never key material.
 */
export interface DiagnosisFinding {
  /** A row of electron/console/diagnose/failure-modes.std.ts, or an informational code. */
  code: string;
  severity: FindingSeverity;
  title: string;
  explanation: string;
  fix: string;
  evidence: Record<string, string | number | boolean | null>;
}

export type DiagnosedKind =
  | 'empty'
  | 'base64'
  | 'hex'
  | 'cse-body'
  | 'verify-body'
  | 'envelope'
  | 'envelope-response'
  | 'pem-public'
  | 'pem-private'
  | 'json'
  | 'unknown';

export interface Diagnosis {
  id: string;
  at: string;
  /** What the input was taken for. */
  kind: DiagnosedKind;
  /**
   * Input length in characters. No digest of the input: a pasted card number's hash (even a
   * short prefix) would be searchable among its 10^5 Luhn-valid candidates.
   */
  input: { chars: number };
  profileId: string | null;
  slotId: number | null;
  /** Most severe first. */
  findings: DiagnosisFinding[];
  /** What could not be checked and why (no token login, no profile, not a sandbox, ...). */
  skipped: string[];
}

/** A diagnosis as kept in memory for "recent" and the support bundle: metadata only. */
export interface DiagnosisSummary {
  id: string;
  at: string;
  kind: DiagnosedKind;
  input: Diagnosis['input'];
  profileId: string | null;
  codes: string[];
  worst: FindingSeverity | null;
}

const PROFILE_ID = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);

export const troubleshootContract = {
  // Diagnosing decrypts with token keys and may ask the sandbox's verify oracle: who, when, what
  // kind and which findings; never the pasted input.
  diagnose: channel(
    z.strictObject({
      input: z.string().max(256 * 1024),
      profileId: PROFILE_ID.optional(),
      slotId: SlotIdSchema.optional(),
    }),
    'Diagnose a pasted ciphertext, CSE field, request body, envelope or PEM; findings in plain words.',
  )
    .returns<Diagnosis>()
    .audited((r, res) => {
      const d = res as { kind?: string; findings?: { code: string }[] } | undefined;
      return {
        action: 'console.diagnose',
        details: {
          profileId: r.profileId ?? null,
          kind: d?.kind ?? null,
          codes: d?.findings?.map((f) => f.code) ?? [],
        },
      };
    }),
  recent: channel(noArgs, 'The last diagnoses of this run (metadata only).')
    .returns<DiagnosisSummary[]>()
    .notAudited('reads the metadata of this run’s diagnoses'),
} as const;

/** A support bundle: one redacted JSON document. */
export interface SupportBundlePreview {
  /** Exactly the bytes `support.write` writes (UTF-8 JSON). */
  content: string;
  bytes: number;
  sha256: string;
  /** Top-level sections, in order. */
  sections: string[];
}

export interface SupportBundleWritten {
  outPath: string;
  bytes: number;
  sha256: string;
}

export const supportContract = {
  // The app's download is made from the preview, so a preview is an export too.
  preview: channel(noArgs, 'The support bundle exactly as it would be written.')
    .returns<SupportBundlePreview>()
    .audited((_r, res) => ({
      action: 'support.bundle.preview',
      details: { sha256: (res as { sha256?: string } | undefined)?.sha256 ?? null },
    })),
  write: channel(
    z.strictObject({
      /** CLI only: a page never names a path (the desktop app asks in main's save dialog). */
      outPath: z.string().min(1).max(4096).optional(),
      overwrite: z.boolean().optional(),
    }),
    'Write the redacted support bundle where the CLI says or main’s save dialog chose (never in the data folder, never over a file unconfirmed).',
  )
    .returns<SupportBundleWritten>()
    .audited((r, res) => ({
      action: 'support.bundle.write',
      details: {
        outPath: (res as { outPath?: string } | undefined)?.outPath ?? r.outPath ?? null,
        overwrite: r.overwrite ?? false,
        sha256: (res as { sha256?: string } | undefined)?.sha256 ?? null,
      },
    })),
} as const;
