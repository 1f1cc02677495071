import { constants, generateKeyPairSync, privateDecrypt, publicEncrypt } from 'node:crypto';
import type { App } from '../../../electron/core/app.nodejs';
import type { TemplateParams } from '../../../shared/ceremony/script.std';
import type { CeremonyActorProof, CeremonyView, StepOutcome } from '../../../shared/contract/ceremony.std';
import type { Envelope } from '../../../shared/contract-kit.std';

/**
 * Drives a key ceremony through the app's own channels (the registry, as browser mode and the
 * CLI reach it), from wherever it stands to its end: the kill-at-every-step child runs it from
 * the start, and the test, in a fresh process, carries on from where the child was killed.
 * Participants are found by name, so whoever enrolled before the crash is taken as they are.
 * No vitest here: the child process imports it too.
 */

export const PEOPLE = [
  { name: 'Alice Admin', role: 'administrator' },
  { name: 'Wendy Witness', role: 'witness' },
  { name: 'Custodian 1', role: 'custodian' },
  { name: 'Custodian 2', role: 'custodian' },
] as const;
export const passphrase = (name: string) => `${name}'s ceremony passphrase`;

/** Two AES-256 components and the key they XOR to (no parity to mind). */
export const KEY = Buffer.from('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4', 'hex');
export const COMPONENTS = ((first: Buffer) => [first, Buffer.from(KEY.map((b, i) => b ^ first[i]!))])(
  Buffer.from('a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90', 'hex'),
);

export const FORM: TemplateParams = {
  template: 'form-key',
  keyType: 'aes-256',
  components: 2,
  label: 'formed after a crash',
  purpose: 'kek',
};
export const SPLIT: TemplateParams = {
  template: 'split-key',
  keyType: 'aes-256',
  components: 2,
  label: 'split after a crash',
  purpose: 'data',
};

export class ChannelError extends Error {
  constructor(
    readonly channel: string,
    readonly code: string,
    message: string,
  ) {
    super(`${channel}: ${code} ${message}`);
  }
}

export async function ok<T>(app: App, channel: string, request?: unknown): Promise<T> {
  const envelope: Envelope = await app.registry.dispatch(channel, request, { transport: 'cli' });
  if (!envelope.ok) throw new ChannelError(channel, envelope.error.code, envelope.error.message);
  return envelope.result as T;
}

export function proofOf(view: CeremonyView, name: string): CeremonyActorProof {
  const p = view.participants.find((x) => x.name === name);
  if (!p) throw new Error(`${name} is not a participant`);
  return { participantId: p.id, passphrase: passphrase(name) };
}

export interface Driven {
  view: CeremonyView;
  /** Components revealed to custodians during this drive (split-key), by index. */
  revealed: Map<number, Buffer>;
  /** Refusals met on the way (a step whose components a restart lost). */
  refusals: string[];
}

/** Does every step left, in order, until the ceremony is completed. */
export async function drive(app: App, id: string): Promise<Driven> {
  const revealed = new Map<number, Buffer>();
  const refusals: string[] = [];
  for (let turn = 0; turn < 40; turn++) {
    const view = await ok<CeremonyView>(app, 'ceremony.status', { id });
    if (view.state !== 'running') return { view, revealed, refusals };
    const step = view.steps.find((s) => s.id === view.current)!;
    const admin = () => proofOf(view, PEOPLE[0].name);
    const witness = () => proofOf(view, PEOPLE[1].name);
    const custodian = (i: number) => proofOf(view, `Custodian ${i}`);
    const index = Number(/-(\d+)$/.exec(step.id)?.[1] ?? 0);
    const act = (actor: CeremonyActorProof, input?: unknown) =>
      ok<StepOutcome>(app, 'ceremony.act', { id, stepId: step.id, actor, confirmer: witness(), input });
    try {
      if (step.kind === 'preflight' || step.kind === 'identify') {
        const missing = PEOPLE.find((p) => !view.participants.some((x) => x.name === p.name));
        if (missing) {
          await ok(app, 'ceremony.enroll', {
            id,
            ...missing,
            passphrase: passphrase(missing.name),
            acknowledged: true,
          });
          continue;
        }
        // A test machine has a network: the override is recorded, as an officer would.
        await act(
          admin(),
          step.kind === 'preflight' ? { override: { reason: 'crash test bench' } } : undefined,
        );
      } else if (step.kind === 'enter-component') {
        const key = await ok<{ spkiPem: string; spkiSha256: string }>(app, 'ceremony.transportKey', { id });
        await act(custodian(index), {
          ciphertext: encryptTo(key.spkiPem, COMPONENTS[index - 1]!),
          transportKeySha256: key.spkiSha256,
        });
      } else if (step.kind === 'reveal-component') {
        const eph = generateKeyPairSync('rsa', { modulusLength: 2048 });
        const out = await act(custodian(index), {
          revealKey: eph.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        });
        revealed.set(
          index,
          privateDecrypt(
            { key: eph.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
            Buffer.from(out.reply.component!, 'base64'),
          ),
        );
      } else if (step.kind === 'sign-off') {
        const next = view.participants.find((p) => !p.signedOff)!;
        await ok(app, 'ceremony.signOff', { id, participant: proofOf(view, next.name) });
      } else {
        await act(admin());
      }
    } catch (error) {
      // Components a restart lost: the ceremony now stands where they are entered again.
      if (!(error instanceof ChannelError) || error.code !== 'CEREMONY_TRANSPORT_KEY_GONE') throw error;
      refusals.push(`${step.id}: ${error.code}`);
    }
  }
  throw new Error('the ceremony did not end in 40 turns');
}

export function encryptTo(spkiPem: string, component: Buffer): string {
  return publicEncrypt(
    { key: spkiPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    component,
  ).toString('base64');
}
