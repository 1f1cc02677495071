import { Option } from 'commander';
import { constants, publicEncrypt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  CEREMONY_KEY_PURPOSES,
  COMPONENT_KEY_TYPES,
  type CeremonyKeyPurpose,
  type CeremonyRole,
  type ComponentKeyType,
} from '../../shared/ceremony/script.std';
import type { CeremonyActorProof, CeremonyView, StepOutcome } from '../../shared/contract/ceremony.std';
import { MkmError } from '../../shared/errors.std';
import { readComponent } from '../../shared/formats/component-entry.std';
import { componentKeyTypeName, wipe } from '../../shared/formats/components.std';
import { pgpWordsOfHex } from '../../shared/formats/pgp-words.std';
import { formatKcv } from '../../shared/wording.std';
import { CLEAR_SCREEN, readTtyLine, StdinLines } from './ceremony-prompt.cli';
import { loggedInSlot, resolveKey, type CliContext, type CommandInstaller } from './context.cli';
import { usage } from './output.cli';

/**
 * `mkm ceremony form-key`: a real form-key ceremony (issue 11 points 3 and 4) from the command
 * line, through the same channels the Ceremony screen uses (start, enroll, act, transportKey,
 * signOff), so it is journaled, in the transcript and the audit log, and signed on the token
 * like one run on the screen.
 *
 * Components: at a terminal each custodian, alone (the screen is cleared before and after), types
 * their passphrase and their component on a masked line, compares the typo checksum with their
 * sheet, gives the sheet's KCV (or confirms the one shown), and only then may the next begin.
 * When stdin is not a terminal, it carries one hex line per component, in order; the people come
 * from `--participants FILE`, whose entries name the environment variable holding each one's
 * passphrase (never argv: it is in `ps` and shell history; never the file: it is kept). Each
 * variable is read and removed from this process's environment before anything starts, so the
 * token host spawned later never inherits one.
 *
 * A component is parsed and checked (length, TDES parity named by byte) in this process, encrypted
 * at once with RSA-OAEP SHA-256 to the ceremony's transport key on the token, and its bytes are
 * zero-filled: the registry (main's role) only ever sees the ciphertext, and only the token host
 * opens it. A run that fails before the key is formed aborts the ceremony (the components it
 * held die with this process, so it could not be finished); one that fails after it stays
 * running and is finished with `--resume ID`.
 */

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const PersonEntry = z.strictObject({
  name: z.string().trim().min(1).max(128),
  /** The environment variable that holds this person's passphrase (needed when stdin is not a terminal). */
  passphraseEnv: z.string().regex(ENV_NAME, 'an environment variable name').optional(),
  /** The person acknowledges their responsibilities (the report's custodian record). */
  acknowledged: z.literal(true),
});
const ParticipantsFile = z.strictObject({
  administrator: PersonEntry,
  witness: PersonEntry,
  custodians: z.array(PersonEntry).min(2).max(9),
});

interface Person {
  name: string;
  role: CeremonyRole;
  /** 1-based for a custodian. */
  custodian: number | null;
  /** Read from the environment in a non-interactive run; asked for at a terminal otherwise. */
  passphrase: string | null;
  /** At a terminal: the passphrase set before the ceremony starts, held until enrolled. */
  newPassphrase: string | null;
}

interface FormKeyOptions {
  type?: ComponentKeyType;
  components?: string;
  label?: string;
  purpose: CeremonyKeyPurpose;
  signingKey?: string;
  participants?: string;
  airGapOverride?: string;
  confirmKcvs?: string;
  resume?: string;
}

interface ComponentResult {
  index: number;
  custodian: string;
  kcvs: { method: 'legacy' | 'cmac'; kcv: string }[];
  confirmed: boolean;
}

const MAX_TRIES = 3;

