import { z } from 'zod';
import { channel, noArgs } from '../contract-kit.std';
import type { BatchFailure } from '../console/batch-rows.std';
import type { ComposeFieldName, ComposeReport } from '../console/compose.std';
import type { ErrorCode, MkmErrorShape } from '../errors.std';

/**
 * The payload test console (issue 6): compose, encrypt, decrypt, verify and batch.
 * One slice of the IPC contract; `shared/contract.std.ts` composes the slices.
 *
 * Card numbers, CVVs and account numbers cross here once, in a request, and are used for that
 * call only: no result carries them back except `decryptMessage`'s text (the one screen that
 * asked for it). Results hold masks, lengths, fingerprints and ciphertexts.
 */

const PROFILE_ID = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
const OPERATION_ID = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const FILE_ID = z.uuid();
const PATH = z.string().min(1).max(4096);
const B64 = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be standard base64');

export const CONSOLE_SCHEMES = ['paytrace', 'oaep'] as const;
export type ConsoleScheme = (typeof CONSOLE_SCHEMES)[number];
export const BATCH_SCHEMES = ['paytrace', 'oaep', 'aes'] as const;
export type BatchScheme = (typeof BATCH_SCHEMES)[number];

/** What the user typed; trimmed by nobody (a stray space is a finding, not a fix). */
export const composeFieldsSchema = z.strictObject({
  number: z.string().max(32).optional(),
  expiration: z.string().max(16).optional(),
  csc: z.string().max(8).optional(),
  swipe: z.string().max(256).optional(),
  accountNumber: z.string().max(32).optional(),
  routingNumber: z.string().max(16).optional(),
});

// ---------------------------------------------------------------- results

export interface ConsoleKeyInfo {
  profileId: string;
  /** The gateway's key_id; null for a PEM imported by hand. */
  keyId: string | null;
  spkiSha256: string;
  modulusBits: number;
  /** What the gateway advertises for this key. */
  padding: 'RSAES-PKCS1-V1_5' | 'RSAES-OAEP-SHA256';
}

export interface ConsoleCipherField {
  /** The JSON path in the body, e.g. `credit_card.encrypted_number`. */
  path: string;
  field: ComposeFieldName;
  /** Decoded length in bytes: always the modulus length. */
  bytes: number;
  base64Length: number;
}

export interface ConsoleEncryptResult {
  scheme: ConsoleScheme;
  padding: 'RSAES-PKCS1-V1_5' | 'RSAES-OAEP-SHA256';
  key: ConsoleKeyInfo;
  /** The request a merchant's server sends (PayTrace's JSON layout). */
  body: Record<string, unknown>;
  bodyJson: string;
  endpoint: string;
  /** `curl` with the body; the auth header is a placeholder, never a real token. */
  curl: string;
  fields: ConsoleCipherField[];
  compose: ComposeReport;
  /** Remarks worth reading (scheme vs the gateway's advertised padding, PayTrace's own field names). */
  notes: string[];
  historyId: string;
}

export interface EnvelopePart {
  name: 'set_id' | 'iv' | 'ciphertext' | 'mac';
  value: string;
  /** Bytes of the decoded value (set_id: of its UTF-8). */
  bytes: number;
  explanation: string;
}

export interface ConsoleMessageResult {
  profileId: string;
  setId: string;
  wrappingKeyId: string;
  expiresAt: string;
  ivSource: 'set' | 'token';
  /** The envelope as JSON members (set_id, iv, ciphertext, mac). */
  envelope: { set_id: string; iv: string; ciphertext: string; mac: string };
  parts: EnvelopePart[];
  plaintextBytes: number;
  notes: string[];
}

export interface ConsoleDecryptResult {
  profileId: string;
  setId: string;
  macOk: true;
  /** The message's UTF-8 text (shown on the one screen that asked for it, never stored). */
  text: string;
  json: boolean;
  parts: EnvelopePart[];
}

