import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import {
  buildScript,
  TemplateParamsSchema,
  type CeremonyRole,
  type CeremonyScript,
  type ScriptStep,
  type StepKind,
  type TemplateParams,
} from '../../shared/ceremony/script.std';
import type {
  CeremonyActorProof,
  CeremonyView,
  StepOutcome,
  TranscriptExport,
} from '../../shared/contract/ceremony.std';
import { MkmError } from '../../shared/errors.std';
import type { AuditAppend } from '../audit/audit-log.nodejs';
import type { StateSealer } from '../audit/state-seal.nodejs';
import { writeFileAtomic } from '../core/atomic-file.nodejs';
import { checkJournalSeal, sealJournal } from './journal-seal.nodejs';
import {
  progress,
  verifierFingerprint,
  type Journal,
  type JournalStore,
  type Participant,
  type Progress,
} from './journal.nodejs';
import {
  chainEntry,
  recordText,
  scriptHash,
  signedBytes,
  verifyTranscript,
  type TranscriptActor,
  type TranscriptEntry,
  type TranscriptRecord,
  type UnhashedEntry,
  type UnsignedRecord,
} from './transcript.nodejs';
import { checkVerifier, makeVerifier } from './verifier.nodejs';

export type DetailValue = string | number | boolean | null | string[];
export type Details = Record<string, DetailValue>;

/** What a step's executor may see and do. It never receives a passphrase. */
export interface StepContext {
  readonly journal: Readonly<Journal>;
  readonly step: ScriptStep;
  readonly slotId: number;
  /** The step's own input, validated by the executor (ciphertexts, choices; never a clear secret). */
  readonly input: unknown;
  readonly actors: readonly Participant[];
  /** What earlier steps established (their recorded details). */
  readonly facts: Readonly<Record<string, DetailValue>>;
  /** Journals the ids of token objects the step is about to make, before it makes them. */
  intend(keyIds: string[]): Promise<void>;
  /** A fact later steps and the transcript need (a key id, a check value): never a secret. */
  fact(name: string, value: string | number | boolean | null): void;
  /**
   * Hands something back to the caller only, never journaled nor recorded: a component or share
   * encrypted to the one custodian's ephemeral key (see CEREMONY.md, "Out of the host").
   */
  reply(name: string, value: string): void;
}
/** Runs one kind of step; returns what the transcript records of it (check values, fingerprints). */
export type StepExecutor = (ctx: StepContext) => Promise<Details>;

export interface CeremonyTokenPort {
  describe(slotId: number): Promise<{ serial: string; model: string; manufacturer: string; label: string }>;
  /** The ceremony's signing key: a private signing key on the logged-in token, with its public half. */
  signingKey(slotId: number, keyId: string): Promise<{ label: string; spkiPem: string; spkiSha256: string }>;
  sign(slotId: number, keyId: string, data: Buffer): Promise<TranscriptRecord['signature']>;
  /** Removes an object a step left behind; an object already absent is not an error. */
  destroy(slotId: number, keyId: string): Promise<void>;
  /**
   * The ceremony's session transport key on the token (RSA-OAEP SHA-256, private half sensitive
   * and never extractable): what a custodian's component is encrypted to before it leaves the
   * screen or the prompt. Made once per token session; a host restart makes a new one.
   */
  transportKey?(ceremonyId: string, slotId: number): Promise<{ spkiPem: string; spkiSha256: string }>;
}

