import { useMutation } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import type { CeremonyStepView, CeremonyView, StepOutcome } from '../../../shared/contract/ceremony.std';
import { componentChecksum, groupComponent } from '../../../shared/formats/component-entry.std';
import { wipe } from '../../../shared/formats/components.std';
import { asMkmError, mkm } from '../api.dom';
import { ErrorNotice, Facts } from '../ui/bits.dom';
import { detailRows, stepCustodian } from './ceremonyModel.dom';
import { PersonAndPassphrase, ProofFields, takeProof, takeProofs } from './Proofs.dom';
import { actReveal, RevealStep, StepForm } from './StepForm.dom';
import { decryptReply } from './transport.dom';
// cli-sheets: the custodian's component sheet, printed from the reveal.
import { SheetPrint, sheetForReveal } from './ComponentSheetPrint.dom';
import type { ComponentSheet } from '../../../shared/formats/component-sheet.std';

interface PanelProps {
  view: CeremonyView;
  step: CeremonyStepView;
  onOutcome: (outcome: StepOutcome) => void;
}

/**
 * The air-gap preflight: the administrator runs it, the witness confirms. A connected machine is
 * refused (CEREMONY_AIR_GAP, naming the interfaces); the two may then record an override with a
 * reason, which the transcript keeps.
 */
export function PreflightPanel({ view, step, onOutcome }: PanelProps) {
  const [override, setOverride] = useState(false);
  const [reason, setReason] = useState('');
  const act = useMutation({
    mutationFn: (form: HTMLFormElement) =>
      mkm().ceremony.act({
        id: view.id,
        stepId: step.id,
        ...takeProofs(form, 'pre', step.dualControl),
        input: override ? { override: { reason } } : {},
      }),
    onSuccess: onOutcome,
  });
  const error = act.error ? asMkmError(act.error) : null;
  const airGap = error?.code === 'CEREMONY_AIR_GAP' ? error.details?.interfaces : undefined;
  const interfaces = Array.isArray(airGap) ? airGap : [];
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        act.mutate(e.currentTarget);
      }}
    >
      <p className="muted">
        Checks the app’s own hash, the token’s serial and firmware, that no network interface but loopback is
        up, and the check values of the keys the ceremony uses. Gateway calls are refused while it runs.
      </p>
      <ProofFields view={view} step={step} dual={step.dualControl} prefix="pre" />
      {error && <ErrorNotice error={error} />}
      {(interfaces.length > 0 || override) && (
        <fieldset className="plain cer-override">
          <legend className="sr-only">Air-gap override</legend>
          {interfaces.length > 0 && (
            <p>
              Up now: <strong data-testid="preflight-interfaces">{interfaces.join(', ')}</strong>
            </p>
          )}
          <label className="check">
            <input type="checkbox" checked={override} onChange={(e) => setOverride(e.target.checked)} />
            <span>
              Record an override: this ceremony runs on a connected machine (the transcript keeps it)
            </span>
          </label>
          {override && (
            <div className="field">
              <label htmlFor="pre-override-reason">Reason for the override (8 characters or more)</label>
              <input
                id="pre-override-reason"
                value={reason}
                maxLength={200}
                onChange={(e) => setReason(e.target.value)}
              />
            </div>
          )}
        </fieldset>
      )}
      <div className="button-row">
        <button
          type="submit"
          className="primary"
          disabled={act.isPending || (override && reason.trim().length < 8)}
        >
          {act.isPending
            ? 'Checking…'
            : override
              ? 'Run the preflight with the override'
              : 'Run the preflight'}
        </button>
      </div>
    </form>
  );
}

/** Any step with no input of its own: identify, form the key, generate it, TR-31 steps. */
export function PlainStepPanel({ view, step, onOutcome, action }: PanelProps & { action: string }) {
  const act = useMutation({
    mutationFn: (form: HTMLFormElement) =>
      mkm().ceremony.act({ id: view.id, stepId: step.id, ...takeProofs(form, 'step', step.dualControl) }),
    onSuccess: onOutcome,
  });
  return <StepForm view={view} step={step} prefix="step" act={act} working="Working…" action={action} />;
}

/**
 * One custodian alone views their component: the page makes a key pair for this reveal, the
 * token host encrypts the component to it, and it is shown here only, then forgotten when the
 * custodian confirms they have it (written on their sheet).
 */
export function RevealPanel({
  view,
  step,
  onOutcome,
  onHold,
}: PanelProps & { onHold: (held: boolean) => void }) {
  const index = stepCustodian(step) ?? 1;
  const shownAt = useRef<HTMLParagraphElement>(null);
  const sumAt = useRef<HTMLElement>(null);
  const [kcvs, setKcvs] = useState<[string, string][] | null>(null);
  // cli-sheets: the sheet lives in this page's memory from the reveal until the screen is cleared.
  const [sheet, setSheet] = useState<{ sheet: ComponentSheet | null; error: unknown } | null>(null);
  const act = useMutation({
    mutationFn: async (form: HTMLFormElement) => {
      const { outcome, privateKey } = await actReveal(view, step, form, 'rev');
      const sealed = outcome.reply.component;
      if (sealed) {
        const bytes = await decryptReply(privateKey, sealed);
        // Written into the one field, not into React state: forgetting it is blanking the node.
        if (shownAt.current) shownAt.current.textContent = groupComponent(bytes);
        if (sumAt.current) sumAt.current.textContent = componentChecksum(bytes);
        // cli-sheets: the sheet is built from the bytes before they are wiped.
        try {
          setSheet({ sheet: sheetForReveal(view, index, bytes, outcome), error: null });
        } catch (error) {
          setSheet({ sheet: null, error });
        }
        wipe(bytes);
      }
      return outcome;
    },
    onSuccess: (outcome) => {
      setKcvs(detailRows(outcome.details));
      onHold(true);
      onOutcome(outcome);
    },
  });
  const forget = () => {
    if (shownAt.current) shownAt.current.textContent = '';
    if (sumAt.current) sumAt.current.textContent = '';
    setSheet(null); // cli-sheets
    setKcvs(null);
    onHold(false);
  };
  return (
    <div className="stack">
      <RevealStep
        view={view}
        step={step}
        prefix="rev"
        act={act}
        action={`Reveal component ${index} to custodian ${index}`}
        revealed={kcvs !== null}
        onClear={forget}
      >
        <p className="notice notice-warning">
          <span>
            Component {index}: for custodian {index} alone. Everyone else looks away.
          </span>
        </p>
        <p className="mono cer-revealed" data-testid="revealed-component" ref={shownAt} />
        <p>
          Checksum: <strong className="mono" ref={sumAt} />
        </p>
        {kcvs && <Facts label={`Component ${index} check values`} rows={kcvs} />}
        {sheet && <SheetPrint sheet={sheet.sheet} error={sheet.error} /> /* cli-sheets */}
      </RevealStep>
    </div>
  );
}

