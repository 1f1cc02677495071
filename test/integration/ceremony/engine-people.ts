import type { CeremonyService, StepExecutor } from '../../../electron/ceremony/ceremony-service.nodejs';
import type { CeremonyActorProof } from '../../../shared/contract/ceremony.std';

/**
 * The people of a ceremony driven through the engine (CeremonyService): Alice administers, Wendy
 * witnesses, custodians are numbered from 1. Participant ids follow the order they enrol in, so
 * the proofs below hold for any ceremony `enrolAndIdentify` set up.
 */

export const PASS = (name: string) => `${name}'s passphrase, long enough`;

const proof = (participantId: string, name: string): CeremonyActorProof => ({
  participantId,
  passphrase: PASS(name),
});
export const admin = proof('p-1', 'Alice');
export const witness = proof('p-2', 'Wendy');
export const custodian = (i: number) => proof(`p-${i + 2}`, `Custodian ${i}`);

/** The trivial steps (preflight and identify are the core's); the token steps are the real ones. */
export const PLAIN_STEPS: Partial<Record<string, StepExecutor>> = {
  preflight: async () => ({ network: 'loopback only' }),
  identify: async () => ({}),
};

/** Enrols Alice, Wendy and `custodians` custodians, then runs the preflight and identifies everyone. */
export async function enrolAndIdentify(svc: CeremonyService, id: string, custodians: number): Promise<void> {
  const people: [string, 'administrator' | 'witness' | 'custodian'][] = [
    ['Alice', 'administrator'],
    ['Wendy', 'witness'],
    ...Array.from(
      { length: custodians },
      (_, i) => [`Custodian ${i + 1}`, 'custodian'] as [string, 'custodian'],
    ),
  ];
  for (const [name, role] of people) {
    await svc.enroll(id, { name, role, passphrase: PASS(name), acknowledged: true });
  }
  await svc.act(id, { stepId: 'preflight', actor: admin, confirmer: witness });
  await svc.act(id, { stepId: 'identify', actor: admin, confirmer: witness });
}
