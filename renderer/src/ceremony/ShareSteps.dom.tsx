import { useMutation } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import type { CeremonyStepView, CeremonyView, StepOutcome } from '../../../shared/contract/ceremony.std';
import { mkm } from '../api.dom';
import { ErrorNotice, Facts } from '../ui/bits.dom';
import { detailRows, stepCustodian } from './ceremonyModel.dom';
import { ProofFields, takeProofs } from './Proofs.dom';
import { actReveal, RevealStep } from './StepForm.dom';
import { describeShareTyping, encryptShareText, revealedShareText, type ShareTyping } from './shareField.dom';

/**
 * The Ceremony screen's share steps (issue 11 point 5): a share revealed to one custodian alone
 * (shown in one node, never in React state, and blanked when they have it), and a share typed
 * back for a recovery or a drill (masked, each line checked as it is typed, sent only encrypted
 * to the token's transport key, the field blanked at once).
 */

interface PanelProps {
  view: CeremonyView;
  step: CeremonyStepView;
  onOutcome: (outcome: StepOutcome) => void;
  onHold: (held: boolean) => void;
}

/** One custodian alone receives their share; the first reveal also gives the public backup record. */
export function ShareRevealPanel({ view, step, onOutcome, onHold }: PanelProps) {
  const index = stepCustodian(step) ?? 1;
  const shownAt = useRef<HTMLPreElement>(null);
  const [facts, setFacts] = useState<[string, string][] | null>(null);
  const [record, setRecord] = useState<string | null>(null);
  const act = useMutation({
    mutationFn: async (form: HTMLFormElement) => {
      const { outcome, privateKey } = await actReveal(view, step, form, 'shr');
      const sealed = outcome.reply.share;
      if (sealed && shownAt.current)
        shownAt.current.textContent = await revealedShareText(privateKey, sealed);
      return outcome;
    },
    onSuccess: (outcome) => {
      setFacts(detailRows(outcome.details));
      const text = outcome.reply.backupRecord;
      if (text) setRecord(URL.createObjectURL(new Blob([text], { type: 'application/json' })));
      onHold(true);
      onOutcome(outcome);
    },
  });
  const forget = () => {
    if (shownAt.current) shownAt.current.textContent = '';
    setFacts(null);
    onHold(false);
  };
  return (
    <div className="stack">
      {record && (
        <p className="notice notice-info">
          <span>
            The backup record (public: commitments and check values, no share) is kept with this ceremony.{' '}
            <a href={record} download={`${view.id}.kek-backup.json`} data-testid="backup-record-download">
              Save the backup record
            </a>{' '}
            and keep it with the transcript: a recovery or a drill needs it.
          </span>
        </p>
      )}
      <RevealStep
        view={view}
        step={step}
        prefix="shr"
        act={act}
        action={`Reveal share ${index} to custodian ${index}`}
        revealed={facts !== null}
        onClear={forget}
      >
        <p className="notice notice-warning">
          <span>
            Share {index}: for custodian {index} alone. Everyone else looks away. Copy it onto the share sheet
            exactly, line by line, with each line’s check group.
          </span>
        </p>
        <pre className="mono cer-revealed" data-testid="revealed-share" ref={shownAt} />
        {facts && <Facts label={`Share ${index}`} rows={facts} />}
      </RevealStep>
    </div>
  );
}

function typingText(t: ShareTyping): string {
  switch (t.state) {
    case 'empty':
      return 'Type the share as printed: the title line, the backup line, the share line, 16 lines and the end line.';
    case 'ok':
      return `Share ${t.index} of ${t.count} (threshold ${t.threshold}), backup ${t.backupId.slice(0, 8)}…: every line checks.`;
    case 'problem':
      return t.message;
  }
}

/** A custodian types their share for a recovery (`enter-share`) or a drill (`drill-share`). */
export function ShareEntryPanel({ view, step, onOutcome, onHold }: PanelProps) {
  const position = stepCustodian(step) ?? 1;
  const field = useRef<HTMLTextAreaElement>(null);
  const [typing, setTyping] = useState<ShareTyping>({ state: 'empty' });
  const [shown, setShown] = useState(false);
  const [facts, setFacts] = useState<[string, string][] | null>(null);
  const fieldId = `cer-share-${position}`;
  const act = useMutation({
    mutationFn: async (form: HTMLFormElement) => {
      const input = field.current!;
      const text = input.value;
      // Blanked at once, whatever happens next: a refused or lost submission is typed again.
      input.value = '';
      setTyping({ state: 'empty' });
      setShown(false);
      const proofs = takeProofs(form, 'she', step.dualControl);
      const transport = await mkm().ceremony.transportKey({ id: view.id });
      const ciphertexts = await encryptShareText(transport.spkiPem, text);
      return mkm().ceremony.act({
        id: view.id,
        stepId: step.id,
        ...proofs,
        input: { ciphertexts, transportKeySha256: transport.spkiSha256 },
      });
    },
    onSuccess: (outcome) => {
      setFacts(detailRows(outcome.details));
      onHold(true);
      onOutcome(outcome);
    },
  });

  if (facts) {
    return (
      <div className="stack" data-testid="share-result">
        <p className="notice notice-info" role="status">
          <span>
            {step.kind === 'drill-share'
              ? `Custodian ${position}’s share was checked against the backup’s commitments (the key was not recovered).`
              : `Custodian ${position}’s share checks against the backup’s commitments and is held, encrypted to the token, for the recovery.`}
          </span>
        </p>
        <Facts label={`Custodian ${position}’s share`} rows={facts} />
        <div className="button-row">
          <button
            type="button"
            className="primary"
            autoFocus
            onClick={() => {
              setFacts(null);
              onHold(false);
            }}
          >
            Clear the screen for the next step
          </button>
        </div>
      </div>
    );
  }

  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        if (!act.isPending) act.mutate(e.currentTarget);
      }}
    >
      <ProofFields view={view} step={step} dual={step.dualControl} prefix="she" />
      <div className="field">
        <label htmlFor={fieldId}>Custodian {position}’s share</label>
        <textarea
          ref={field}
          id={fieldId}
          className={shown ? 'mono cer-share' : 'mono cer-share cer-masked'}
          rows={20}
          autoComplete="off"
          autoCorrect="off"
          autoCapitalize="off"
          spellCheck={false}
          aria-describedby={`${fieldId}-help`}
          onChange={(e) => {
            if (act.error) act.reset();
            setTyping(describeShareTyping(e.currentTarget.value));
          }}
        />
        <div className="button-row">
          <button type="button" aria-pressed={shown} onClick={() => setShown((s) => !s)}>
            {shown ? 'Hide the share' : 'Show the share'}
          </button>
        </div>
        <p
          id={`${fieldId}-help`}
          className={typing.state === 'problem' ? 'small' : 'muted small'}
          data-testid="share-progress"
        >
          {typingText(typing)}
        </p>
      </div>
      {act.error && <ErrorNotice error={act.error} />}
      <div className="button-row">
        <button type="submit" className="primary" disabled={typing.state !== 'ok' || act.isPending}>
          {act.isPending
            ? 'Entering…'
            : step.kind === 'drill-share'
              ? `Check custodian ${position}’s share`
              : `Enter custodian ${position}’s share`}
        </button>
      </div>
    </form>
  );
}