/** One field of a round trip: what was sent (masked) and what the gateway said it received. */
export interface RoundTripRow {
  field: ComposeFieldName;
  /** The gateway's name for it (encrypted_number, card_number, ...). */
  gatewayName: string;
  masked: string;
  received: boolean;
  error: string | null;
  length: number | null;
  expectedLength: number;
  last4: string | null;
  expectedLast4: string | null;
  luhnOk: boolean | null;
  abaOk: boolean | null;
  /** null when the gateway gives no tag for this field (CVV, expiration, swipe). */
  tagMatch: boolean | null;
  /** Every comparison that could be made agreed. */
  ok: boolean;
}

export interface RoundTripLeg {
  endpoint: '/v1/encryption/verify' | '/v1/secure/verify_payload';
  ok: boolean;
  rows: RoundTripRow[];
  /** The CSE leg: padding and key; the secure leg: the set used and the next one. */
  padding?: string;
  keyId?: string | null;
  setId?: string;
  nextKeySet?: { setId: string; expiresAt: string } | { refused: string };
  error: MkmErrorShape | null;
}

export interface ConsoleVerifyResult {
  profileId: string;
  cse: RoundTripLeg | null;
  secure: RoundTripLeg | null;
  historyId: string;
}

export interface ConsoleHistoryEntry {
  id: string;
  at: string;
  kind: 'encrypt' | 'verify' | 'message' | 'batch';
  profileId: string | null;
  scheme: string | null;
  /** Masked values only: no hash of any value (it would be a search key beside the mask). */
  fields: Partial<Record<ComposeFieldName, { masked: string }>>;
  /** mismatch: the round trip answered, but a field did not come back as sent. */
  outcome: 'ok' | 'mismatch' | ErrorCode;
  summary: string;
}

export interface BatchSummary {
  operationId: string;
  scheme: BatchScheme;
  status: 'done' | 'cancelled' | 'failed';
  rows: number;
  encrypted: number;
  failed: number;
  /** Where the output is: outPath when done, `<outPath>.partial` otherwise. */
  outputPath: string;
  partial: boolean;
  elapsedMs: number;
  /** null when the run was too short for a rate to mean anything (BATCH_RATE_MIN_MS). */
  rowsPerSecond: number | null;
  /** The failed rows with every problem of each (the first BATCH_FAILURES_LISTED; all are in the output). */
  failures: BatchFailure[];
  columns: string[];
  keyFingerprint: string | null;
  error: MkmErrorShape | null;
  /** Browser mode: the output waits in main for `console.batchDownload` (once, by this id). */
  download?: { fileId: string; fileName: string } | null;
}

/** A file a page chose without seeing its path (main's open dialog, or an upload). */
export interface HeldFileView {
  fileId: string;
  name: string;
  bytes: number;
}

/** An upload is one message: bounded below the socket's and the registry's payload limits. */
export const BATCH_UPLOAD_MAX_CHARS = 1_000_000;

/** Non-secret facts about the console's last ciphertexts (for the troubleshooter). */
export interface ConsoleCiphertextInfo {
  at: string;
  kind: 'cse' | 'message' | 'batch';
  profileId: string | null;
  scheme: string;
  keyFingerprint: string | null;
  keyId: string | null;
  setId: string | null;
  /** name -> decoded length in bytes */
  lengths: Record<string, number>;
}

export interface ConsoleProfileState {
  profileId: string;
  scheme: ConsoleScheme | null;
  key: ConsoleKeyInfo | null;
  keyRolling: boolean;
  currentSet: { setId: string; expiresAt: string } | null;
}

// ---------------------------------------------------------------- channels

const profileRef = { profileId: PROFILE_ID };