/** Each participant signs off on their own; the last closes the ceremony and signs its transcript. */
export function SignOffPanel({ view, onDone }: { view: CeremonyView; onDone: (view: CeremonyView) => void }) {
  const pending = view.participants.filter((p) => !p.signedOff);
  const signOff = useMutation({
    mutationFn: (form: HTMLFormElement) =>
      mkm().ceremony.signOff({ id: view.id, participant: takeProof(form, 'sign') }),
    onSuccess: onDone,
  });
  return (
    <form
      key={pending.length}
      onSubmit={(e) => {
        e.preventDefault();
        signOff.mutate(e.currentTarget);
      }}
    >
      <p className="muted">
        Signed off: {view.participants.filter((p) => p.signedOff).length} of {view.participants.length}. The
        last sign-off closes the ceremony and signs its transcript on the token.
      </p>
      <PersonAndPassphrase
        prefix="sign"
        choose="Who signs off"
        passphrase="Their passphrase"
        people={pending}
        defaultId={pending[0]?.id ?? ''}
      />
      {signOff.error && <ErrorNotice error={signOff.error} />}
      <div className="button-row">
        <button type="submit" className="primary" disabled={signOff.isPending || pending.length === 0}>
          {signOff.isPending ? 'Signing off…' : 'Sign off'}
        </button>
      </div>
    </form>
  );
}

// ---------------------------------------------------------------- TR-31 (issue 11 point 4)

/**
 * The export of a key as a TR-31 key block: administrator and witness do it together; the block
 * (no secret: its key is encrypted and MAC'd under the KBPK) comes back as the step's reply and
 * stays on screen, with the check values read aloud, until it has been copied or saved.
 */
export function Tr31ExportPanel({
  view,
  step,
  onOutcome,
  onHold,
}: PanelProps & { onHold: (held: boolean) => void }) {
  const [done, setDone] = useState<{ block: string; rows: [string, string][] } | null>(null);
  const act = useMutation({
    mutationFn: (form: HTMLFormElement) =>
      mkm().ceremony.act({ id: view.id, stepId: step.id, ...takeProofs(form, 'tr31x', step.dualControl) }),
    onSuccess: (outcome) => {
      setDone({ block: outcome.reply.block ?? '', rows: detailRows(outcome.details) });
      onHold(true);
      onOutcome(outcome);
    },
  });
  if (done) {
    return (
      <div className="stack">
        <div className="field">
          <label htmlFor="tr31-block-out">The key block (give it to the receiving party)</label>
          <textarea
            id="tr31-block-out"
            className="mono"
            readOnly
            rows={4}
            value={done.block}
            data-testid="tr31-block"
            onFocus={(e) => e.currentTarget.select()}
          />
        </div>
        <Facts label="What the transcript records" rows={done.rows} />
        <div className="button-row">
          <button type="button" onClick={() => void navigator.clipboard?.writeText(done.block)}>
            Copy the block
          </button>
          <button type="button" className="primary" onClick={() => onHold(false)}>
            The block is saved: go on
          </button>
        </div>
      </div>
    );
  }
  return (
    <StepForm
      view={view}
      step={step}
      prefix="tr31x"
      act={act}
      working="Wrapping…"
      action="Wrap the key into a key block"
    />
  );
}

/** The import of a TR-31 key block: pasted here, checked and loaded on the token by administrator and witness. */
export function Tr31ImportPanel({ view, step, onOutcome }: PanelProps) {
  const [block, setBlock] = useState('');
  const act = useMutation({
    mutationFn: (form: HTMLFormElement) =>
      mkm().ceremony.act({
        id: view.id,
        stepId: step.id,
        ...takeProofs(form, 'tr31i', step.dualControl),
        input: { block: block.trim() },
      }),
    onSuccess: onOutcome,
  });
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        act.mutate(e.currentTarget);
      }}
    >
      <div className="field">
        <label htmlFor="tr31-block-in">The key block (TR-31 / X9.143, as received)</label>
        <textarea
          id="tr31-block-in"
          className="mono"
          rows={4}
          value={block}
          spellCheck={false}
          autoComplete="off"
          maxLength={9999}
          onChange={(e) => setBlock(e.target.value)}
        />
      </div>
      <ProofFields view={view} step={step} dual={step.dualControl} prefix="tr31i" />
      {act.error && <ErrorNotice error={act.error} />}
      <div className="button-row">
        <button type="submit" className="primary" disabled={act.isPending || block.trim().length < 16}>
          {act.isPending ? 'Checking the block…' : 'Check the block and load its key'}
        </button>
      </div>
    </form>
  );
}
