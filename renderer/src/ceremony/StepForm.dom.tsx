import type { ReactNode } from 'react';
import type { CeremonyStepView, CeremonyView, StepOutcome } from '../../../shared/contract/ceremony.std';
import { mkm } from '../api.dom';
import { ErrorNotice } from '../ui/bits.dom';
import { ProofFields, takeProofs } from './Proofs.dom';
import { makeRevealKey } from './transport.dom';

/** The step's mutation as these forms use it: sent the form, so the proofs are read from its inputs. */
interface StepAct {
  mutate: (form: HTMLFormElement) => void;
  isPending: boolean;
  error: unknown;
}

interface StepFormProps {
  view: CeremonyView;
  step: CeremonyStepView;
  /** Names the proof inputs, so two forms on one screen never share an id. */
  prefix: string;
  act: StepAct;
  working: string;
  action: string;
}

/** A step whose only input is who does it and who confirms it. */
export function StepForm({ view, step, prefix, act, working, action }: StepFormProps) {
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        act.mutate(e.currentTarget);
      }}
    >
      <ProofFields view={view} step={step} dual={step.dualControl} prefix={prefix} />
      {act.error ? <ErrorNotice error={act.error} /> : null}
      <div className="button-row">
        <button type="submit" className="primary" disabled={act.isPending}>
          {act.isPending ? working : action}
        </button>
      </div>
    </form>
  );
}

/**
 * Acts a reveal step with a key pair made for this reveal alone: the secret comes back encrypted
 * to its public half, and only `privateKey`, which cannot leave WebCrypto, opens it.
 */
export async function actReveal(
  view: CeremonyView,
  step: CeremonyStepView,
  form: HTMLFormElement,
  prefix: string,
): Promise<{ outcome: StepOutcome; privateKey: CryptoKey }> {
  const proofs = takeProofs(form, prefix, step.dualControl);
  const { publicPem, privateKey } = await makeRevealKey();
  const outcome = await mkm().ceremony.act({
    id: view.id,
    stepId: step.id,
    ...proofs,
    input: { revealKey: publicPem },
  });
  return { outcome, privateKey };
}

/**
 * A secret for one custodian alone: the proofs form until it is revealed, then the revealed
 * content with the button that clears it. The content stays mounted while hidden because the
 * secret is written straight into its nodes, never into React state.
 */
export function RevealStep({
  revealed,
  onClear,
  children,
  ...form
}: Omit<StepFormProps, 'working'> & { revealed: boolean; onClear: () => void; children: ReactNode }) {
  return (
    <>
      <div className={revealed ? 'cer-reveal' : 'cer-reveal cer-hidden'} aria-hidden={!revealed}>
        {children}
        {revealed && (
          <div className="button-row">
            <button type="button" className="primary" autoFocus onClick={onClear}>
              I have it on my sheet: clear the screen
            </button>
          </div>
        )}
      </div>
      {!revealed && <StepForm {...form} working="Revealing…" />}
    </>
  );
}
