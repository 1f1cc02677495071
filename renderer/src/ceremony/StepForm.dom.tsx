import type { ReactNode } from 'react';
import type { CeremonyStepView, CeremonyView } from '../../../shared/contract/ceremony.std';
import { ErrorNotice } from '../ui/bits.dom';
import { ProofFields } from './Proofs.dom';

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