/** The participants file: names, acknowledgements and where each passphrase is. */
export function readParticipants(file: string, interactive: boolean): Person[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw usage(
      `--participants ${file}: ${(error as { code?: string }).code === 'ENOENT' ? 'no such file' : 'not JSON'}.`,
    );
  }
  const parsed = ParticipantsFile.safeParse(raw);
  if (!parsed.success) {
    throw usage(
      `--participants ${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ')}.`,
    );
  }
  const { administrator, witness, custodians } = parsed.data;
  const people: [z.infer<typeof PersonEntry>, CeremonyRole, number | null][] = [
    [administrator, 'administrator', null],
    [witness, 'witness', null],
    ...custodians.map((c, i): [z.infer<typeof PersonEntry>, CeremonyRole, number] => [c, 'custodian', i + 1]),
  ];
  const seen = new Set<string>();
  return people.map(([entry, role, custodian]) => {
    // One person, one role: the same custodian can never hold two components of one key.
    const key = entry.name.toLowerCase();
    if (seen.has(key)) {
      throw new MkmError('CEREMONY_DUAL_CONTROL', `${entry.name} is named twice: one person, one role.`, {
        reason: 'same-person',
      });
    }
    seen.add(key);
    let passphrase: string | null = null;
    if (entry.passphraseEnv !== undefined) {
      const value = process.env[entry.passphraseEnv];
      delete process.env[entry.passphraseEnv];
      if (!value) throw usage(`${entry.passphraseEnv} (the passphrase of ${entry.name}) is not set.`);
      passphrase = value;
    } else if (!interactive) {
      throw usage(
        `${entry.name} has no passphraseEnv: when stdin is not a terminal, each passphrase comes from the environment variable the participants file names.`,
      );
    }
    return { name: entry.name, role, custodian, passphrase, newPassphrase: null };
  });
}

function roleName(p: Pick<Person, 'role' | 'custodian'>): string {
  return p.role === 'custodian' ? `custodian ${p.custodian}` : p.role;
}

/**
 * Who is in the room and how they speak: at a terminal they type (echo off for secrets), else
 * everything comes from the participants file, the environment and stdin lines.
 */
class Room {
  readonly interactive: boolean;
  private readonly lines: StdinLines | null;

  constructor(
    private readonly ctx: CliContext,
    readonly people: Person[],
  ) {
    this.interactive = !!process.stdin.isTTY;
    this.lines = this.interactive ? null : new StdinLines();
  }

  say(text: string): void {
    if (!this.ctx.out.json || this.interactive) process.stderr.write(`${text}\n`);
  }

  clear(): void {
    if (this.interactive) process.stderr.write(CLEAR_SCREEN);
  }

  async ask(prompt: string, mode: 'echo' | 'hidden' = 'echo'): Promise<string> {
    const bytes = await readTtyLine(prompt, mode);
    try {
      return bytes.toString('utf8').trim();
    } finally {
      bytes.fill(0);
    }
  }

  async yes(prompt: string): Promise<boolean> {
    return /^y(es)?$/i.test(await this.ask(`${prompt} [yes/no] `));
  }

  /** The passphrase a person sets when enrolled: typed twice at a terminal. */
  async newPassphrase(p: Person): Promise<string> {
    if (p.passphrase !== null) return p.passphrase;
    for (let n = 0; n < MAX_TRIES; n++) {
      const first = await this.ask(`${p.name}, choose your passphrase (${roleName(p)}): `, 'hidden');
      const again = await this.ask('The same passphrase again: ', 'hidden');
      if (first.length > 0 && first === again) return first;
      this.say('The two passphrases differ (or are empty). Again.');
    }
    throw new MkmError('CANCELLED', 'No passphrase was set.');
  }

  proof(p: Person, view: CeremonyView, why: string): Promise<CeremonyActorProof> {
    const id = participantId(view, p);
    if (p.passphrase !== null) return Promise.resolve({ participantId: id, passphrase: p.passphrase });
    return this.ask(`${p.name} (${roleName(p)}), your passphrase to ${why}: `, 'hidden').then(
      (passphrase) => ({
        participantId: id,
        passphrase,
      }),
    );
  }

