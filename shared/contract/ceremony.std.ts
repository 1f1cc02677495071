import { z } from 'zod';
import { channel, noArgs } from '../contract-kit.std';
import {
  CEREMONY_ROLES,
  TemplateParamsSchema,
  PreflightInputSchema,
  type CeremonyRole,
  type TemplateParams,
  type CeremonyScript,
  type CeremonyTemplate,
  type StepKind,
} from '../ceremony/script.std';
import { EnterComponentInputSchema, RevealComponentInputSchema } from '../ceremony/token-ops.std';
import { EnterShareInputSchema } from '../ceremony/share-ops.std'; // M-of-N shares
// TR-31
import { Tr31ImportInputSchema } from '../ceremony/tr31-ops.std';

/**
 * Offline key ceremonies (issue 11): the `ceremony.*` channels. The engine is
 * electron/ceremony/ceremony-service.nodejs.ts; every call that changes a ceremony writes its
 * own transcript and audit entries (several per call), so those channels record themselves.
 * A passphrase travels in one field of one request and is checked against a verifier; a
 * component or share never travels in clear (see CEREMONY.md: ciphertexts to the token host).
 */

const CEREMONY_ID = z.uuid();
const PARTICIPANT_ID = z.string().regex(/^p-[0-9]{1,2}$/);
const PASSPHRASE = z.string().min(1).max(1024);
const KEY_ID = z.string().regex(/^(?:[0-9a-f]{2}){1,128}$/, 'lowercase hex key id');

export const CeremonyActorProofSchema = z.strictObject({
  participantId: PARTICIPANT_ID,
  passphrase: PASSPHRASE,
});
export type CeremonyActorProof = z.infer<typeof CeremonyActorProofSchema>;

export interface CeremonyStepView {
  id: string;
  kind: StepKind;
  title: string;
  roles: CeremonyRole[];
  dualControl: boolean;
  done: boolean;
  /** Names of who did it (actor first). */
  by: string[];
}

export interface CeremonyView {
  id: string;
  template: CeremonyTemplate;
  title: string;
  scriptHash: string;
  state: 'running' | 'completed' | 'aborted';
  startedAt: string;
  closedAt: string | null;
  token: { serial: string; model: string; manufacturer: string; label: string };
  steps: CeremonyStepView[];
  /** The step the ceremony has reached; null once it is over. */
  current: string | null;
  participants: {
    id: string;
    name: string;
    role: CeremonyRole;
    custodian: number | null;
    signedOff: boolean;
  }[];
  /** What steps established: key ids, check values, fingerprints. Never a secret. */
  facts: Record<string, string | number | boolean | null>;
  transcriptEntries: number;
  transcriptHead: string | null;
  // ceremony-faults: the script's parameters (key type, counts, label), for the screen's header.
  params: TemplateParams;
}

export interface StepOutcome {
  ceremony: CeremonyView;
  step: string;
  details: Record<string, string | number | boolean | null | string[]>;
  /** For the caller only, never recorded: e.g. `component`, encrypted to the custodian's ephemeral key. */
  reply: Record<string, string>;
  transcriptHash: string;
}

export interface TranscriptExport {
  text: string;
  fileName: string;
  /** The signer's SPKI SHA-256. */
  signer: string;
  entries: number;
}

export interface TranscriptVerification {
  verified: true;
  ceremonyId: string;
  template: CeremonyTemplate;
  title: string;
  state: 'completed' | 'aborted';
  signer: string;
  entries: number;
  participants: { name: string; role: CeremonyRole }[];
}

export interface CeremonyReview {
  script: CeremonyScript;
  scriptHash: string;
}

