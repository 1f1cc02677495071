import * as AlertDialog from '@radix-ui/react-alert-dialog';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import type { LifecycleKeyView, LifecycleVersionView } from '../../../shared/contract.std';
import { mkm } from '../api.dom';
import { AlertClose } from './AlertClose.dom';
import { AlertDialogContent, DialogActions, ErrorNotice, shortId } from '../ui/bits.dom';
import { useRefreshLifecycle } from './queries.dom';
import { confirmationMismatch, versionName } from '../../../shared/wording.std';

/**
 * Destroying a version takes two confirmations: the version's name (`NAME vN`) typed again, with
 * what differs said as it is typed, then a final "destroy" on a second screen that says once more
 * what is lost. Success is said before the dialog closes. The record stays as a tombstone.
 */
export function DestroyVersionDialog({
  keyView,
  version,
}: {
  keyView: LifecycleKeyView;
  version: LifecycleVersionView;
}) {
  const [open, setOpen] = useState(false);
  const [typed, setTyped] = useState('');
  const [step, setStep] = useState<'type' | 'final' | 'done'>('type');
  const refresh = useRefreshLifecycle();
  const name = versionName(keyView.name, version.version);
  const destroy = useMutation({
    mutationFn: () => mkm().lifecycle.destroy({ versionId: version.id, confirm: true, confirmLabel: typed }),
    onSuccess: () => setStep('done'),
    // On success the lists are read again when the dialog closes: the destroyed version's row
    // (and this dialog with it) would otherwise go before the success is said.
    onError: () => void refresh(),
  });
  const mismatch = confirmationMismatch(name, typed);
  const matches = mismatch === null;

  return (
    <AlertDialog.Root
      open={open}
      onOpenChange={(next) => {
        if (destroy.isPending) return;
        if (!next && step === 'done') void refresh();
        setOpen(next);
        setTyped('');
        setStep('type');
        destroy.reset();
      }}
    >
      <AlertDialog.Trigger asChild>
        <button type="button" className="danger-outline">
          Destroy…
        </button>
      </AlertDialog.Trigger>
      <AlertDialog.Portal>
        <AlertDialog.Overlay className="overlay" />
        <AlertDialogContent className="dialog">
          <AlertDialog.Title className="dialog-title">Destroy {name}?</AlertDialog.Title>
          <AlertDialog.Description className="notice notice-error">
            <span>
              The key of version {version.version} (ID <code>{shortId(version.ckaId ?? '')}</code>) is
              destroyed on the token. <strong>It cannot be undone</strong>: data encrypted under this version
              can never be decrypted again. The version’s record stays in the inventory as a tombstone.
            </span>
          </AlertDialog.Description>
          {step === 'done' ? (
            <>
              <p role="status" className="notice notice-info" data-testid="destroy-done">
                <span>
                  <strong>{name} was destroyed on the token.</strong> Its record stays in the inventory as a
                  tombstone.
                </span>
              </p>
              <AlertClose />
            </>
          ) : step === 'type' ? (
            <form
              onSubmit={(e) => {
                e.preventDefault();
                if (matches) setStep('final');
              }}
            >
              <div className="field">
                <label htmlFor={`destroy-version-${version.id}`}>
                  Type <strong className="mono">{name}</strong> to confirm
                </label>
                <input
                  id={`destroy-version-${version.id}`}
                  value={typed}
                  onChange={(e) => setTyped(e.target.value)}
                  aria-describedby={`destroy-version-${version.id}-hint`}
                  autoComplete="off"
                  spellCheck={false}
                  autoFocus
                />
                <span id={`destroy-version-${version.id}-hint`} className="muted small" aria-live="polite">
                  {typed && mismatch ? mismatch : ''}
                </span>
              </div>
              <div className="dialog-actions">
                <AlertDialog.Cancel asChild>
                  <button type="button">Cancel</button>
                </AlertDialog.Cancel>
                <button type="submit" className="danger-outline" disabled={!matches}>
                  Continue
                </button>
              </div>
            </form>
          ) : (
            <>
              <p role="status">
                <strong>Last step.</strong> Destroy {name} now?
              </p>
              {destroy.error && <ErrorNotice error={destroy.error} />}
              <DialogActions
                kind="alert"
                pending={destroy.isPending}
                cancelAutoFocus
                action={{
                  label: `Destroy ${name}`,
                  pendingLabel: 'Destroying…',
                  tone: 'danger',
                  type: 'button',
                  onClick: () => destroy.mutate(),
                }}
              />
            </>
          )}
        </AlertDialogContent>
      </AlertDialog.Portal>
    </AlertDialog.Root>
  );
}