  /**
   * One component, parsed and checked, as bytes the caller encrypts then wipes. At a terminal the
   * line is masked in groups of four and re-asked when refused (the refusal names a position,
   * never a digit); from stdin a refused line ends the run with its code.
   */
  async component(index: number, type: ComponentKeyType): Promise<Uint8Array> {
    for (let n = 0; ; n++) {
      const line = this.interactive
        ? await readTtyLine(`Component ${index} (${COMPONENT_DIGITS[type]} hex digits): `, 'component')
        : await this.lines!.next();
      if (line === null)
        throw usage(`stdin ended before component ${index}: give one hex line per component.`);
      let text = line.toString('latin1');
      line.fill(0);
      const reading = readComponent(text, type, index);
      text = '';
      if (reading.ok) {
        if (this.interactive) {
          this.say(`Checksum of what you typed: ${reading.checksum} (compare it with your sheet)`);
          if (!(await this.yes('Does it match your sheet?'))) {
            wipe(reading.bytes);
            if (n + 1 < MAX_TRIES) continue;
            throw new MkmError('CANCELLED', `Component ${index} was not entered.`);
          }
        }
        return reading.bytes;
      }
      if (!this.interactive || n + 1 >= MAX_TRIES) throw reading.error;
      this.say(
        `${reading.error.message}${reading.checksum ? ` (checksum of what you typed: ${reading.checksum})` : ''} [${reading.error.code}] Type it again.`,
      );
    }
  }

  async close(): Promise<void> {
    await this.lines?.close();
  }
}

const COMPONENT_DIGITS: Record<ComponentKeyType, number> = {
  'aes-128': 32,
  'aes-192': 48,
  'aes-256': 64,
  'tdes-2key': 32,
  'tdes-3key': 48,
};

function participantId(view: CeremonyView, p: Pick<Person, 'name'>): string {
  const found = view.participants.find((v) => v.name.toLowerCase() === p.name.trim().toLowerCase());
  if (!found) {
    throw new MkmError('CEREMONY_PARTICIPANT_UNKNOWN', `${p.name} is not a participant of this ceremony.`, {
      name: p.name.slice(0, 64),
    });
  }
  return found.id;
}

/** The people of a run started at a terminal with no participants file: each types their own name. */
async function askPeople(room: Room, custodians: number): Promise<Person[]> {
  const people: Person[] = [];
  const roles: [CeremonyRole, number | null][] = [
    ['administrator', null],
    ['witness', null],
    ...Array.from({ length: custodians }, (_, i): [CeremonyRole, number] => ['custodian', i + 1]),
  ];
  for (const [role, custodian] of roles) {
    const name = await room.ask(`Name of the ${roleName({ role, custodian })}: `);
    if (!name) throw usage('A participant has a name.');
    people.push({ name, role, custodian, passphrase: null, newPassphrase: null });
  }
  return people;
}

/** RSA-OAEP SHA-256 to the ceremony's transport key; `bytes` is wiped whatever happens. */
export function sealComponent(spkiPem: string, bytes: Uint8Array): string {
  try {
    return publicEncrypt(
      { key: spkiPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    ).toString('base64');
  } finally {
    wipe(bytes);
  }
}

function kcvsOf(details: StepOutcome['details'], prefix: string): ComponentResult['kcvs'] {
  const out: ComponentResult['kcvs'] = [];
  const legacy = details[`${prefix}Kcv`];
  const cmac = details[`${prefix}KcvCmac`];
  if (typeof legacy === 'string') out.push({ method: 'legacy', kcv: formatKcv(legacy) });
  if (typeof cmac === 'string') out.push({ method: 'cmac', kcv: formatKcv(cmac) });
  return out;
}

const kcvText = (kcvs: ComponentResult['kcvs']) => kcvs.map((k) => `${k.kcv} (${k.method})`).join(', ');

function sheetKcvs(value: string | undefined, count: number): (string | undefined)[] {
  if (value === undefined) return [];
  const list = value.split(',').map((s) => s.trim());
  if (list.length !== count || list.some((k) => !/^[0-9a-fA-F]{6}$/.test(k))) {
    throw usage(`--confirm-kcvs takes ${count} KCVs of six hex digits, comma separated, in component order.`);
  }
  return list;
}

/** Retries a step at a terminal after a wrong passphrase or a refused KCV, at most MAX_TRIES times. */
async function tries<T>(room: Room, work: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await work();
    } catch (error) {
      const code = (error as MkmError).code;
      const again = code === 'CEREMONY_AUTH_FAILED' || code === 'COMPONENT_KCV_MISMATCH';
      if (!room.interactive || !again || n >= MAX_TRIES) throw error;
      room.say(`${(error as Error).message} [${code}] Again.`);
    }
  }
}

