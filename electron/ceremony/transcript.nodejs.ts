import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  CEREMONY_ROLES,
  CEREMONY_SCRIPT_FORMAT,
  CEREMONY_SCRIPT_VERSION,
  CEREMONY_TEMPLATES,
  STEP_KINDS,
  TemplateParamsSchema,
  type CeremonyScript,
} from '../../shared/ceremony/script.std';
import { MkmError } from '../../shared/errors.std';
import { canonicalJson } from '../../shared/formats/canonical-json.std';
import { parseRsaPublicKey } from '../crypto/pem.nodejs';
import { verifySignature } from '../gateway/exchange/package.nodejs';

/**
 * The ceremony transcript: what happened, in order, hash-chained so that no entry can be taken
 * out, changed or reordered without the chain saying where, and closed by a signature on the
 * token. It holds times, people, steps, check values and fingerprints; never a component, a
 * share or a clear key (the detail values are typed to make that structural: short strings,
 * numbers, booleans).
 */

export const TRANSCRIPT_FORMAT = 'mkm-ceremony-transcript';
export const TRANSCRIPT_VERSION = 1;
/** The `prev` of the first entry. */
export const GENESIS = '0'.repeat(64);
/** A transcript of a 9-custodian ceremony with exceptions is a few tens of KiB. */
export const TRANSCRIPT_MAX_BYTES = 1024 * 1024;

const HEX64 = z.string().regex(/^[0-9a-f]{64}$/);
const ISO = z.iso.datetime({ offset: true });
const TEXT = z.string().max(512);
/** Check values, fingerprints, ids, counts and words: nothing long enough to be key material in clear. */
const DETAIL_VALUE = z.union([
  z.string().max(200),
  z.number(),
  z.boolean(),
  z.null(),
  z.array(z.string().max(200)).max(32),
]);

export const TranscriptActorSchema = z.strictObject({
  participantId: z.string().max(64),
  name: TEXT,
  role: z.enum(CEREMONY_ROLES),
});
export type TranscriptActor = z.infer<typeof TranscriptActorSchema>;

export const TRANSCRIPT_ACTIONS = [
  'start',
  'participant',
  'step',
  'exception',
  'sign-off',
  'abort',
  'close',
  'resume',
] as const;
export type TranscriptAction = (typeof TRANSCRIPT_ACTIONS)[number];

export const TranscriptEntrySchema = z.strictObject({
  seq: z.number().int().min(0),
  at: ISO,
  action: z.enum(TRANSCRIPT_ACTIONS),
  step: z.strictObject({ id: z.string().max(64), kind: z.enum(STEP_KINDS) }).nullable(),
  by: z.array(TranscriptActorSchema).max(32),
  details: z.record(z.string().max(64), DETAIL_VALUE),
  prev: HEX64,
  hash: HEX64,
});
export type TranscriptEntry = z.infer<typeof TranscriptEntrySchema>;
export type UnhashedEntry = Omit<TranscriptEntry, 'hash' | 'prev' | 'seq'>;

const ScriptSchema = z.strictObject({
  format: z.literal(CEREMONY_SCRIPT_FORMAT),
  version: z.literal(CEREMONY_SCRIPT_VERSION),
  template: z.enum(CEREMONY_TEMPLATES),
  title: TEXT,
  params: TemplateParamsSchema,
  custodians: z.number().int().min(0).max(16),
  steps: z
    .array(
      z.strictObject({
        id: z.string().max(64),
        kind: z.enum(STEP_KINDS),
        title: TEXT,
        roles: z.array(z.enum(CEREMONY_ROLES)).max(3),
        dualControl: z.boolean(),
        index: z.number().int().min(1).max(16).optional(),
        createsObjects: z.boolean().optional(),
      }),
    )
    .max(64),
});

export const CeremonyHeaderSchema = z.strictObject({
  id: z.uuid(),
  template: z.enum(CEREMONY_TEMPLATES),
  title: TEXT,
  script: ScriptSchema,
  scriptHash: HEX64,
  state: z.enum(['completed', 'aborted']),
  startedAt: ISO,
  closedAt: ISO,
  token: z.strictObject({
    serial: z.string().max(64),
    model: z.string().max(64),
    manufacturer: z.string().max(64),
    label: z.string().max(64),
  }),
  app: z.strictObject({ version: z.string().max(64), buildHash: HEX64 }),
  participants: z.array(TranscriptActorSchema).max(32),
});
export type CeremonyHeader = z.infer<typeof CeremonyHeaderSchema>;

export const TRANSCRIPT_SIGNATURE_ALGS = ['RSASSA-PSS-SHA256', 'RSASSA-PKCS1-v1_5-SHA256'] as const;

