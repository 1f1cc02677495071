import * as AlertDialog from '@radix-ui/react-alert-dialog';
import * as Dialog from '@radix-ui/react-dialog';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { CEREMONY_ROLES, type CeremonyRole } from '../../../shared/ceremony/script.std';
import type { CeremonyStepView, CeremonyView, StepOutcome } from '../../../shared/contract/ceremony.std';
import { MkmError } from '../../../shared/errors.std';
import { mkm } from '../api.dom';
import {
  Badge,
  DialogActions,
  DialogContent,
  ErrorNotice,
  Facts,
  GuardedAlertDialog,
  Loading,
  PinField,
  takePin,
} from '../ui/bits.dom';
import {
  confirmersFor,
  currentStep,
  custodiansNeeded,
  detailRows,
  missingRoles,
  paramRows,
  ROLE_NAMES,
} from './ceremonyModel.dom';
import { ComponentEntry } from './ComponentEntry.dom';
import { HashAloud } from './HashAloud.dom';
import { PersonAndPassphrase, takeProof } from './Proofs.dom';
import { ShareEntryPanel, ShareRevealPanel } from './ShareSteps.dom'; // M-of-N shares
import {
  PlainStepPanel,
  PreflightPanel,
  RevealPanel,
  SignOffPanel,
  Tr31ExportPanel,
  Tr31ImportPanel,
} from './StepPanels.dom';
import { DownloadTranscript } from './Transcript.dom';
import { Timestamp } from '../ui/Timestamp.dom';

const RESPONSIBILITIES: Record<CeremonyRole, string> = {
  administrator:
    'I run this ceremony by its reviewed script, step by step, and hold no component or share of its key.',
  witness:
    'I watch every step, confirm the steps that need a second person, and record every departure from the script as an exception.',
  custodian:
    'I alone see my component or share; I never show, copy or hand it to anyone, and I keep my sheet under my own control.',
};

/** A ceremony as the room runs it: where it stands, who is there, and the step it has reached. */
export function CeremonyRun({ id, onClose }: { id: string; onClose: () => void }) {
  const queryClient = useQueryClient();
  const status = useQuery({
    queryKey: ['ceremony', 'status', id],
    queryFn: () => mkm().ceremony.status({ id }),
  });
  // A component or reveal step stays on screen after it is done until its custodian confirms.
  const [held, setHeld] = useState<string | null>(null);
  const [last, setLast] = useState<StepOutcome | null>(null);
  const update = (view: CeremonyView) => {
    queryClient.setQueryData(['ceremony', 'status', id], view);
    void queryClient.invalidateQueries({ queryKey: ['ceremony', 'list'] });
  };
  const onOutcome = (outcome: StepOutcome) => {
    setLast(outcome);
    update(outcome.ceremony);
  };

  const view = status.data;
  const back = (
    <div className="button-row">
      <button type="button" onClick={onClose}>
        ← All ceremonies
      </button>
    </div>
  );
  if (!view) {
    return (
      <div className="stack">
        {back}
        {status.isPending && <Loading />}
        {status.error && <ErrorNotice error={status.error} onRetry={() => void status.refetch()} />}
      </div>
    );
  }
  const current = currentStep(view);
  const shownStep = (held && view.steps.find((s) => s.id === held)) || current;
  const custodians = custodiansNeeded(view);
  const enrolling = current !== null && (current.kind === 'preflight' || current.kind === 'identify');

  return (
    <div className="stack">
      {back}
      <section className="card" aria-labelledby="cer-title">
        <h2 id="cer-title" className="card-title">
          {view.title}{' '}
          <Badge tone={view.state === 'running' ? 'info' : view.state === 'completed' ? 'ok' : 'danger'}>
            {view.state}
          </Badge>
        </h2>
        <Facts
          label="Ceremony"
          rows={[
            ['Started', <Timestamp key="started" at={view.startedAt} />],
            ...(view.closedAt
              ? ([['Ended', <Timestamp key="ended" at={view.closedAt} />]] as [string, ReactNode][])
              : []),
            ...paramRows(view.params),
            ['Token', `${view.token.label} — ${view.token.model}, serial ${view.token.serial}`],
            ['Transcript entries', String(view.transcriptEntries)],
          ]}
        />
        <HashAloud label="Script hash" hex={view.scriptHash} testId="ceremony-script-hash" />
        {view.transcriptHead && (
          <HashAloud label="Transcript head" hex={view.transcriptHead} testId="transcript-head" />
        )}
        {view.state === 'running' && (
          <div className="button-row">
            <ExceptionDialog view={view} onDone={update} />
            <AbortDialog view={view} onDone={update} />
          </div>
        )}
      </section>

      <section className="card" aria-labelledby="cer-steps-title">
        <h2 id="cer-steps-title" className="card-title">
          Steps
        </h2>
        <StepList view={view} shown={shownStep?.id ?? null} />
      </section>

      <section className="card" aria-labelledby="cer-people-title">
        <h2 id="cer-people-title" className="card-title">
          Participants
        </h2>
        <Participants view={view} />
        {enrolling && view.state === 'running' && (
          <EnrolForm view={view} custodians={custodians} onDone={update} />
        )}
      </section>

      {view.state === 'running' && shownStep && (
        <section className="card cer-current" aria-labelledby="cer-current-title">
          <h2 id="cer-current-title" className="card-title">
            Now: {shownStep.title}
          </h2>
          <StepPanel
            // Remounted when someone is enrolled, so each form's choices of people start afresh.
            key={`${shownStep.id}:${view.participants.length}`}
            view={view}
            step={shownStep}
            onOutcome={onOutcome}
            onHold={(h) => setHeld(h ? shownStep.id : null)}
            onView={update}
          />
          {last && last.step !== shownStep.id && held === null && (
            <div className="stack" data-testid="last-step">
              <div role="status" className="notice notice-info">
                <span>
                  Done: “{view.steps.find((s) => s.id === last.step)?.title}”. The transcript records:
                </span>
              </div>
              <Facts label="What the last step recorded" rows={detailRows(last.details)} />
            </div>
          )}
        </section>
      )}

      {Object.keys(view.facts).length > 0 && (
        <section className="card" aria-labelledby="cer-facts-title">
          <h2 id="cer-facts-title" className="card-title">
            Recorded so far
          </h2>
          <Facts label="Recorded facts" rows={detailRows(view.facts)} />
        </section>
      )}

      {view.state !== 'running' && (
        <section className="card" aria-labelledby="cer-transcript-title">
          <h2 id="cer-transcript-title" className="card-title">
            Transcript
          </h2>
          <DownloadTranscript id={view.id} />
        </section>
      )}
    </div>
  );
}