export interface CeremonyServiceOptions {
  store: JournalStore;
  token: CeremonyTokenPort;
  audit: { record(entry: AuditAppend): void };
  app: { version: string; buildHash(): Promise<string> };
  executors: Partial<Record<StepKind, StepExecutor>>;
  /**
   * The app's state sealer (its audit key on the token): every journal written is sealed by it
   * and every journal loaded to be acted on is checked first (journal-seal.nodejs.ts). Absent
   * when the engine runs on its own, with no token to seal with: nothing is sealed or checked.
   */
  sealer?: StateSealer;
  clock?: () => Date;
  /** Test seam: a cheaper scrypt (the verifier records its own cost). */
  verifierCost?: { N: number; r: number; p: number };
  /** Told when a ceremony starts or ends, so that gateway calls are refused meanwhile. */
  onActive?(active: boolean): void;
  /** Told when a ceremony ends (completed or aborted): what was held for it in memory goes. */
  onEnded?(id: string): Promise<void> | void;
  /**
   * What some steps keep in this process's memory only (components, as ciphertexts to a session
   * key on the token), lost when main or the token host restarts: given where a ceremony stands,
   * the done steps whose result is gone (done again) and the token objects they made (removed
   * first). Asked on resume and when a step finds what it needs gone.
   */
  lost?(journal: Readonly<Journal>, where: Progress): { redo: string[]; remove: string[] };
  /**
   * Test seam, never set in production: called at each point a crash test kills the process
   * (`started`, `enrolled:<participant>`, `intended:<step>` once the objects a step will make
   * are journaled, `executed:<step>` once they exist, `step:<step>` once the step is journaled,
   * `signed-off:<participant>`, `recorded` between the signed transcript and the closing journal).
   */
  faults?(point: string): void;
}

const DUAL_ROLES: readonly CeremonyRole[] = ['administrator', 'witness'];

/**
 * Runs ceremony scripts: one step at a time, in order, each by the people the script names,
 * each journaled before the next, each in the transcript and the audit log. Steps that touch the
 * token are executors handed in by the composition root; this class owns order, people and the
 * record.
 */
export class CeremonyService {
  private readonly clock: () => Date;
  /** One operation at a time per ceremony: two windows cannot race a step. */
  private readonly queues = new Map<string, Promise<unknown>>();
  /**
   * Ceremonies this process started or resumed: what their steps hold in memory is this
   * process's. Any other running ceremony is resumed before it is acted on (see `resume`).
   */
  private readonly resumed = new Set<string>();