export const TranscriptRecordSchema = z.strictObject({
  format: z.literal(TRANSCRIPT_FORMAT),
  version: z.literal(TRANSCRIPT_VERSION),
  ceremony: CeremonyHeaderSchema,
  entries: z.array(TranscriptEntrySchema).min(1).max(4096),
  signer: z.strictObject({
    keyId: z.string().regex(/^(?:[0-9a-f]{2}){1,128}$/),
    label: TEXT,
    spkiPem: z.string().max(16_384),
    spkiSha256: HEX64,
  }),
  signature: z.strictObject({
    alg: z.enum(TRANSCRIPT_SIGNATURE_ALGS),
    value: z
      .string()
      .max(2048)
      .regex(/^[A-Za-z0-9+/]+={0,2}$/),
  }),
});
export type TranscriptRecord = z.infer<typeof TranscriptRecordSchema>;
export type UnsignedRecord = Omit<TranscriptRecord, 'signature'>;

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** The hash a script is known by: what custodians compare before it runs. */
export function scriptHash(script: CeremonyScript): string {
  return sha256(canonicalJson(script));
}

/** Each entry's hash covers everything in it but the hash, the previous entry's hash included. */
export function entryHash(entry: Omit<TranscriptEntry, 'hash'>): string {
  return sha256(canonicalJson(entry));
}

/** The next entry of a chain whose last entry is `last` (undefined for the first). */
export function chainEntry(last: TranscriptEntry | undefined, entry: UnhashedEntry): TranscriptEntry {
  const linked = { ...entry, seq: last ? last.seq + 1 : 0, prev: last ? last.hash : GENESIS };
  return { ...linked, hash: entryHash(linked) };
}

/** The first entry that breaks the chain, named: its seq and which link failed. */
export function checkChain(entries: readonly TranscriptEntry[]): void {
  let prev = GENESIS;
  entries.forEach((entry, i) => {
    const fail = (reason: string) =>
      new MkmError('TRANSCRIPT_CHAIN_BROKEN', `The transcript is broken at entry ${i}: ${reason}.`, {
        seq: i,
        reason,
      });
    if (entry.seq !== i) throw fail('entries are missing or out of order');
    if (entry.prev !== prev) throw fail('it does not follow the entry before it');
    const { hash, ...rest } = entry;
    if (entryHash(rest) !== hash) throw fail('its content was changed');
    prev = hash;
  });
}

/** The bytes the token signs: everything but the signature value, the algorithm included. */
export function signedBytes(record: UnsignedRecord, alg: TranscriptRecord['signature']['alg']): Buffer {
  return Buffer.from(canonicalJson({ ...record, signature: { alg } }), 'utf8');
}

export function recordText(record: TranscriptRecord): string {
  return JSON.stringify(record, null, 2) + '\n';
}

export interface VerifiedTranscript {
  record: TranscriptRecord;
  /** The signer's SPKI SHA-256, for comparison with the one the ceremony announced. */
  signer: string;
}

/**
 * Reads and checks a signed transcript, failing closed at the first check that does not hold:
 * size, JSON, schema, the script's hash, the chain, the signer's fingerprint, the signature, and
 * (when given) the signer the reader expects.
 */
export function verifyTranscript(text: string, expectedSigner?: string): VerifiedTranscript {
  if (Buffer.byteLength(text, 'utf8') > TRANSCRIPT_MAX_BYTES) {
    throw new MkmError('TRANSCRIPT_FORMAT_INVALID', 'This file is larger than any transcript.', {
      reason: 'too-large',
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new MkmError('TRANSCRIPT_FORMAT_INVALID', 'This file is not JSON, so it is not a transcript.', {
      reason: 'not-json',
    });
  }
  const parsed = TranscriptRecordSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new MkmError(
      'TRANSCRIPT_FORMAT_INVALID',
      `This is not an mkm ceremony transcript: ${issue.message}.`,
      {
        reason: 'schema',
        path: issue.path.join('.').slice(0, 120),
      },
    );
  }
  const record = parsed.data;
  if (scriptHash(record.ceremony.script as CeremonyScript) !== record.ceremony.scriptHash) {
    throw new MkmError(
      'TRANSCRIPT_CHAIN_BROKEN',
      'The script in the transcript is not the one whose hash it records.',
      { seq: -1, reason: 'script-hash' },
    );
  }
  checkChain(record.entries);
  let key;
  try {
    key = parseRsaPublicKey(record.signer.spkiPem, { minBits: 2048 });
  } catch {
    throw new MkmError(
      'TRANSCRIPT_SIGNATURE_INVALID',
      'The signer’s public key in the transcript is not usable.',
      {
        reason: 'signer-key',
      },
    );
  }
  if (key.spkiSha256 !== record.signer.spkiSha256) {
    throw new MkmError(
      'TRANSCRIPT_SIGNATURE_INVALID',
      'The signer’s key is not the one its fingerprint names.',
      {
        reason: 'signer-fingerprint',
      },
    );
  }
  const { signature, ...unsigned } = record;
  const ok = verifySignature(
    signature.alg,
    key,
    signedBytes(unsigned, signature.alg),
    Buffer.from(signature.value, 'base64'),
  );
  if (!ok) {
    throw new MkmError('TRANSCRIPT_SIGNATURE_INVALID', 'The transcript’s signature does not verify.', {
      reason: 'signature',
    });
  }
  if (expectedSigner !== undefined && expectedSigner.toLowerCase() !== key.spkiSha256) {
    throw new MkmError(
      'TRANSCRIPT_SIGNER_UNEXPECTED',
      'The transcript was signed by another key than the one expected.',
      {
        signer: key.spkiSha256,
      },
    );
  }
  return { record, signer: key.spkiSha256 };
}