export const consoleContract = {
  compose: channel(
    z.strictObject({ fields: composeFieldsSchema }),
    'Check a test payload (Luhn, ABA, expiration, CVV length); findings per field, values masked.',
  )
    .returns<ComposeReport>()
    .notAudited('checks and masks a request composed in the console; nothing is encrypted or sent'),
  profileState: channel(
    z.strictObject(profileRef),
    "A profile's console state: scheme, pinned gateway key, current key set (no key material).",
  )
    .returns<ConsoleProfileState>()
    .notAudited('reads which keys a profile would use'),
  // The payload console: which fields and keys, never a value (card data is in the request).
  encrypt: channel(
    z.strictObject({
      ...profileRef,
      fields: composeFieldsSchema,
      scheme: z.enum(CONSOLE_SCHEMES).optional(),
      amount: z
        .string()
        .regex(/^\d{1,9}(\.\d{1,2})?$/)
        .optional(),
      /** A scheme the gateway cannot decrypt is refused (SCHEME_MISMATCH) unless this is true. */
      overrideScheme: z.boolean().optional(),
    }),
    "Client-side encryption with the profile's pinned gateway key: the merchant's JSON body and curl.",
  )
    .returns<ConsoleEncryptResult>()
    .audited((r, res) => {
      const e = res as { scheme?: string; key?: { spkiSha256: string; keyId: string | null } } | undefined;
      return {
        action: 'console.encrypt',
        details: {
          profileId: r.profileId,
          scheme: e?.scheme ?? r.scheme ?? null,
          overrideScheme: r.overrideScheme === true,
          fields: Object.keys((r.fields ?? {}) as object),
          gatewayKeyId: e?.key?.keyId ?? null,
          fingerprint: e?.key?.spkiSha256 ?? null,
        },
      };
    }),
  encryptMessage: channel(
    z.strictObject({
      ...profileRef,
      text: z.string().min(1).max(65_536),
      ivSource: z.enum(['set', 'token']).optional(),
    }),
    'Seal a message with the current key set inside the token; the envelope and its parts.',
  )
    .returns<ConsoleMessageResult>()
    .audited((r, res) => ({
      action: 'console.message.encrypt',
      details: { profileId: r.profileId, setId: (res as { setId?: string } | undefined)?.setId ?? null },
    })),
  decryptMessage: channel(
    z.strictObject({
      ...profileRef,
      envelope: z.strictObject({
        set_id: z.string().min(1).max(128),
        iv: B64(64).optional(),
        ciphertext: B64(131_072),
        mac: B64(64),
      }),
    }),
    'Check the MAC and decrypt an envelope with the current key set inside the token.',
  )
    .returns<ConsoleDecryptResult>()
    .audited((r) => ({
      action: 'console.message.decrypt',
      details: {
        profileId: r.profileId,
        setId: (r.envelope as { set_id?: string } | undefined)?.set_id ?? null,
      },
    })),
  verify: channel(
    z.strictObject({
      ...profileRef,
      fields: composeFieldsSchema,
      legs: z
        .array(z.enum(['cse', 'secure']))
        .min(1)
        .max(2)
        .optional(),
      /** The scheme the payload was composed with (the CSE leg uses it); absent: the profile's. */
      scheme: z.enum(CONSOLE_SCHEMES).optional(),
      overrideScheme: z.boolean().optional(),
    }),
    'Round trip to /v1/encryption/verify and /v1/secure/verify_payload, compared field by field.',
  )
    .returns<ConsoleVerifyResult>()
    .audited((r, res) => {
      const v = res as
        | { cse?: { ok: boolean; padding?: string } | null; secure?: { ok: boolean; setId?: string } | null }
        | undefined;
      return {
        action: 'console.verify',
        details: {
          profileId: r.profileId,
          scheme: v?.cse?.padding ?? r.scheme ?? null,
          overrideScheme: r.overrideScheme === true,
          fields: Object.keys((r.fields ?? {}) as object),
          cseOk: v?.cse ? v.cse.ok : null,
          secureOk: v?.secure ? v.secure.ok : null,
          setId: v?.secure?.setId ?? null,
        },
      };
    }),
  history: channel(
    z.strictObject({ limit: z.number().int().min(1).max(500).optional() }),
    "The console's history: masked values only, newest first.",
  )
    .returns<ConsoleHistoryEntry[]>()
    .notAudited('reads the masked history of this run'),
  historyClear: channel(
    z.strictObject({ confirm: z.literal(true) }),
    "Forget the console's history (memory and disk).",
  )
    .returns<{ cleared: number }>()
    .notAudited('clears the masked local history; the audit log keeps its own entries'),
  historyPersistence: channel(
    z.strictObject({ persist: z.boolean().optional() }),
    'Whether the history is kept on disk too (masked values only); set it when given.',
  )
    .returns<{ persist: boolean; file: string }>()
    .notAudited('reads where the masked history is kept'),
  lastCiphertexts: channel(
    z.strictObject({}),
    "Non-secret facts about the console's last ciphertexts (scheme, key, set, lengths).",
  )
    .returns<ConsoleCiphertextInfo[]>()
    .notAudited('reads the metadata of the last ciphertexts'),
  batchStart: channel(
    z.strictObject({
      operationId: OPERATION_ID.optional(),
      /** CLI only: the user's shell names files; a page never does. */
      inPath: PATH.optional(),
      outPath: PATH.optional(),
      /** A page: the input it picked (batchPickInput) or uploaded (batchUpload). */
      input: FILE_ID.optional(),
      /** A page: main's save dialog (desktop app) or a download when done (browser mode). */
      output: z.enum(['dialog', 'download']).optional(),
      scheme: z.enum(BATCH_SCHEMES),
      profileId: PROFILE_ID.optional(),
      /** aes: the token AES-256 key (CKA_ID hex) and its slot. */
      keyId: z
        .string()
        .regex(/^(?:[0-9a-fA-F]{2}){1,64}$/)
        .optional(),
      slotId: z.number().int().min(0).max(0xffffffff).optional(),
      overwrite: z.boolean().optional(),
      /** paytrace/oaep: encrypt with a scheme the gateway does not advertise (audited). */
      overrideScheme: z.boolean().optional(),
    }),
    'Encrypt every row of a CSV file into a CSV of ciphertexts; progress events; resolves when done.',
  )
    .returns<BatchSummary>()
    .audited((r, res) => {
      const b = res as
        | {
            operationId: string;
            status: string;
            rows: number;
            encrypted: number;
            failed: number;
            keyFingerprint: string | null;
          }
        | undefined;
      return {
        action: 'console.batch',
        ...(r.keyId ? { key: { id: String(r.keyId) } } : {}),
        details: {
          scheme: r.scheme,
          overrideScheme: r.overrideScheme === true,
          profileId: r.profileId ?? null,
          inPath: r.inPath ?? null,
          outPath: r.outPath ?? null,
          // A page's batch: the input it handed over and where the output went (dialog, download).
          input: r.input ?? null,
          output: r.output ?? null,
          outputPath: (res as { outputPath?: string } | undefined)?.outputPath ?? null,
          operationId: b?.operationId ?? r.operationId ?? null,
          status: b?.status ?? null,
          rows: b?.rows ?? null,
          encrypted: b?.encrypted ?? null,
          failed: b?.failed ?? null,
          fingerprint: b?.keyFingerprint ?? null,
        },
      };
    }),
  batchPickInput: channel(
    noArgs,
    'Desktop app: choose the input CSV in main’s open dialog (null when cancelled).',
  )
    .returns<HeldFileView | null>()
    // What a page handed to main or took from it: names and sizes, never the content.
    .audited((_r, res) => ({
      action: 'console.batch.input.pick',
      details: { name: (res as { name?: string } | null | undefined)?.name ?? null },
    })),
  batchUpload: channel(
    z.strictObject({
      name: z.string().min(1).max(255),
      content: z.string().max(BATCH_UPLOAD_MAX_CHARS),
    }),
    'Browser mode: hand the input CSV to main (bounded); the page keeps only its id.',
  )
    .returns<HeldFileView>()
    .audited((r, res) => ({
      action: 'console.batch.input.upload',
      details: { name: r.name, bytes: (res as { bytes?: number } | undefined)?.bytes ?? null },
    })),
  batchDownload: channel(
    z.strictObject({ fileId: FILE_ID }),
    'Browser mode: the output of a finished batch, once, for the page to save as a download.',
  )
    .returns<{ fileName: string; mime: 'text/csv'; content: string }>()
    .audited((r, res) => ({
      action: 'console.batch.download',
      details: { fileId: r.fileId, fileName: (res as { fileName?: string } | undefined)?.fileName ?? null },
    })),
  batchCancel: channel(
    z.strictObject({ operationId: OPERATION_ID }),
    'Cancel a running batch; its partial output is kept under a .partial name.',
  )
    .returns<{ cancelled: boolean }>()
    .notAudited('asks a running batch to stop; its console.batch entry records how it ended'),
};
