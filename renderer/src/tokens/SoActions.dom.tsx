import * as AlertDialog from '@radix-ui/react-alert-dialog';
import { useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent, type ReactNode } from 'react';
import type { SlotSummary } from '../../../shared/tokens.std';
import { mkm } from '../api.dom';
import { AlertDialogContent, DialogActions, ErrorNotice, PinField, takePin } from '../ui/bits.dom';
import { pinWarningFromFlags } from './pinWarning.dom';
import { tokenKeys, tokenLabel } from './TokenContext.dom';

/**
 * PIN and security-officer steps. Each opens an alert dialog that says exactly what will happen
 * to which token before it asks for the PINs; PINs stay in their masked inputs until the one call.
 */
export function SoActions({ slot }: { slot: SlotSummary }) {
  const token = slot.token;
  const name = `“${tokenLabel(slot)}” (slot ${slot.slotId}${token?.serial.trim() ? `, serial ${token.serial.trim()}` : ''})`;
  const soWarning = pinWarningFromFlags(token?.flags, 'so');
  return (
    <section className="card" aria-labelledby={`so-${slot.slotId}`}>
      <h3 id={`so-${slot.slotId}`}>PINs and security officer — {tokenLabel(slot)}</h3>
      {soWarning && (
        <div role="status" className={`notice notice-${soWarning.level}`}>
          {soWarning.text}
        </div>
      )}
      <div className="button-row">
        <ConfirmedStep
          trigger="Change user PIN…"
          disabled={!slot.session.loggedIn}
          disabledReason="Log in first: changing the PIN needs the current one and a session."
          title="Change the user PIN"
          actionLabel="Change PIN"
          consequence={
            <>
              The user PIN of {name} will be replaced. From then on only the new PIN logs in — tell everyone
              who uses this token.
            </>
          }
          fields={
            <>
              <PinField name="old" label="Current user PIN" autoFocus />
              <PinField name="new" label="New user PIN" />
              <PinField name="again" label="New user PIN again" />
            </>
          }
          run={async (form) => {
            const oldPin = takePin(form, 'old');
            const newPin = takePin(form, 'new');
            const again = takePin(form, 'again');
            if (newPin !== again) return 'The two new PINs differ. Type the new PIN twice.';
            await mkm().tokens.changePin({ slotId: slot.slotId, oldPin, newPin });
            return null;
          }}
        />
        <ConfirmedStep
          trigger="Set user PIN (security officer)…"
          disabled={!token?.flags.tokenInitialized}
          disabledReason="Initialize the token first."
          title="Set a new user PIN"
          actionLabel="Set user PIN"
          tone="danger"
          consequence={
            <>
              As security officer you set a new user PIN on {name}. The old user PIN stops working at once,
              and a locked user PIN is unlocked. Keys on the token are not changed.
            </>
          }
          fields={
            <>
              <PinField name="so" label="Security officer PIN" autoFocus />
              <PinField name="new" label="New user PIN" />
              <PinField name="again" label="New user PIN again" />
            </>
          }
          run={async (form) => {
            const soPin = takePin(form, 'so');
            const userPin = takePin(form, 'new');
            const again = takePin(form, 'again');
            if (userPin !== again) return 'The two new PINs differ. Type the new PIN twice.';
            await mkm().tokens.initUserPin({ slotId: slot.slotId, soPin, userPin, confirm: true });
            return null;
          }}
        />
        <ConfirmedStep
          trigger="Initialize token…"
          disabled={!token}
          disabledReason="No token in this slot."
          title="Initialize (erase) the token"
          actionLabel="Erase and initialize"
          tone="danger"
          consequence={
            <>
              <strong>Every key, certificate and object on {name} will be destroyed</strong>, and the token
              gets a new label. This cannot be undone. Afterwards set a user PIN before anyone can log in.
            </>
          }
          fields={
            <>
              <PinField name="so" label="Security officer PIN" autoFocus />
              <div className="field">
                <label htmlFor="init-label">New token label (up to 32 characters)</label>
                <input id="init-label" name="label" required maxLength={32} autoComplete="off" />
              </div>
              <label className="check">
                <input type="checkbox" name="understood" required /> I understand that every key on this token
                is destroyed.
              </label>
            </>
          }
          run={async (form) => {
            const soPin = takePin(form, 'so');
            const label = (form.elements.namedItem('label') as HTMLInputElement).value.trim();
            if (!label) return 'Give the token a label.';
            await mkm().tokens.initToken({ slotId: slot.slotId, soPin, label, confirm: true });
            return null;
          }}
        />
      </div>
    </section>
  );
}

function ConfirmedStep(props: {
  trigger: string;
  disabled: boolean;
  disabledReason: string;
  title: string;
  consequence: ReactNode;
  fields: ReactNode;
  actionLabel: string;
  tone?: 'danger';
  /** Returns a sentence when the form is not acceptable, null when done; throws MkmErrors. */
  run: (form: HTMLFormElement) => Promise<string | null>;
}) {
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const [pending, setPending] = useState(false);
  const [problem, setProblem] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);

  const change = (next: boolean) => {
    if (pending) return;
    setOpen(next);
    setProblem(null);
  };

  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setPending(true);
    setProblem(null);
    try {
      const refusal = await props.run(e.currentTarget);
      if (refusal) {
        setProblem(refusal);
      } else {
        setOpen(false);
        setDone(`${props.title}: done.`);
      }
    } catch (error) {
      setProblem(error);
    } finally {
      setPending(false);
      void queryClient.invalidateQueries({ queryKey: tokenKeys.list });
      void queryClient.invalidateQueries({ queryKey: ['keys'] });
    }
  };

  return (
    <AlertDialog.Root open={open} onOpenChange={change}>
      <span className="step">
        <AlertDialog.Trigger asChild>
          <button
            type="button"
            className={props.tone === 'danger' ? 'danger-outline' : undefined}
            disabled={props.disabled}
            title={props.disabled ? props.disabledReason : undefined}
          >
            {props.trigger}
          </button>
        </AlertDialog.Trigger>
        {done && (
          <span role="status" className="muted small">
            {done}
          </span>
        )}
      </span>
      <AlertDialog.Portal>
        <AlertDialog.Overlay className="overlay" />
        <AlertDialogContent className="dialog">
          <form onSubmit={(e) => void submit(e)} aria-busy={pending}>
            <AlertDialog.Title className="dialog-title">{props.title}</AlertDialog.Title>
            <AlertDialog.Description
              className={`notice ${props.tone === 'danger' ? 'notice-error' : 'notice-warning'}`}
            >
              <span>{props.consequence}</span>
            </AlertDialog.Description>
            {typeof problem === 'string' ? (
              <div role="alert" className="notice notice-error">
                {problem}
              </div>
            ) : problem ? (
              <ErrorNotice error={problem} />
            ) : null}
            {props.fields}
            <DialogActions
              kind="alert"
              pending={pending}
              action={{
                label: props.actionLabel,
                pendingLabel: 'Working…',
                tone: props.tone === 'danger' ? 'danger' : 'primary',
                type: 'submit',
              }}
            />
          </form>
        </AlertDialogContent>
      </AlertDialog.Portal>
    </AlertDialog.Root>
  );
}
