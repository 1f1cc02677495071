import { useMutation } from '@tanstack/react-query';
import { useReducer, useRef, useState } from 'react';
import type { ComponentKeyType } from '../../../shared/ceremony/script.std';
import type { CeremonyStepView, CeremonyView, StepOutcome } from '../../../shared/contract/ceremony.std';
import { readComponent } from '../../../shared/formats/component-entry.std';
import { wipe } from '../../../shared/formats/components.std';
import { MkmError } from '../../../shared/errors.std';
import { mkm } from '../api.dom';
import { ErrorNotice, Facts } from '../ui/bits.dom';
import { detailRows, stepCustodian } from './ceremonyModel.dom';
import { componentFieldReducer, describeTyping, initialComponentField, regroup } from './componentField.dom';
import { ProofFields, takeProofs } from './Proofs.dom';
import { encryptTo } from './transport.dom';

/**
 * One custodian enters their component: masked, grouped by four, with the typo checksum of what
 * they typed and any TDES parity problem named by position before it goes. It leaves the page
 * only encrypted to the token's transport key; then the check values the token computed are
 * compared with the sheet, and confirming them clears the screen for the next custodian.
 */
export function ComponentEntry({
  view,
  step,
  keyType,
  onOutcome,
  onHold,
}: {
  view: CeremonyView;
  step: CeremonyStepView;
  keyType: ComponentKeyType;
  onOutcome: (outcome: StepOutcome) => void;
  onHold: (held: boolean) => void;
}) {
  const index = stepCustodian(step) ?? 1;
  const [state, dispatch] = useReducer(componentFieldReducer(keyType), keyType, initialComponentField);
  const [shown, setShown] = useState(false);
  const field = useRef<HTMLInputElement>(null);
  const fieldId = `cer-component-${index}`;

  const act = useMutation({
    mutationFn: async (form: HTMLFormElement) => {
      const input = field.current!;
      const reading = readComponent(input.value, keyType, index);
      // Blanked at once, whatever happens next: a refused or lost submission is typed again.
      input.value = '';
      setShown(false);
      const proofs = takeProofs(form, 'cmp', step.dualControl);
      if (!reading.ok) throw reading.error;
      dispatch({ type: 'submitted' });
      let ciphertext: string;
      // The host checks the component was encrypted to the key it still holds (a restart makes a new one).
      let transportKeySha256: string;
      try {
        const transport = await mkm().ceremony.transportKey({ id: view.id });
        transportKeySha256 = transport.spkiSha256;
        ciphertext = await encryptTo(transport.spkiPem, reading.bytes);
      } finally {
        wipe(reading.bytes);
      }
      return mkm().ceremony.act({
        id: view.id,
        stepId: step.id,
        ...proofs,
        input: { ciphertext, transportKeySha256 },
      });
    },
    onSuccess: (outcome) => {
      dispatch({ type: 'accepted', kcvs: detailRows(outcome.details) });
      onHold(true);
      onOutcome(outcome);
    },
    onError: () => dispatch({ type: 'failed' }),
  });

  if (state.phase === 'check-kcv') {
    return (
      <div className="stack" data-testid="component-kcv">
        <p className="notice notice-info" role="status">
          <span>
            Component {index} was entered. Compare its check value with the component sheet, aloud, with the
            witness. If it differs, the witness records an exception and the ceremony is aborted.
          </span>
        </p>
        <Facts label={`Component ${index} as the token read it`} rows={state.kcvs} />
        <div className="button-row">
          <button
            type="button"
            className="primary"
            autoFocus
            onClick={() => {
              dispatch({ type: 'confirmed' });
              onHold(false);
            }}
          >
            The check value matches: clear the screen for the next step
          </button>
        </div>
      </div>
    );
  }

  const ready = state.phase === 'typing' && state.checksum !== null && state.problem === null;
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        if (!act.isPending) act.mutate(e.currentTarget);
      }}
    >
      <ProofFields view={view} step={step} dual={step.dualControl} prefix="cmp" />
      <div className="field">
        <label htmlFor={fieldId}>Component {index}</label>
        <div className="pin-row">
          <input
            ref={field}
            id={fieldId}
            className="mono cer-component"
            type={shown ? 'text' : 'password'}
            autoComplete="off"
            autoCorrect="off"
            autoCapitalize="off"
            spellCheck={false}
            aria-describedby={`${fieldId}-help`}
            onChange={(e) => {
              const input = e.currentTarget;
              if (act.error) act.reset();
              if (input.selectionStart === input.value.length) input.value = regroup(input.value);
              dispatch(describeTyping(input.value, keyType, index));
            }}
          />
          <button
            type="button"
            aria-pressed={shown}
            aria-label={shown ? `Hide component ${index}` : `Show component ${index}`}
            onClick={() => setShown((s) => !s)}
          >
            {shown ? 'Hide' : 'Show'}
          </button>
        </div>
        <p id={`${fieldId}-help`} className="muted small" data-testid="component-progress">
          {state.phase === 'typing'
            ? `${state.digits} of ${state.expected} hex digits, grouped by four as on the sheet.`
            : 'Encrypting to the token…'}
          {state.phase === 'typing' && state.checksum !== null && (
            <>
              {' '}
              Checksum of what was typed: <strong data-testid="component-checksum">
                {state.checksum}
              </strong>{' '}
              (compare it with the sheet).
            </>
          )}
        </p>
      </div>
      {state.phase === 'typing' && state.problem && (
        <ErrorNotice error={new MkmError(state.problem.code, state.problem.message)} />
      )}
      {act.error && <ErrorNotice error={act.error} />}
      <div className="button-row">
        <button type="submit" className="primary" disabled={!ready || act.isPending}>
          {act.isPending ? 'Entering…' : `Enter component ${index}`}
        </button>
      </div>
    </form>
  );
}