async function runFormKey(ctx: CliContext, o: FormKeyOptions): Promise<void> {
  const interactive = !!process.stdin.isTTY;
  if (!interactive && !o.participants) {
    throw usage(
      'stdin is not a terminal: give --participants FILE (names, and the environment variable of each passphrase).',
    );
  }
  // Passphrases leave the environment before the app (and the token host it spawns) exists.
  const fromFile = o.participants ? readParticipants(o.participants, interactive) : null;
  if (!o.resume && (!o.type || !o.components || !o.label || !o.signingKey)) {
    throw usage('form-key needs --type, --components, --label and --signing-key (or --resume ID).');
  }
  const slot = await loggedInSlot(ctx);
  const room = new Room(ctx, fromFile ?? []);
  const hashLines = (hash: string) => [
    `script sha256    ${hash}`,
    `script words     ${pgpWordsOfHex(hash).join(' ')}`,
  ];
  let view: CeremonyView;
  let people: Person[];
  if (o.resume) {
    view = await ctx.call('ceremony.status', { id: o.resume.toLowerCase() });
    if (view.template !== 'form-key' || view.state !== 'running') {
      throw new MkmError(
        'CEREMONY_CLOSED',
        `Ceremony ${view.id} is a ${view.template} ceremony, ${view.state}.`,
        {
          id: view.id,
          state: view.state,
        },
      );
    }
    room.say(
      [`ceremony         ${view.id}`, `title            ${view.title}`, ...hashLines(view.scriptHash)].join(
        '\n',
      ),
    );
    const enrolled = view.participants;
    const custodians = view.steps.filter((s) => s.kind === 'enter-component').length;
    const complete = enrolled.length === 2 + custodians;
    people =
      fromFile ??
      (complete
        ? enrolled.map((p) => ({
            name: p.name,
            role: p.role,
            custodian: p.custodian,
            passphrase: null,
            newPassphrase: null,
          }))
        : await askPeople(room, custodians));
    await prepareEnrolment(room, people, view);
  } else {
    const count = Number(o.components);
    if (!/^\d$/.test(o.components!.trim())) throw usage('--components is a whole number from 2 to 9.');
    if (fromFile && fromFile.filter((p) => p.role === 'custodian').length !== count) {
      throw usage(`--components ${count}: the participants file names a different number of custodians.`);
    }
    const [signing] = await resolveKey(ctx, slot.slotId, o.signingKey!, ['private']);
    const params = {
      template: 'form-key',
      keyType: o.type!,
      components: count,
      label: o.label!,
      purpose: o.purpose,
    } as const;
    // The room compares the script's hash before anyone commits to anything.
    const review = await ctx.call('ceremony.review', params);
    room.say([`title            ${review.script.title}`, ...hashLines(review.scriptHash)].join('\n'));
    // Everyone is identified and has set a passphrase before the ceremony starts: a ceremony
    // left with nobody enrolled could not be aborted by anyone.
    people = fromFile ?? (await askPeople(room, count));
    await prepareEnrolment(room, people, null);
    view = await ctx.call('ceremony.start', { params, slotId: slot.slotId, signingKeyId: signing!.id });
    room.say(`ceremony         ${view.id}`);
  }
  const params = await paramsOf(ctx, view);
  room.people.splice(0, room.people.length, ...people);
  const admin = people.find((p) => p.role === 'administrator')!;
  const witness = people.find((p) => p.role === 'witness')!;
  const custodianOf = (i: number) => people.find((p) => p.custodian === i)!;
  const confirmKcvs = sheetKcvs(o.confirmKcvs, params.components);
  const components: ComponentResult[] = [];
  let keyOutcome: StepOutcome | null = null;
  let formed = view.steps.find((s) => s.id === 'form-key')?.done ?? false;

  try {
    // What a run that died left: components entered then are gone with it (held in that
    // process only), so the ceremony cannot form its key; it is aborted, nothing half-made.
    const entered = view.steps.filter((s) => s.kind === 'enter-component' && s.done).length;
    if (!formed && entered > 0) {
      throw new MkmError(
        'CEREMONY_TRANSPORT_KEY_GONE',
        `Components 1 to ${entered} were entered in a run that ended: they are gone with it. This ceremony is aborted; start a new one.`,
        { ceremonyId: view.id },
      );
    }
    for (const p of people) {
      if (view.participants.some((v) => v.name.toLowerCase() === p.name.toLowerCase())) continue;
      const passphrase = p.newPassphrase ?? p.passphrase;
      p.newPassphrase = null;
      if (passphrase === null) throw new MkmError('CANCELLED', `${p.name} set no passphrase.`);
      view = await ctx.call('ceremony.enroll', {
        id: view.id,
        name: p.name,
        role: p.role,
        passphrase,
        acknowledged: true,
      });
    }
    room.clear();
    const act = (stepId: string, actor: Person, input?: never) =>
      tries(room, async () =>
        ctx.call('ceremony.act', {
          id: view.id,
          stepId,
          actor: await room.proof(actor, view, `do "${stepId}"`),
          confirmer: await room.proof(actor === witness ? admin : witness, view, `confirm "${stepId}"`),
          ...(input ? { input } : {}),
        }),
      );

    while (view.current && view.current !== 'sign-off') {
      const step = view.steps.find((s) => s.id === view.current)!;
      let outcome: StepOutcome;
      if (step.kind === 'preflight') {
        const input = o.airGapOverride ? { override: { reason: o.airGapOverride } } : {};
        outcome = await act(step.id, admin, input as never);
        room.say(
          `preflight        ${String(outcome.details.network)}${o.airGapOverride ? ' (override recorded)' : ''}`,
        );
      } else if (step.kind === 'enter-component') {
        const index = Number(step.id.slice('enter-component-'.length));
        outcome = await enterComponent(ctx, room, view, {
          index,
          custodian: custodianOf(index),
          witness,
          keyType: params.keyType,
          sheetKcv: confirmKcvs[index - 1],
        });
        const kcvs = kcvsOf(outcome.details, `component${index}`);
        components.push({
          index,
          custodian: custodianOf(index).name,
          kcvs,
          confirmed: outcome.details[`component${index}Confirmed`] === true,
        });
        room.say(`component ${index} KCV  ${kcvText(kcvs)}`);
      } else if (step.kind === 'form-key' || step.kind === 'identify') {
        outcome = await act(step.id, admin);
        if (step.kind === 'form-key') {
          keyOutcome = outcome;
          formed = true;
        }
      } else {
        throw new MkmError('NOT_IMPLEMENTED', `form-key does not run "${step.kind}" steps.`, {
          step: step.kind,
        });
      }
      view = outcome.ceremony;
    }
  } catch (error) {
    if (!formed && view.state === 'running') await abortAfter(ctx, room, view, admin, error);
    await room.close();
    throw error;
  }
  await room.close();

  for (const p of people) {
    if (view.state !== 'running') break;
    if (view.participants.find((v) => v.id === participantId(view, p))?.signedOff) continue;
    room.clear();
    view = await tries(room, async () =>
      ctx.call('ceremony.signOff', { id: view.id, participant: await room.proof(p, view, 'sign off') }),
    );
  }
  const transcript =
    view.state === 'completed' ? await ctx.call('ceremony.transcript', { id: view.id }) : null;
  const key = keyOutcome?.details ?? view.facts;
  const result = {
    ceremonyId: view.id,
    state: view.state,
    title: view.title,
    scriptHash: view.scriptHash,
    components,
    key: {
      id: typeof key.keyId === 'string' ? key.keyId : null,
      label: params.label,
      type: params.keyType,
      purpose: params.purpose,
      kcvs: kcvsOf(key as StepOutcome['details'], 'key'),
      tokenKcv: typeof key.tokenKcv === 'string' ? formatKcv(key.tokenKcv) : null,
      tokenCheckValue: typeof key.tokenCheckValue === 'string' ? formatKcv(key.tokenCheckValue) : null,
    },
    transcript: transcript
      ? { entries: transcript.entries, signer: transcript.signer, head: view.transcriptHead }
      : null,
  };
  ctx.out.result(result, () =>
    [
      `ceremony         ${result.ceremonyId} (${result.state})`,
      ...components.map(
        (c) =>
          `component ${c.index}      ${kcvText(c.kcvs)}  (${c.custodian}${c.confirmed ? ', KCV confirmed' : ''})`,
      ),
      `key              ${result.key.label} (${componentKeyTypeName(params.keyType)}, ${params.purpose}), id ${result.key.id ?? '-'}`,
      `key KCV          ${kcvText(result.key.kcvs)}${result.key.tokenKcv ? `; token ${result.key.tokenKcv}` : ''}`,
      transcript
        ? `transcript       ${transcript.entries} entries, signed by spki-sha256 ${transcript.signer}\n                 export it with: mkm ceremony transcript ${result.ceremonyId} --out FILE`
        : `transcript       not signed yet: finish with mkm ceremony form-key --resume ${result.ceremonyId}`,
    ].join('\n'),
  );
}

