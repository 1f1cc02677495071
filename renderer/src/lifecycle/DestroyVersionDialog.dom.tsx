import * as AlertDialog from '@radix-ui/react-alert-dialog';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import type { LifecycleKeyView, LifecycleVersionView } from '../../../shared/contract.std';
import { mkm } from '../api.dom';
import { AlertDialogContent, DialogActions, ErrorNotice, shortId } from '../ui/bits.dom';
import { useRefreshLifecycle } from './queries.dom';

/**
 * Destroying a version takes two confirmations: the version's label typed again, then a final
 * "destroy" on a second screen that says once more what is lost. The record stays as a tombstone.
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
  const [step, setStep] = useState<'type' | 'final'>('type');
  const refresh = useRefreshLifecycle();
  const destroy = useMutation({
    mutationFn: () => mkm().lifecycle.destroy({ versionId: version.id, confirm: true, confirmLabel: typed }),
    onSuccess: () => setOpen(false),
    onSettled: () => void refresh(),
  });
  const matches = typed === version.label;

  return (
    <AlertDialog.Root
      open={open}
      onOpenChange={(next) => {
        if (destroy.isPending) return;
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
          <AlertDialog.Title className="dialog-title">
            Destroy version {version.version} of “{keyView.name}”?
          </AlertDialog.Title>
          <AlertDialog.Description className="notice notice-error">
            <span>
              The key of version {version.version} (ID <code>{shortId(version.ckaId ?? '')}</code>) is
              destroyed on the token. <strong>It cannot be undone</strong>: data encrypted under this version
              can never be decrypted again. The version’s record stays in the inventory as a tombstone.
            </span>
          </AlertDialog.Description>
          {step === 'type' ? (
            <form
              onSubmit={(e) => {
                e.preventDefault();
                if (matches) setStep('final');
              }}
            >
              <div className="field">
                <label htmlFor={`destroy-version-${version.id}`}>
                  Type <strong className="mono">{version.label}</strong> to confirm
                </label>
                <input
                  id={`destroy-version-${version.id}`}
                  value={typed}
                  onChange={(e) => setTyped(e.target.value)}
                  autoComplete="off"
                  spellCheck={false}
                  autoFocus
                />
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
                <strong>Last step.</strong> Destroy version {version.version} now?
              </p>
              {destroy.error && <ErrorNotice error={destroy.error} />}
              <DialogActions
                kind="alert"
                pending={destroy.isPending}
                cancelAutoFocus
                action={{
                  label: `Destroy version ${version.version}`,
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
