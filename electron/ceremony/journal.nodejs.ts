import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { CEREMONY_ROLES } from '../../shared/ceremony/script.std';
import { MkmError } from '../../shared/errors.std';
import { SEAL_KINDS } from '../audit/sealer.nodejs';
import { writeFileAtomic } from '../core/atomic-file.nodejs';
import { CeremonyHeaderSchema, TranscriptEntrySchema, checkChain, scriptHash } from './transcript.nodejs';
import type { CeremonyScript } from '../../shared/ceremony/script.std';

/**
 * One file per ceremony, `<data>/ceremonies/<id>.json`, rewritten atomically after every step:
 * the step a ceremony reached is on disk before the next may start, so a crash or a closed
 * window resumes exactly there. Objects a step is about to make on the token are written here
 * first (their ids), so that resuming or aborting can remove any the step left half-formed.
 * Never a component, share, clear key or passphrase: participants are kept as scrypt verifiers.
 *
 * Where the ceremony stands (steps done and by whom, sign-offs, the facts steps established, the
 * state) is not kept beside the transcript but read from it (`progress`), so the two cannot
 * disagree; each participant must match the transcript entry that enrolled them, verifier
 * fingerprint included, so a verifier swapped on disk is refused rather than believed. That
 * chain is unkeyed, so whoever rewrites it could swap one anyway: in an app, the journal also
 * carries a seal by the audit key on the token (journal-seal.nodejs.ts), checked before use.
 */

export const JOURNAL_FORMAT = 'mkm-ceremony-journal';

const B64 = z
  .string()
  .regex(/^[A-Za-z0-9+/]+={0,2}$/)
  .max(512);

export const VerifierSchema = z.strictObject({
  kdf: z.literal('scrypt'),
  N: z
    .number()
    .int()
    .min(1024)
    .max(1 << 20),
  r: z.number().int().min(1).max(32),
  p: z.number().int().min(1).max(16),
  salt: B64,
  hash: B64,
});
export type Verifier = z.infer<typeof VerifierSchema>;

export const ParticipantSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9-]{1,64}$/),
  name: z.string().max(128),
  role: z.enum(CEREMONY_ROLES),
  /** The custodian's number in the script (1-based); null for the administrator and witness. */
  custodian: z.number().int().min(1).max(16).nullable(),
  acknowledged: z.boolean(),
  verifier: VerifierSchema,
});
export type Participant = z.infer<typeof ParticipantSchema>;

export const JournalSchema = z.strictObject({
  format: z.literal(JOURNAL_FORMAT),
  version: z.literal(1),
  id: z.uuid(),
  header: CeremonyHeaderSchema.omit({ state: true, closedAt: true, participants: true }),
  slotId: z.number().int().min(0),
  signingKeyId: z.string().regex(/^(?:[0-9a-f]{2}){1,128}$/),
  /** Each with its verifier; the transcript's participant entry names the verifier's fingerprint. */
  participants: z.array(ParticipantSchema).max(32),
  /** Token objects a step is making: written before they are made, cleared when the step completes. */
  intents: z
    .array(
      z.strictObject({
        step: z.string().max(64),
        slotId: z.number().int(),
        keyIds: z.array(z.string().max(256)).max(8),
      }),
    )
    .max(8),
  entries: z.array(TranscriptEntrySchema).max(4096),
  /**
   * The audit key's MAC (or signature) over everything above (journal-seal.nodejs.ts), in the
   * same file so one atomic write carries both. Optional: journals of a standalone engine (no
   * audit trail) have none; an app with an audit trail refuses a journal without one.
   */
  seal: z
    .strictObject({
      key: z.strictObject({
        id: z.string().regex(/^[0-9a-f]{1,256}$/),
        kcv: z.string().regex(/^[0-9a-f]{1,64}$/),
        kind: z.enum(SEAL_KINDS).optional(),
      }),
      mac: z.string().regex(/^(?:[0-9a-f]{2}){16,512}$/),
    })
    .optional(),
});
export type Journal = z.infer<typeof JournalSchema>;
export type JournalSeal = NonNullable<Journal['seal']>;

export class JournalStore {
  constructor(private readonly folder: string) {}

  private file(id: string): string {
    if (!/^[0-9a-f-]{36}$/.test(id))
      throw new MkmError('CEREMONY_NOT_FOUND', undefined, { id: id.slice(0, 64) });
    return join(this.folder, `${id}.json`);
  }