export const ceremonyContract = {
  templates: channel(noArgs, 'The ceremony templates this build offers, with what each does.')
    .returns<{ template: CeremonyTemplate; description: string }[]>()
    .notAudited('A fixed list that reveals nothing and changes nothing.'),
  review: channel(
    TemplateParamsSchema,
    'The script a template makes, and its hash, to review before it runs.',
  )
    .returns<CeremonyReview>()
    .notAudited('A pure computation: nothing is made or changed; starting the ceremony records the hash.'),
  start: channel(
    z.strictObject({ params: TemplateParamsSchema, slotId: z.number().int().min(0), signingKeyId: KEY_ID }),
    'Starts a ceremony on a logged-in token; its transcript will be signed by the named signing key.',
  )
    .returns<CeremonyView>()
    .recordsItself(),
  list: channel(noArgs, 'The ceremonies on this machine, newest first.')
    .returns<CeremonyView[]>()
    .notAudited('Reads the journals: names, steps and check values, no secret.'),
  status: channel(z.strictObject({ id: CEREMONY_ID }), 'One ceremony, where it stands.')
    .returns<CeremonyView>()
    .notAudited('Reads one journal: no secret.'),
  enroll: channel(
    z.strictObject({
      id: CEREMONY_ID,
      name: z.string().trim().min(1).max(128),
      role: z.enum(CEREMONY_ROLES),
      passphrase: PASSPHRASE,
      acknowledged: z.boolean(),
    }),
    'Identifies a participant, who sets the passphrase they will confirm each of their steps with.',
  )
    .returns<CeremonyView>()
    .recordsItself(),
  act: channel(
    z.strictObject({
      id: CEREMONY_ID,
      stepId: z.string().max(64),
      actor: CeremonyActorProofSchema,
      confirmer: CeremonyActorProofSchema.optional(),
      // One of the steps' inputs (each executor checks it is its own); never a clear secret.
      input: z
        .union([
          PreflightInputSchema,
          EnterComponentInputSchema,
          RevealComponentInputSchema,
          EnterShareInputSchema, // M-of-N shares (reveal-share takes RevealComponentInputSchema's shape)
          // TR-31
          Tr31ImportInputSchema,
        ])
        .optional(),
    }),
    'Does the step the ceremony has reached, by the people the script names.',
  )
    .returns<StepOutcome>()
    .recordsItself(),
  exception: channel(
    z.strictObject({
      id: CEREMONY_ID,
      witness: CeremonyActorProofSchema,
      text: z.string().trim().min(1).max(200),
    }),
    'The witness records an exception in the transcript.',
  )
    .returns<CeremonyView>()
    .recordsItself(),
  signOff: channel(
    z.strictObject({ id: CEREMONY_ID, participant: CeremonyActorProofSchema }),
    'A participant signs off; the last sign-off closes the ceremony and signs its transcript.',
  )
    .returns<CeremonyView>()
    .recordsItself(),
  abort: channel(
    z.strictObject({
      id: CEREMONY_ID,
      actor: CeremonyActorProofSchema,
      reason: z.string().trim().min(1).max(200),
    }),
    'Ends a ceremony where it stands, removing what a step left half-made on the token.',
  )
    .returns<CeremonyView>()
    .recordsItself(),
  transportKey: channel(
    z.strictObject({ id: CEREMONY_ID }),
    'The key on the token that a custodian’s component is encrypted to before it leaves their screen.',
  )
    .returns<{ spkiPem: string; spkiSha256: string }>()
    .notAudited('A public key: the steps that use it are recorded.'),
  transcript: channel(
    z.strictObject({ id: CEREMONY_ID }),
    'The signed transcript of an ended ceremony (.mkmx).',
  )
    .returns<TranscriptExport>()
    .audited((req, res) => ({
      action: 'ceremony.transcript.export',
      details: {
        ceremonyId: req.id,
        signer: res ? { spkiSha256: (res as TranscriptExport).signer } : null,
      },
    })),
  verifyTranscript: channel(
    z.strictObject({
      text: z.string().max(1024 * 1024),
      expectedSigner: z
        .string()
        .regex(/^[0-9a-fA-F]{64}$/)
        .optional(),
    }),
    'Checks a transcript: its chain, its script hash and its signature.',
  )
    .returns<TranscriptVerification>()
    .audited((_req, res) => ({
      action: 'ceremony.transcript.verify',
      details: res
        ? {
            ceremonyId: (res as TranscriptVerification).ceremonyId,
            signer: { spkiSha256: (res as TranscriptVerification).signer },
          }
        : {},
    })),
};