function StepList({ view, shown }: { view: CeremonyView; shown: string | null }) {
  return (
    <ol className="cer-steps" aria-label="Ceremony steps">
      {view.steps.map((s) => {
        const isCurrent = s.id === shown && view.state === 'running';
        return (
          <li
            key={s.id}
            className={
              isCurrent ? 'cer-step cer-step-current' : s.done ? 'cer-step cer-step-done' : 'cer-step'
            }
            aria-current={isCurrent ? 'step' : undefined}
            data-step={s.id}
          >
            <span className="cer-step-mark" aria-hidden="true">
              {s.done ? '✓' : isCurrent ? '▶' : '·'}
            </span>
            <span>
              {s.title}
              <span className="muted small">
                {' '}
                — {s.roles.map((r) => ROLE_NAMES[r]).join(' or ')}
                {s.dualControl ? ', with a confirmer' : ''}
              </span>
              {s.done && <span className="small"> Done by {s.by.join(' and ')}.</span>}
              {isCurrent && <span className="sr-only"> (current step)</span>}
            </span>
          </li>
        );
      })}
    </ol>
  );
}

function Participants({ view }: { view: CeremonyView }) {
  if (view.participants.length === 0) {
    return (
      <p className="empty">
        Nobody is identified yet: enrol the administrator, the witness and the custodians.
      </p>
    );
  }
  return (
    <table className="table" aria-label="Participants">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Role</th>
          <th scope="col">Signed off</th>
        </tr>
      </thead>
      <tbody>
        {view.participants.map((p) => (
          <tr key={p.id}>
            <td>{p.name}</td>
            <td>{p.custodian === null ? ROLE_NAMES[p.role] : `Custodian ${p.custodian}`}</td>
            <td>{p.signedOff ? 'Yes' : 'Not yet'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Identifies one participant: name, role, their passphrase twice, and the acknowledgement. */
function EnrolForm({
  view,
  custodians,
  onDone,
}: {
  view: CeremonyView;
  custodians: number;
  onDone: (view: CeremonyView) => void;
}) {
  const missing = missingRoles(view, custodians);
  const [role, setRole] = useState<CeremonyRole>(missing[0]?.role ?? 'custodian');
  const [name, setName] = useState('');
  const [ack, setAck] = useState(false);
  const chosen = missing.some((m) => m.role === role) ? role : (missing[0]?.role ?? role);
  const enrol = useMutation({
    mutationFn: async (form: HTMLFormElement) => {
      const passphrase = takePin(form, 'enrol-passphrase');
      const again = takePin(form, 'enrol-passphrase-again');
      if (passphrase !== again) {
        throw new MkmError('VALIDATION', 'The two passphrases differ: type the same passphrase twice.', {
          field: 'passphrase',
        });
      }
      return mkm().ceremony.enroll({ id: view.id, name, role: chosen, passphrase, acknowledged: ack });
    },
    onSuccess: (next) => {
      setName('');
      setAck(false);
      onDone(next);
    },
  });
  if (missing.length === 0) {
    return <p className="muted">Everyone the script needs is identified.</p>;
  }
  return (
    <form
      className="cer-enrol"
      aria-label="Enrol a participant"
      onSubmit={(e) => {
        e.preventDefault();
        enrol.mutate(e.currentTarget);
      }}
    >
      <h3>Enrol a participant</h3>
      <p className="muted small">
        Still to identify: {missing.map((m) => `${m.count} ${m.role}${m.count > 1 ? 's' : ''}`).join(', ')}.
        Each person types their own passphrase; they will confirm each of their steps with it.
      </p>
      <fieldset className="plain" disabled={enrol.isPending}>
        <legend className="sr-only">The participant</legend>
        <div className="cer-grid">
          <div className="field">
            <label htmlFor="enrol-name">Name</label>
            <input
              id="enrol-name"
              value={name}
              autoComplete="off"
              onChange={(e) => setName(e.target.value)}
              required
            />
          </div>
          <div className="field">
            <label htmlFor="enrol-role">Role</label>
            <select id="enrol-role" value={chosen} onChange={(e) => setRole(e.target.value as CeremonyRole)}>
              {CEREMONY_ROLES.filter((r) => missing.some((m) => m.role === r)).map((r) => (
                <option key={r} value={r}>
                  {ROLE_NAMES[r]}
                </option>
              ))}
            </select>
          </div>
          <PinField name="enrol-passphrase" label="Passphrase" />
          <PinField name="enrol-passphrase-again" label="Passphrase again" />
        </div>
        <label className="check">
          <input type="checkbox" checked={ack} onChange={(e) => setAck(e.target.checked)} />
          <span>{RESPONSIBILITIES[chosen]}</span>
        </label>
      </fieldset>
      {enrol.error && <ErrorNotice error={enrol.error} />}
      <div className="button-row">
        <button type="submit" disabled={enrol.isPending || !ack || !name.trim()}>
          {enrol.isPending ? 'Enrolling…' : `Enrol as ${ROLE_NAMES[chosen].toLowerCase()}`}
        </button>
      </div>
    </form>
  );
}

function StepPanel({
  view,
  step,
  onOutcome,
  onHold,
  onView,
}: {
  view: CeremonyView;
  step: CeremonyStepView;
  onOutcome: (outcome: StepOutcome) => void;
  onHold: (held: boolean) => void;
  onView: (view: CeremonyView) => void;
}) {
  switch (step.kind) {
    case 'preflight':
      return <PreflightPanel view={view} step={step} onOutcome={onOutcome} />;
    case 'identify':
      return <PlainStepPanel view={view} step={step} onOutcome={onOutcome} action="Everyone is identified" />;
    case 'enter-component': {
      const keyType = 'keyType' in view.params ? view.params.keyType : null;
      if (!keyType) {
        return (
          <ErrorNotice
            error={new MkmError('CEREMONY_JOURNAL_INVALID', 'This ceremony does not name its key type.')}
          />
        );
      }
      return (
        <ComponentEntry view={view} step={step} keyType={keyType} onOutcome={onOutcome} onHold={onHold} />
      );
    }
    case 'reveal-component':
      return <RevealPanel view={view} step={step} onOutcome={onOutcome} onHold={onHold} />;
    // M-of-N shares
    case 'reveal-share':
      return <ShareRevealPanel view={view} step={step} onOutcome={onOutcome} onHold={onHold} />;
    case 'enter-share':
    case 'drill-share':
      return <ShareEntryPanel view={view} step={step} onOutcome={onOutcome} onHold={onHold} />;
    // TR-31
    case 'tr31-export':
      return <Tr31ExportPanel view={view} step={step} onOutcome={onOutcome} onHold={onHold} />;
    case 'tr31-import':
      return <Tr31ImportPanel view={view} step={step} onOutcome={onOutcome} />;
    case 'sign-off':
      return <SignOffPanel view={view} onDone={onView} />;
    default:
      return <PlainStepPanel view={view} step={step} onOutcome={onOutcome} action="Do this step" />;
  }
}

/** The witness records an exception at any point; the transcript keeps it as said. */
function ExceptionDialog({ view, onDone }: { view: CeremonyView; onDone: (view: CeremonyView) => void }) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState('');
  const witnesses = view.participants.filter((p) => p.role === 'witness');
  const record = useMutation({
    mutationFn: (form: HTMLFormElement) =>
      mkm().ceremony.exception({ id: view.id, witness: takeProof(form, 'exc'), text }),
    onSuccess: (next) => {
      setOpen(false);
      setText('');
      onDone(next);
    },
  });
  return (
    <Dialog.Root
      open={open}
      onOpenChange={(next) => {
        if (record.isPending) return;
        setOpen(next);
        record.reset();
      }}
    >
      <Dialog.Trigger asChild>
        <button
          type="button"
          disabled={witnesses.length === 0}
          title={witnesses.length ? undefined : 'Enrol the witness first'}
        >
          Record an exception…
        </button>
      </Dialog.Trigger>
      <Dialog.Portal>
        <Dialog.Overlay className="overlay" />
        <DialogContent className="dialog" aria-describedby="exc-what">
          <Dialog.Title className="dialog-title">Record an exception</Dialog.Title>
          <p id="exc-what" className="muted">
            The witness records what departed from the script; it goes into the transcript as written.
          </p>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              record.mutate(e.currentTarget);
            }}
          >
            <div className="field">
              <label htmlFor="exc-text">Exception</label>
              <textarea
                id="exc-text"
                value={text}
                maxLength={200}
                onChange={(e) => setText(e.target.value)}
                autoFocus
              />
            </div>
            <PersonAndPassphrase
              prefix="exc"
              choose="Witness"
              passphrase="Witness passphrase"
              people={witnesses}
              defaultId={witnesses[0]?.id ?? ''}
            />
            {record.error && <ErrorNotice error={record.error} />}
            <DialogActions
              kind="dialog"
              pending={record.isPending}
              action={{
                label: 'Record exception',
                pendingLabel: 'Recording…',
                tone: 'primary',
                type: 'submit',
                disabled: !text.trim(),
              }}
            />
          </form>
        </DialogContent>
      </Dialog.Portal>
    </Dialog.Root>
  );
}

/** Ends the ceremony where it stands; what a step left half-made on the token is removed. */
function AbortDialog({ view, onDone }: { view: CeremonyView; onDone: (view: CeremonyView) => void }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const people = confirmersFor(view, '');
  const abort = useMutation({
    mutationFn: (form: HTMLFormElement) =>
      mkm().ceremony.abort({ id: view.id, actor: takeProof(form, 'abort'), reason }),
    onSuccess: (next) => {
      setOpen(false);
      setReason('');
      onDone(next);
    },
  });
  return (
    <GuardedAlertDialog
      open={open}
      setOpen={setOpen}
      pending={abort.isPending}
      onOpenChange={() => abort.reset()}
      trigger={
        <button type="button" className="danger-outline" disabled={people.length === 0}>
          Abort the ceremony…
        </button>
      }
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          abort.mutate(e.currentTarget);
        }}
      >
        <AlertDialog.Title className="dialog-title">Abort this ceremony?</AlertDialog.Title>
        <AlertDialog.Description className="notice notice-error">
          <span>
            The ceremony ends where it stands and <strong>cannot be resumed</strong>. Anything a step left
            half-made on the token is removed; the transcript records who aborted it and why, and is signed.
          </span>
        </AlertDialog.Description>
        <div className="field">
          <label htmlFor="abort-reason">Reason</label>
          <input
            id="abort-reason"
            value={reason}
            maxLength={200}
            onChange={(e) => setReason(e.target.value)}
          />
        </div>
        <PersonAndPassphrase
          prefix="abort"
          choose="Aborted by"
          passphrase="Their passphrase"
          people={people}
          defaultId={people[0]?.id ?? ''}
        />
        {abort.error && <ErrorNotice error={abort.error} />}
        <DialogActions
          kind="alert"
          pending={abort.isPending}
          action={{
            label: 'Abort the ceremony',
            pendingLabel: 'Aborting…',
            tone: 'danger',
            type: 'submit',
            disabled: !reason.trim(),
          }}
        />
      </form>
    </GuardedAlertDialog>
  );
}