  save(journal: Journal): void {
    mkdirSync(this.folder, { recursive: true, mode: 0o700 });
    writeFileAtomic(this.file(journal.id), JSON.stringify(journal, null, 1) + '\n');
  }

  /** Reads and checks a journal: schema, its script's hash, its chain. A journal that fails is not resumed. */
  load(id: string): Journal {
    const file = this.file(id);
    if (!existsSync(file)) throw new MkmError('CEREMONY_NOT_FOUND', undefined, { id });
    let journal: Journal;
    try {
      journal = JournalSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    } catch {
      throw new MkmError('CEREMONY_JOURNAL_INVALID', undefined, { id, reason: 'schema' });
    }
    if (scriptHash(journal.header.script as CeremonyScript) !== journal.header.scriptHash) {
      throw new MkmError('CEREMONY_JOURNAL_INVALID', undefined, { id, reason: 'script-hash' });
    }
    try {
      checkChain(journal.entries);
    } catch {
      throw new MkmError('CEREMONY_JOURNAL_INVALID', undefined, { id, reason: 'chain' });
    }
    for (const participant of journal.participants) {
      const enrolled = journal.entries.find(
        (e) => e.action === 'participant' && e.by[0]?.participantId === participant.id,
      );
      if (
        !enrolled ||
        enrolled.by[0]!.name !== participant.name ||
        enrolled.details.role !== participant.role ||
        enrolled.details.custodian !== participant.custodian ||
        enrolled.details.verifier !== verifierFingerprint(participant.verifier)
      ) {
        throw new MkmError('CEREMONY_JOURNAL_INVALID', undefined, { id, reason: 'participant' });
      }
    }
    return journal;
  }

  ids(): string[] {
    if (!existsSync(this.folder)) return [];
    return readdirSync(this.folder)
      .filter((name) => /^[0-9a-f-]{36}\.json$/.test(name))
      .map((name) => name.slice(0, 36));
  }

  recordFile(id: string): string {
    return join(this.folder, `${id}.mkmx`);
  }
}

/** Names a verifier without being one: SHA-256 over its parameters, salt and hash. */
export function verifierFingerprint(v: Verifier): string {
  return createHash('sha256').update(`${v.kdf}|${v.N}|${v.r}|${v.p}|${v.salt}|${v.hash}`).digest('hex');
}

export interface Progress {
  state: 'running' | 'completed' | 'aborted';
  closedAt: string | null;
  /** Step id -> participant ids who did it (actor first), in the order they were done. */
  done: Map<string, string[]>;
  signedOff: string[];
  /** What the steps established (their recorded details), later steps' values winning. */
  facts: Record<string, string | number | boolean | null | string[]>;
}

/**
 * Where a ceremony stands, read from its transcript alone. A `resume` entry's `redo` names done
 * steps whose result was lost with a process's memory (components held as ciphertexts to a
 * session key): they count as not done again, and what they established no longer holds.
 */
export function progress(journal: Journal): Progress {
  const done = new Map<string, string[]>();
  /** Step id -> the entry that completed it (its details are the step's facts). */
  const doneBy = new Map<string, number>();
  const signedOff: string[] = [];
  let state: Progress['state'] = 'running';
  let closedAt: string | null = null;
  for (const [n, entry] of journal.entries.entries()) {
    const ids = entry.by.map((b) => b.participantId);
    if (entry.action === 'step' && entry.step) {
      done.set(entry.step.id, ids);
      doneBy.set(entry.step.id, n);
    } else if (entry.action === 'resume' && Array.isArray(entry.details.redo)) {
      for (const stepId of entry.details.redo) {
        done.delete(stepId);
        doneBy.delete(stepId);
      }
    } else if (entry.action === 'sign-off' && ids[0] && !signedOff.includes(ids[0])) {
      signedOff.push(ids[0]);
    } else if (entry.action === 'close' || entry.action === 'abort') {
      state = entry.action === 'close' ? 'completed' : 'aborted';
      closedAt = entry.at;
      if (entry.action === 'close') {
        const signOff = journal.header.script.steps.find((s) => s.kind === 'sign-off');
        if (signOff) done.set(signOff.id, [...signedOff]);
      }
    }
  }
  const facts: Progress['facts'] = {};
  for (const n of [...doneBy.values()].sort((a, b) => a - b))
    Object.assign(facts, journal.entries[n]!.details);
  return { state, closedAt, done, signedOff, facts };
}