  constructor(private readonly options: CeremonyServiceOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  review(raw: TemplateParams): { script: CeremonyScript; scriptHash: string } {
    const params = TemplateParamsSchema.parse(raw);
    let script: CeremonyScript;
    try {
      script = buildScript(params);
    } catch (error) {
      throw new MkmError('VALIDATION', (error as Error).message, { field: 'threshold' });
    }
    return { script, scriptHash: scriptHash(script) };
  }

  async start(request: {
    params: TemplateParams;
    slotId: number;
    signingKeyId: string;
  }): Promise<CeremonyView> {
    const { script, scriptHash: hash } = this.review(request.params);
    const { token } = this.options;
    const [described, signer, buildHash] = await Promise.all([
      token.describe(request.slotId),
      token.signingKey(request.slotId, request.signingKeyId),
      this.options.app.buildHash(),
    ]);
    const now = this.clock().toISOString();
    const journal: Journal = {
      format: 'mkm-ceremony-journal',
      version: 1,
      id: randomUUID(),
      header: {
        id: '',
        template: script.template,
        title: script.title,
        script,
        scriptHash: hash,
        startedAt: now,
        token: described,
        app: { version: this.options.app.version, buildHash },
      },
      slotId: request.slotId,
      signingKeyId: request.signingKeyId,
      participants: [],
      intents: [],
      entries: [],
    };
    journal.header.id = journal.id;
    this.append(journal, {
      at: now,
      action: 'start',
      step: null,
      by: [],
      details: {
        scriptHash: hash,
        template: script.template,
        tokenSerial: described.serial,
        tokenModel: described.model,
        appBuildHash: buildHash,
        signer: signer.spkiSha256,
      },
    });
    await this.save(journal);
    this.resumed.add(journal.id);
    this.fault('started');
    this.options.onActive?.(true);
    return this.view(journal);
  }

  list(): CeremonyView[] {
    return this.options.store
      .ids()
      .map((id) => {
        try {
          return this.view(this.options.store.load(id));
        } catch {
          return null;
        }
      })
      .filter((v): v is CeremonyView => v !== null)
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  }

  status(id: string): CeremonyView {
    return this.view(this.options.store.load(id));
  }

  /** Whether a ceremony is running on this machine (gateway calls are refused while one is). */
  anyRunning(): boolean {
    return this.list().some((c) => c.state === 'running');
  }

  /** Adds a participant while the `identify` step is the current one. */
  enroll(
    id: string,
    who: { name: string; role: CeremonyRole; passphrase: string; acknowledged: boolean },
  ): Promise<CeremonyView> {
    return this.serial(id, async () => {
      const journal = await this.runningHere(id);
      const step = this.current(journal);
      if (step.kind !== 'preflight' && step.kind !== 'identify') {
        throw new MkmError(
          'CEREMONY_STEP_OUT_OF_ORDER',
          'Participants are identified before the first key step.',
          {
            step: step.id,
          },
        );
      }
      const name = who.name.trim();
      if (!name) throw new MkmError('VALIDATION', 'A participant has a name.', { field: 'name' });
      if (journal.participants.some((p) => p.name.toLowerCase() === name.toLowerCase())) {
        throw new MkmError(
          'CEREMONY_DUAL_CONTROL',
          `${name} is already a participant: one person, one role.`,
          {
            reason: 'same-person',
          },
        );
      }
      if (!who.acknowledged) {
        throw new MkmError(
          'VALIDATION',
          'Each participant acknowledges their responsibilities before taking part.',
          {
            field: 'acknowledged',
          },
        );
      }
      const custodians = journal.participants.filter((p) => p.role === 'custodian').length;
      const needed = journal.header.script.custodians;
      if (who.role === 'custodian' && custodians >= needed) {
        throw new MkmError('CEREMONY_ROLE_REFUSED', `This ceremony has ${needed} custodians already.`, {
          role: who.role,
        });
      }
      if (who.role !== 'custodian' && journal.participants.some((p) => p.role === who.role)) {
        throw new MkmError('CEREMONY_ROLE_REFUSED', `This ceremony has its ${who.role} already.`, {
          role: who.role,
        });
      }
      const participant: Participant = {
        id: `p-${journal.participants.length + 1}`,
        name,
        role: who.role,
        custodian: who.role === 'custodian' ? custodians + 1 : null,
        acknowledged: true,
        verifier: await makeVerifier(who.passphrase, this.options.verifierCost),
      };
      journal.participants.push(participant);
      this.append(journal, {
        at: this.clock().toISOString(),
        action: 'participant',
        step: null,
        by: [actor(participant)],
        details: {
          role: participant.role,
          custodian: participant.custodian,
          acknowledged: true,
          verifier: verifierFingerprint(participant.verifier),
        },
      });
      await this.save(journal);
      this.fault(`enrolled:${participant.id}`);
      return this.view(journal);
    });
  }

  /**
   * Does the current step: the actor (a role the step names) and, for dual control, a second
   * person (the witness or the administrator) each prove who they are; then the step's executor
   * runs; then the step is journaled as done.
   */
  act(
    id: string,
    request: { stepId: string; actor: CeremonyActorProof; confirmer?: CeremonyActorProof; input?: unknown },
  ): Promise<StepOutcome> {
    return this.serial(id, async () => {
      const journal = await this.runningHere(id, true);
      const step = this.current(journal);
      if (step.id !== request.stepId) {
        throw new MkmError('CEREMONY_STEP_OUT_OF_ORDER', `The ceremony is at “${step.title}”.`, {
          expected: step.id,
          given: request.stepId.slice(0, 64),
        });
      }
      if (step.kind === 'sign-off') {
        throw new MkmError('CEREMONY_STEP_OUT_OF_ORDER', 'Each participant signs off on their own.', {
          expected: step.id,
        });
      }
      const actorP = await this.prove(journal, request.actor);
      if (!step.roles.includes(actorP.role)) {
        throw new MkmError('CEREMONY_ROLE_REFUSED', `“${step.title}” is done by: ${step.roles.join(', ')}.`, {
          role: actorP.role,
        });
      }
      if (step.index !== undefined && actorP.role === 'custodian' && actorP.custodian !== step.index) {
        throw new MkmError(
          'CEREMONY_DUAL_CONTROL',
          `This step is custodian ${step.index}’s, not ${actorP.name}’s.`,
          {
            reason: 'other-custodian',
          },
        );
      }
      // A custodian never does two custodial steps of one ceremony (two components of one key).
      const custodial =
        actorP.role === 'custodian' &&
        [...progress(journal).done.entries()].some(([done, ids]) => done !== step.id && ids[0] === actorP.id);
      if (custodial) {
        throw new MkmError(
          'CEREMONY_DUAL_CONTROL',
          `${actorP.name} already did a custodial step of this ceremony.`,
          {
            reason: 'custodian-twice',
          },
        );
      }
      const people = [actorP];
      if (step.dualControl) {
        if (!request.confirmer) {
          throw new MkmError(
            'CEREMONY_DUAL_CONTROL',
            'A second person (the witness or the administrator) confirms this step.',
            {
              reason: 'no-confirmer',
            },
          );
        }
        const confirmer = await this.prove(journal, request.confirmer);
        if (confirmer.id === actorP.id) {
          throw new MkmError('CEREMONY_DUAL_CONTROL', undefined, { reason: 'same-person' });
        }
        if (!DUAL_ROLES.includes(confirmer.role)) {
          throw new MkmError('CEREMONY_ROLE_REFUSED', 'The witness or the administrator confirms a step.', {
            role: confirmer.role,
          });
        }
        people.push(confirmer);
      }
      if (step.kind === 'identify') this.checkEveryoneThere(journal);
      const executor = this.options.executors[step.kind];
      if (!executor) {
        throw new MkmError('NOT_IMPLEMENTED', `This build cannot run “${step.kind}” steps yet.`, {
          step: step.kind,
        });
      }
      const facts: Details = {};
      const reply: Record<string, string> = {};
      const recorded = await this.execute(journal, step, executor, {
        journal,
        step,
        slotId: journal.slotId,
        input: request.input,
        actors: people,
        facts: progress(journal).facts,
        intend: async (keyIds) => {
          journal.intents.push({ step: step.id, slotId: journal.slotId, keyIds });
          await this.save(journal);
          this.fault(`intended:${step.id}`);
        },
        fact: (name, value) => {
          facts[name] = value;
        },
        reply: (name, value) => {
          reply[name] = value;
        },
      });
      this.fault(`executed:${step.id}`);
      const details = { ...recorded, ...facts };
      journal.intents = journal.intents.filter((i) => i.step !== step.id);
      const entry = this.append(journal, {
        at: this.clock().toISOString(),
        action: 'step',
        step: { id: step.id, kind: step.kind },
        by: people.map(actor),
        details,
      });
      await this.save(journal);
      this.fault(`step:${step.id}`);
      return { ceremony: this.view(journal), step: step.id, details, reply, transcriptHash: entry.hash };
    });
  }

  /** The witness records an exception at any point: it goes into the transcript as said. */
  exception(id: string, request: { witness: CeremonyActorProof; text: string }): Promise<CeremonyView> {
    return this.serial(id, async () => {
      const journal = await this.runningHere(id);
      const witness = await this.prove(journal, request.witness);
      if (witness.role !== 'witness') {
        throw new MkmError('CEREMONY_ROLE_REFUSED', 'The witness records exceptions.', {
          role: witness.role,
        });
      }
      this.append(journal, {
        at: this.clock().toISOString(),
        action: 'exception',
        step: this.stepRef(this.current(journal)),
        by: [actor(witness)],
        details: { text: request.text.slice(0, 200) },
      });
      await this.save(journal);
      return this.view(journal);
    });
  }

  /** Each participant signs off; the last one closes the ceremony and signs the transcript on the token. */
  signOff(id: string, proof: CeremonyActorProof): Promise<CeremonyView> {
    return this.serial(id, async () => {
      const journal = await this.runningHere(id);
      const step = this.current(journal);
      if (step.kind !== 'sign-off') {
        throw new MkmError('CEREMONY_STEP_OUT_OF_ORDER', `The ceremony is at “${step.title}”.`, {
          expected: step.id,
          given: 'sign-off',
        });
      }
      const who = await this.prove(journal, proof);
      if (!progress(journal).signedOff.includes(who.id)) {
        this.append(journal, {
          at: this.clock().toISOString(),
          action: 'sign-off',
          step: this.stepRef(step),
          by: [actor(who)],
          details: {},
        });
      }
      const signedOff = progress(journal).signedOff;
      if (journal.participants.every((p) => signedOff.includes(p.id))) {
        await this.close(journal, 'completed', {});
        return this.view(journal);
      }
      await this.save(journal);
      this.fault(`signed-off:${who.id}`);
      return this.view(journal);
    });
  }

  /**
   * Ends a ceremony where it stands: any object a step was making is removed from the token, the
   * transcript says why and who, and is signed like a completed one.
   */
  abort(id: string, request: { actor: CeremonyActorProof; reason: string }): Promise<CeremonyView> {
    return this.serial(id, async () => {
      const journal = await this.runningHere(id);
      const who = await this.prove(journal, request.actor);
      if (!DUAL_ROLES.includes(who.role)) {
        throw new MkmError('CEREMONY_ROLE_REFUSED', 'The administrator or the witness aborts a ceremony.', {
          role: who.role,
        });
      }
      const removed = await this.removeIntents(journal);
      // A key the ceremony made is not established by an aborted one: it goes too.
      for (const keyId of this.made(journal)) {
        await this.options.token.destroy(journal.slotId, keyId);
        removed.push(keyId);
      }
      await this.close(journal, 'aborted', { reason: request.reason.slice(0, 200), removed }, [actor(who)]);
      return this.view(journal);
    });
  }

  /**
   * After a crash or a closed window: a step that was making objects left them half-formed, so
   * they are removed and the step starts again; steps whose result lived in the lost process's
   * memory (components held for a later step) are done again. Called for every running ceremony
   * at start-up.
   */
  resume(id: string): Promise<CeremonyView> {
    return this.serial(id, async () => {
      const journal = await this.load(id);
      if (progress(journal).state !== 'running') return this.view(journal);
      await this.resumeHere(journal);
      this.options.onActive?.(true);
      return this.view(journal);
    });
  }

  /** Resumes a ceremony in this process once, before anything else is done to it here. */
  /** Resumes a ceremony in this process once, before anything else is done to it here; the steps to do again. */
  private async resumeHere(journal: Journal): Promise<string[]> {
    if (this.resumed.has(journal.id)) return [];
    // A signed record beside a running journal is from a close the crash cut short: the journal
    // says the ceremony runs, and the record is made again when it really closes.
    rmSync(this.options.store.recordFile(journal.id), { force: true });
    const redo = await this.rewind(journal);
    this.resumed.add(journal.id);
    return redo;
  }

  /**
   * The token host went away and took what this process held for its ceremonies (components as
   * ciphertexts to a session key): each running ceremony set to enter them again, so no screen
   * shows a step done whose result is gone. A sealed journal is written only with an audit key,
   * and the host's death took the login: the app calls this again when sealing is back (the next
   * login). One that cannot be rewound then either is rewound by its next step, which finds its
   * components gone.
   */
  async heldLost(): Promise<void> {
    for (const id of this.resumed) {
      await this.serial(id, async () => {
        const journal = await this.load(id);
        if (progress(journal).state === 'running') await this.rewind(journal, this.current(journal));
      }).catch(() => undefined);
    }
  }

  async transcript(id: string): Promise<TranscriptExport> {
    const journal = await this.load(id);
    if (progress(journal).state === 'running') {
      throw new MkmError('CEREMONY_SIGN_OFF_MISSING', 'The transcript is signed when the ceremony ends.', {
        id,
      });
    }
    const text = this.record(journal);
    const verified = verifyTranscript(text);
    return {
      text,
      fileName: `ceremony-${journal.header.template}-${journal.header.startedAt.slice(0, 10)}-${id.slice(0, 8)}.mkmx`,
      signer: verified.signer,
      entries: verified.record.entries.length,
    };
  }

  /** The key a custodian's screen or prompt encrypts their component or share to. */
  async transportKey(id: string): Promise<{ spkiPem: string; spkiSha256: string }> {
    const journal = await this.running(id);
    if (!this.options.token.transportKey) {
      throw new MkmError('NOT_IMPLEMENTED', 'This build cannot take components yet.', { id });
    }
    const key = await this.options.token.transportKey(journal.id, journal.slotId);
    return { spkiPem: key.spkiPem, spkiSha256: key.spkiSha256 };
  }

  verify(text: string, expectedSigner?: string) {
    return verifyTranscript(text, expectedSigner);
  }

  // ------------------------------------------------------------------ internals

  private serial<T>(id: string, work: () => Promise<T>): Promise<T> {
    const before = this.queues.get(id) ?? Promise.resolve();
    const run = before.then(work, work);
    this.queues.set(
      id,
      run.catch(() => undefined),
    );
    return run;
  }

  /**
   * A journal about to be acted on or trusted: its seal checked first, so a verifier swapped in
   * the file (the chain rewritten to match) is refused before anyone is authenticated by it.
   */
  private async load(id: string): Promise<Journal> {
    const journal = this.options.store.load(id);
    if (this.options.sealer) await checkJournalSeal(this.options.sealer, journal);
    return journal;
  }

  /** Writes the journal and its seal in one atomic write: a crash leaves both or neither. */
  private async save(journal: Journal): Promise<void> {
    const { sealer } = this.options;
    if (sealer) journal.seal = await sealJournal(sealer, journal);
    this.options.store.save(journal);
  }

  private async running(id: string): Promise<Journal> {
    const journal = await this.load(id);
    const { state } = progress(journal);
    if (state !== 'running') throw new MkmError('CEREMONY_CLOSED', undefined, { id, state });
    return journal;
  }

  /**
   * A running ceremony about to be changed here: resumed in this process first. A step asked for
   * (`acting`) is refused when resuming set earlier steps to be done again.
   */
  private async runningHere(id: string, acting = false): Promise<Journal> {
    const journal = await this.running(id);
    const redo = await this.resumeHere(journal);
    if (acting && redo.length > 0) {
      // The step asked for was reached with components this process never held: said as such.
      throw new MkmError(
        'CEREMONY_TRANSPORT_KEY_GONE',
        `The components held for this ceremony were lost when the app or the token host restarted: ${redo.join(', ')} again.`,
        { ceremonyId: id, redo },
      );
    }
    return journal;
  }

  private current(journal: Journal): ScriptStep {
    const { done, state } = progress(journal);
    const step = journal.header.script.steps.find((s) => !done.has(s.id));
    if (!step || state !== 'running')
      throw new MkmError('CEREMONY_CLOSED', undefined, { id: journal.id, state });
    return step as ScriptStep;
  }

  private stepRef(step: ScriptStep) {
    return { id: step.id, kind: step.kind };
  }

  private async prove(journal: Journal, proof: CeremonyActorProof): Promise<Participant> {
    const participant = journal.participants.find((p) => p.id === proof.participantId);
    if (!participant) {
      throw new MkmError('CEREMONY_PARTICIPANT_UNKNOWN', undefined, {
        participantId: proof.participantId.slice(0, 64),
      });
    }
    if (!(await checkVerifier(participant.verifier, proof.passphrase))) {
      this.options.audit.record({
        action: 'ceremony.auth',
        result: 'CEREMONY_AUTH_FAILED',
        details: { ceremonyId: journal.id, participantId: participant.id },
      });
      throw new MkmError('CEREMONY_AUTH_FAILED', undefined, { participantId: participant.id });
    }
    return participant;
  }

  private checkEveryoneThere(journal: Journal): void {
    const has = (role: CeremonyRole) => journal.participants.filter((p) => p.role === role).length;
    const missing: string[] = [];
    if (has('administrator') !== 1) missing.push('an administrator');
    if (has('witness') !== 1) missing.push('a witness');
    const custodians = journal.header.script.custodians;
    if (has('custodian') !== custodians) missing.push(`${custodians} custodians`);
    if (missing.length) {
      throw new MkmError('CEREMONY_PARTICIPANT_UNKNOWN', `Identify ${missing.join(', ')} first.`, {
        missing: missing.join(', '),
      });
    }
  }

  /** The token objects the ceremony's done steps made (their journaled `keyId`). */
  private made(journal: Journal): string[] {
    const { done, facts } = progress(journal);
    const making = journal.header.script.steps.some((s) => s.createsObjects && done.has(s.id));
    return making && typeof facts.keyId === 'string' ? [facts.keyId] : [];
  }

  private fault(point: string): void {
    this.options.faults?.(point);
  }

  /**
   * Runs a step's executor. When it finds the components it needs gone with a restart
   * (CEREMONY_TRANSPORT_KEY_GONE), the steps that held them are set to be done again before the
   * refusal goes out, so the ceremony says where it really stands: "enter the components again".
   */
  private async execute(
    journal: Journal,
    step: ScriptStep,
    executor: StepExecutor,
    ctx: StepContext,
  ): Promise<Details> {
    try {
      return await executor(ctx);
    } catch (error) {
      if (error instanceof MkmError && error.code === 'CEREMONY_TRANSPORT_KEY_GONE') {
        await this.rewind(journal, step);
      }
      throw error;
    }
  }

  /**
   * Removes what a step left half-made and what the lost memory made useless, and records a
   * `resume` entry naming the steps to do again. After a refused step (`failed`), only when
   * something is to be done again.
   */
  private async rewind(journal: Journal, failed?: ScriptStep): Promise<string[]> {
    const lost = this.options.lost?.(journal, progress(journal)) ?? { redo: [], remove: [] };
    if (failed && lost.redo.length === 0) return [];
    const removed = await this.removeIntents(journal);
    for (const keyId of lost.remove) {
      await this.options.token.destroy(journal.slotId, keyId);
      removed.push(keyId);
    }
    this.append(journal, {
      at: this.clock().toISOString(),
      action: 'resume',
      step: this.stepRef(failed ?? this.current(journal)),
      by: [],
      details: { removed, redo: lost.redo },
    });
    await this.save(journal);
    return lost.redo;
  }

  private async removeIntents(journal: Journal): Promise<string[]> {
    const removed: string[] = [];
    for (const intent of journal.intents) {
      for (const keyId of intent.keyIds) {
        await this.options.token.destroy(intent.slotId, keyId);
        removed.push(keyId);
      }
    }
    journal.intents = [];
    return removed;
  }

  private append(journal: Journal, entry: UnhashedEntry): TranscriptEntry {
    const chained = chainEntry(journal.entries.at(-1), entry);
    journal.entries.push(chained);
    this.options.audit.record({
      action: `ceremony.${entry.action}`,
      result: 'ok',
      details: {
        ceremonyId: journal.id,
        step: entry.step?.id ?? null,
        by: entry.by.map((b) => `${b.role}:${b.name}`),
        transcript: { seq: chained.seq, fingerprint: chained.hash },
        ...auditFacts(entry.details),
      },
    });
    return chained;
  }

  private async close(
    journal: Journal,
    state: 'completed' | 'aborted',
    details: Details,
    by: TranscriptActor[] = [],
  ): Promise<void> {
    const at = this.clock().toISOString();
    this.append(journal, { at, action: state === 'completed' ? 'close' : 'abort', step: null, by, details });
    const text = await this.signRecord(journal);
    writeFileAtomic(this.options.store.recordFile(journal.id), text);
    this.fault('recorded');
    await this.save(journal);
    await this.options.onEnded?.(journal.id);
    this.options.onActive?.(this.anyRunningBut(journal.id));
  }

  private anyRunningBut(id: string): boolean {
    return this.list().some((c) => c.state === 'running' && c.id !== id);
  }

  private unsigned(journal: Journal, signer: TranscriptRecord['signer']): UnsignedRecord {
    const { state, closedAt } = progress(journal);
    return {
      format: 'mkm-ceremony-transcript',
      version: 1,
      ceremony: {
        ...journal.header,
        state: state as 'completed' | 'aborted',
        closedAt: closedAt!,
        participants: journal.participants.map(actor),
      },
      entries: journal.entries,
      signer,
    };
  }

  private async signRecord(journal: Journal): Promise<string> {
    const key = await this.options.token.signingKey(journal.slotId, journal.signingKeyId);
    const unsigned = this.unsigned(journal, {
      keyId: journal.signingKeyId,
      label: key.label.slice(0, 256),
      spkiPem: key.spkiPem,
      spkiSha256: key.spkiSha256,
    });
    const signature = await this.options.token.sign(
      journal.slotId,
      journal.signingKeyId,
      signedBytes(unsigned, 'RSASSA-PSS-SHA256'),
    );
    // The token may fall back to PKCS#1 v1.5; then the bytes it signed must name that algorithm.
    const record: TranscriptRecord =
      signature.alg === 'RSASSA-PSS-SHA256'
        ? { ...unsigned, signature }
        : {
            ...unsigned,
            signature: await this.options.token.sign(
              journal.slotId,
              journal.signingKeyId,
              signedBytes(unsigned, signature.alg),
            ),
          };
    const text = recordText(record);
    verifyTranscript(text, key.spkiSha256);
    return text;
  }

  private record(journal: Journal): string {
    const file = this.options.store.recordFile(journal.id);
    if (!existsSync(file))
      throw new MkmError('CEREMONY_JOURNAL_INVALID', undefined, { id: journal.id, reason: 'no-record' });
    return readFileSync(file, 'utf8');
  }

  private view(journal: Journal): CeremonyView {
    const { state, closedAt, done, signedOff, facts } = progress(journal);
    const next = state === 'running' ? journal.header.script.steps.find((s) => !done.has(s.id)) : undefined;
    const nameOf = (pid: string) => journal.participants.find((p) => p.id === pid)?.name ?? pid;
    return {
      id: journal.id,
      template: journal.header.template,
      title: journal.header.title,
      scriptHash: journal.header.scriptHash,
      state,
      startedAt: journal.header.startedAt,
      closedAt,
      token: journal.header.token,
      steps: journal.header.script.steps.map((s) => ({
        id: s.id,
        kind: s.kind,
        title: s.title,
        roles: s.roles,
        dualControl: s.dualControl,
        done: done.has(s.id),
        by: (done.get(s.id) ?? []).map(nameOf),
      })),
      current: next ? next.id : null,
      participants: journal.participants.map((p) => ({
        id: p.id,
        name: p.name,
        role: p.role,
        custodian: p.custodian,
        signedOff: signedOff.includes(p.id),
      })),
      facts: Object.fromEntries(
        Object.entries(facts).filter(([, v]) => !Array.isArray(v)),
      ) as CeremonyView['facts'],
      transcriptEntries: journal.entries.length,
      transcriptHead: journal.entries.at(-1)?.hash ?? null,
      params: journal.header.script.params,
    };
  }
}

/**
 * The audit log redacts values shaped like key material (32+ hex digits) unless a public
 * reference's own field name vouches for them: a hash the transcript records goes to the audit
 * entry under `fingerprint`, so both name it whole.
 */
function auditFacts(details: Details): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(details).map(([k, v]) => [
      k,
      typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) ? { fingerprint: v } : v,
    ]),
  );
}

function actor(p: Participant): TranscriptActor {
  return { participantId: p.id, name: p.name, role: p.role };
}
