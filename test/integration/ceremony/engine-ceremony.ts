import { join } from 'node:path';
import type { CeremonyService, StepExecutor } from '../../../electron/ceremony/ceremony-service.nodejs';
import type { TokenCaller } from '../../../electron/ceremony/executors/component-store.nodejs';
import { createLogger } from '../../../electron/core/logger.nodejs';
import type { TokenEngine } from '../../../electron/hsm/pkcs11/token-engine.host';
import type { CeremonyActorProof } from '../../../shared/contract/ceremony.std';
import { hostTokenService } from '../../helpers/host-token-engine';

/**
 * A ceremony driven through the engine (CeremonyService) with the token host's service in this
 * process. Its people: Alice administers, Wendy witnesses, custodians are numbered from 1.
 * Participant ids follow the order they enrol in, so the proofs below hold for any ceremony
 * `enrolAndIdentify` set up.
 */

/**
 * The token host's service and `tokens`, the caller the ceremony executors reach it through.
 * Given a data folder, the host logs where the app puts its log, into that folder, so a scan of
 * the folder for leaked secrets reads the log too.
 */
export function hostEngine(data?: string): { engine: TokenEngine; tokens: TokenCaller } {
  const engine = hostTokenService(
    data === undefined
      ? undefined
      : {
          logger: createLogger({
            name: 'host',
            file: join(data, 'logs', 'host.jsonl'),
            level: 'debug',
            stderrLevel: 'silent',
          }),
        },
  );
  const tokens: TokenCaller = {
    call: (method, params) => (engine[method] as (p: unknown) => Promise<never>)(params),
  };
  return { engine, tokens };
}

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