/**
 * The form-key parameters of a ceremony, from its journal's script (checked against the script
 * hash when loaded): a resumed run takes them from there, not from flags.
 */
async function paramsOf(ctx: CliContext, view: CeremonyView) {
  const { JournalStore } = await import('../ceremony/journal.nodejs');
  const params = new JournalStore((await ctx.app()).paths.ceremonies).load(view.id).header.script.params;
  if (params.template !== 'form-key') {
    throw new MkmError('CEREMONY_CLOSED', `Ceremony ${view.id} is a ${params.template} ceremony.`, {
      id: view.id,
    });
  }
  return params;
}

/**
 * At a terminal, each person not yet enrolled, alone (the screen cleared before each), accepts
 * their responsibilities and sets their passphrase; held until enrolled. From a file, nothing.
 */
async function prepareEnrolment(room: Room, people: Person[], view: CeremonyView | null): Promise<void> {
  if (!room.interactive) return;
  for (const p of people) {
    if (view?.participants.some((v) => v.name.toLowerCase() === p.name.toLowerCase())) continue;
    room.clear();
    if (p.role === 'custodian') room.say(`Custodian ${p.custodian}, ${p.name}, alone now.`);
    if (!(await room.yes(`${p.name}: do you acknowledge your responsibilities as ${roleName(p)}?`))) {
      throw new MkmError(
        'VALIDATION',
        'Each participant acknowledges their responsibilities before taking part.',
        {
          field: 'acknowledged',
        },
      );
    }
    p.newPassphrase = await room.newPassphrase(p);
  }
  room.clear();
}

