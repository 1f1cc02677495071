import type {
  CeremonyActorProof,
  CeremonyStepView,
  CeremonyView,
} from '../../../shared/contract/ceremony.std';
import { PinField, takePin } from '../ui/bits.dom';
import { actorsFor, confirmersFor, participantName, type Participant } from './ceremonyModel.dom';

/**
 * Who does a step and who confirms it: each chooses themselves and types their own passphrase.
 * The passphrases live in the (masked, uncontrolled) inputs only and are blanked when read.
 */
export function ProofFields({
  view,
  step,
  dual,
  prefix,
}: {
  view: CeremonyView;
  step: CeremonyStepView;
  dual: boolean;
  prefix: string;
}) {
  const actors = actorsFor(view, step);
  const confirmers = confirmersFor(view, '');
  const firstActor = actors[0];
  const firstConfirmer = confirmers.find((p) => p.id !== firstActor?.id);
  return (
    <div className="cer-grid">
      <PersonAndPassphrase
        prefix={`${prefix}-actor`}
        choose="Done by"
        passphrase="Passphrase of who does it"
        people={actors}
        defaultId={firstActor?.id ?? ''}
      />
      {dual && (
        <PersonAndPassphrase
          prefix={`${prefix}-confirmer`}
          choose="Confirmed by"
          passphrase="Passphrase of who confirms"
          people={confirmers}
          defaultId={firstConfirmer?.id ?? ''}
        />
      )}
    </div>
  );
}

export function PersonAndPassphrase({
  prefix,
  choose,
  passphrase,
  people,
  defaultId,
}: {
  prefix: string;
  choose: string;
  passphrase: string;
  people: Participant[];
  defaultId: string;
}) {
  return (
    <div className="cer-person">
      <div className="field">
        <label htmlFor={`${prefix}-who`}>{choose}</label>
        <select id={`${prefix}-who`} name={`${prefix}-who`} defaultValue={defaultId} required>
          {people.length === 0 && <option value="">(nobody enrolled for this yet)</option>}
          {people.map((p) => (
            <option key={p.id} value={p.id}>
              {participantName(p)}
            </option>
          ))}
        </select>
      </div>
      <PinField name={`${prefix}-passphrase`} label={passphrase} />
    </div>
  );
}

/** Reads one person's choice and passphrase from a form; the passphrase input is blanked. */
export function takeProof(form: HTMLFormElement, prefix: string): CeremonyActorProof {
  const who = form.elements.namedItem(`${prefix}-who`);
  return {
    participantId: who instanceof HTMLSelectElement ? who.value : '',
    passphrase: takePin(form, `${prefix}-passphrase`),
  };
}

/** The actor's and, for dual control, the confirmer's proofs, read and blanked together. */
export function takeProofs(
  form: HTMLFormElement,
  prefix: string,
  dual: boolean,
): { actor: CeremonyActorProof; confirmer?: CeremonyActorProof } {
  const actor = takeProof(form, `${prefix}-actor`);
  return dual ? { actor, confirmer: takeProof(form, `${prefix}-confirmer`) } : { actor };
}
