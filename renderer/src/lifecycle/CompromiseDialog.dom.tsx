import * as AlertDialog from '@radix-ui/react-alert-dialog';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import type { LifecycleKeyView, LifecycleVersionView } from '../../../shared/contract.std';
import { mkm } from '../api.dom';
import { AlertClose } from './AlertClose.dom';
import { AlertDialogContent, DialogActions, ErrorNotice } from '../ui/bits.dom';
import { fingerprintText } from './format.dom';
import { ProgressSteps, rotationSteps } from './ProgressSteps.dom';
import { useRefreshLifecycle } from './queries.dom';
import { useOperationProgress } from './useOperation.dom';

/**
 * Mark compromised: says what it means before it is done (the version stops at once, even for
 * decryption; a compromised primary is replaced by a new version), then shows the replacement.
 */
export function CompromiseDialog({
  keyView: liveKey,
  version: liveVersion,
  triggerLabel = 'Mark compromised…',
}: {
  keyView: LifecycleKeyView;
  version: LifecycleVersionView;
  triggerLabel?: string;
}) {
  const [open, setOpen] = useState(false);
  // What the dialog is about, as it was when it opened: the lists refresh under it (the primary
  // changes when a replacement is made) while it still shows the result.
  const [frozen, setFrozen] = useState<{ keyView: LifecycleKeyView; version: LifecycleVersionView } | null>(
    null,
  );
  const keyView = frozen?.keyView ?? liveKey;
  const version = frozen?.version ?? liveVersion;
  const [note, setNote] = useState('');
  const [operationId, setOperationId] = useState<string | null>(null);
  const seen = useOperationProgress(operationId);
  const refresh = useRefreshLifecycle();
  const compromise = useMutation({
    mutationFn: (id: string) =>
      mkm().lifecycle.compromise({
        versionId: version.id,
        operationId: id,
        ...(note.trim() ? { note: note.trim() } : {}),
      }),
    onSettled: () => void refresh(),
  });
  const replaces = version.primary && keyView.purpose !== 'gateway-public';
  const stage = compromise.isIdle
    ? 'confirm'
    : compromise.isPending
      ? 'running'
      : compromise.isSuccess
        ? 'done'
        : 'failed';

  return (
    <AlertDialog.Root
      open={open}
      onOpenChange={(next) => {
        if (compromise.isPending) return;
        setOpen(next);
        setFrozen(next ? { keyView: liveKey, version: liveVersion } : null);
        if (!next) {
          compromise.reset();
          setOperationId(null);
          setNote('');
        }
      }}
    >
      <AlertDialog.Trigger asChild>
        <button type="button" className="danger-outline">
          {triggerLabel}
        </button>
      </AlertDialog.Trigger>
      <AlertDialog.Portal>
        <AlertDialog.Overlay className="overlay" />
        <AlertDialogContent className="dialog">
          <AlertDialog.Title className="dialog-title">
            Mark version {version.version} of “{keyView.name}” compromised?
          </AlertDialog.Title>
          <AlertDialog.Description className="notice notice-error">
            <span>
              Do this when the key may be known to someone else. Version {version.version} (
              {fingerprintText(version)}) stops at once:{' '}
              <strong>nothing can be encrypted or decrypted with it any more</strong>, and data protected
              under it must be treated as exposed.{' '}
              {replaces
                ? 'It is the primary, so a new version is generated and made primary right away.'
                : 'It is not the primary, so no new version is needed.'}{' '}
              This cannot be undone.
            </span>
          </AlertDialog.Description>
          {stage === 'confirm' && (
            <form
              onSubmit={(e) => {
                e.preventDefault();
                const id = crypto.randomUUID();
                setOperationId(id);
                compromise.mutate(id);
              }}
            >
              <div className="field">
                <label htmlFor={`compromise-note-${version.id}`}>Why (kept in the audit log; optional)</label>
                <input
                  id={`compromise-note-${version.id}`}
                  value={note}
                  maxLength={500}
                  onChange={(e) => setNote(e.target.value)}
                  autoComplete="off"
                />
              </div>
              <DialogActions
                kind="alert"
                cancelAutoFocus
                action={{ label: 'Mark compromised', tone: 'danger', type: 'submit' }}
              />
            </form>
          )}
          {stage !== 'confirm' && replaces && (
            <ProgressSteps
              steps={rotationSteps(keyView.purpose === 'gateway-transport')}
              seen={seen}
              failed={stage === 'failed'}
            />
          )}
          {stage === 'running' && !replaces && <p role="status">Marking it compromised…</p>}
          {stage === 'done' && compromise.data && (
            <p className="notice notice-info" role="status">
              <span>
                Version {compromise.data.compromised.version} is compromised.
                {compromise.data.replacement
                  ? ` Version ${compromise.data.replacement.version} replaces it as the primary.`
                  : ''}
              </span>
            </p>
          )}
          {stage === 'failed' && <ErrorNotice error={compromise.error} />}
          {(stage === 'done' || stage === 'failed') && <AlertClose />}
        </AlertDialogContent>
      </AlertDialog.Portal>
    </AlertDialog.Root>
  );
}