async function enterComponent(
  ctx: CliContext,
  room: Room,
  view: CeremonyView,
  c: { index: number; custodian: Person; witness: Person; keyType: ComponentKeyType; sheetKcv?: string },
): Promise<StepOutcome> {
  const stepId = `enter-component-${c.index}`;
  const transport = await ctx.call('ceremony.transportKey', { id: view.id });
  const { outcome, sheet } = await tries(room, async () => {
    // The witness confirms first; then the screen is the custodian's alone.
    const confirmer = await room.proof(c.witness, view, `confirm component ${c.index}`);
    room.clear();
    if (room.interactive) {
      room.say(`Custodian ${c.index}, ${c.custodian.name}, alone now. Everyone else looks away.`);
      room.say(`Transport key    spki-sha256 ${transport.spkiSha256}`);
    }
    const actor = await room.proof(c.custodian, view, `enter component ${c.index}`);
    const ciphertext = sealComponent(transport.spkiPem, await room.component(c.index, c.keyType));
    let sheet = c.sheetKcv;
    while (room.interactive && sheet === undefined) {
      const typed = (await room.ask(`The KCV on your sheet (6 hex digits; Enter if it has none): `)).replace(
        /\s+/g,
        '',
      );
      if (!typed) break;
      if (/^[0-9a-f]{6}$/i.test(typed)) sheet = typed;
      else room.say('A KCV here is six hex digits.');
    }
    const outcome = await ctx.call('ceremony.act', {
      id: view.id,
      stepId,
      actor,
      confirmer,
      input: {
        ciphertext,
        transportKeySha256: transport.spkiSha256,
        ...(sheet !== undefined ? { confirmKcv: sheet } : {}),
      },
    });
    return { outcome, sheet };
  });
  if (room.interactive) {
    room.say(`Component ${c.index} KCV: ${kcvText(kcvsOf(outcome.details, `component${c.index}`))}`);
    if (sheet === undefined && !(await room.yes('Is it the KCV of your component?'))) {
      // The step is done in the journal and the custodian says the component is not theirs:
      // the key would be wrong, so the ceremony stops here (aborted: nothing is on the token yet).
      throw new MkmError('COMPONENT_KCV_MISMATCH', undefined, { componentIndex: c.index });
    }
    await room.ask('Press Enter to clear the screen for the next person: ');
    room.clear();
  }
  return outcome;
}

/** A run that cannot go on before the key is formed aborts its ceremony, with the reason. */
async function abortAfter(ctx: CliContext, room: Room, view: CeremonyView, admin: Person, error: unknown) {
  const code = (error as MkmError).code ?? 'INTERNAL';
  try {
    if (!view.participants.some((p) => p.role === 'administrator')) {
      // Nobody who may abort is enrolled yet: no one has typed anything either.
      room.say(
        `Ceremony ${view.id} stays open with no participant; it can be aborted from the Ceremony screen.`,
      );
      return;
    }
    if (room.interactive) room.say(`The ceremony cannot go on (${code}).`);
    const actor = await room.proof(admin, view, 'abort the ceremony');
    await ctx.call('ceremony.abort', {
      id: view.id,
      actor,
      reason: `mkm ceremony form-key stopped: ${code}`,
    });
    room.say(`Ceremony ${view.id} aborted: ${code}. Its transcript is signed.`);
  } catch (abortError) {
    room.say(
      `Ceremony ${view.id} could not be aborted (${(abortError as MkmError).code ?? 'INTERNAL'}): abort it from the Ceremony screen.`,
    );
  }
}

export const installFormKey: CommandInstaller = (ceremony, context) => {
  ceremony
    .command('form-key')
    .description(
      'run a form-key ceremony: each custodian enters one component, the key is formed on the token',
    )
    .addOption(new Option('--type <type>', 'the key type').choices([...COMPONENT_KEY_TYPES]))
    .option('--components <n>', 'how many components (2 to 9), one custodian each')
    .option('--label <label>', 'the label of the key formed')
    .addOption(
      new Option('--purpose <purpose>', 'what the key is for')
        .choices([...CEREMONY_KEY_PURPOSES])
        .default('data'),
    )
    .option('--signing-key <key>', 'the private key (id or label) that signs the transcript')
    .option(
      '--participants <file>',
      'JSON: administrator, witness, custodians[] each {name, acknowledged: true, passphraseEnv}; needed when stdin is not a terminal',
    )
    .option(
      '--air-gap-override <reason>',
      'run on a machine with a network interface up; the transcript records why',
    )
    .option(
      '--confirm-kcvs <kcvs>',
      "the KCV on each custodian's sheet, comma separated: a component that differs is refused",
    )
    .option(
      '--resume <id>',
      'finish a form-key ceremony a run left open (sign-offs; or abort one whose components are gone)',
    )
    .action(async (opts: FormKeyOptions) => runFormKey(context(), opts));
};
