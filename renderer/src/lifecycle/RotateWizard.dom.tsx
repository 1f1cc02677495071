import * as Dialog from '@radix-ui/react-dialog';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import type { LifecycleKeyView } from '../../../shared/contract.std';
import { mkm } from '../api.dom';
import { TokenWaitNotice, useTokenWait } from '../tokens/TokenWait.dom';
import { DialogContent, ErrorNotice } from '../ui/bits.dom';
import { day, fingerprintText, primaryOf } from './format.dom';
import { ProgressSteps, rotationSteps } from './ProgressSteps.dom';
import { useRefreshLifecycle } from './queries.dom';
import { useOperationProgress } from './useOperation.dom';
import { managedTypeText } from '../../../shared/wording.std';

const DAY_MS = 86_400_000;

/**
 * Rotate now: review what will happen, confirm, watch the journaled steps, see the result. The
 * dialog cannot be closed while the token works (the rotation would go on unseen).
 */
export function RotateWizard({
  keyView: liveKey,
  disabled,
}: {
  keyView: LifecycleKeyView;
  disabled?: boolean;
}) {
  const [open, setOpen] = useState(false);
  // The key as it was when the wizard opened: the review and the result speak of that state,
  // while the lists refresh under the dialog.
  const [frozen, setFrozen] = useState<LifecycleKeyView | null>(null);
  const keyView = frozen ?? liveKey;
  const [operationId, setOperationId] = useState<string | null>(null);
  const seen = useOperationProgress(operationId);
  const waitMessage = useTokenWait(operationId);
  const refresh = useRefreshLifecycle();
  const rotate = useMutation({
    mutationFn: (id: string) => mkm().lifecycle.rotate({ ref: keyView.id, operationId: id }),
    onSettled: () => void refresh(),
  });
  const primary = primaryOf(keyView);
  const next = Math.max(0, ...keyView.versions.map((v) => v.version)) + 1;
  const needsGateway = keyView.purpose === 'gateway-transport';
  // When the dialog was mounted: close enough for "about" the end of the grace period.
  const [now] = useState(() => Date.now());
  const graceEnd = new Date(now + keyView.policy.graceDays * DAY_MS).toISOString();
  const stage = rotate.isIdle
    ? 'review'
    : rotate.isPending
      ? 'running'
      : rotate.isSuccess
        ? 'done'
        : 'failed';

  return (
    <Dialog.Root
      open={open}
      onOpenChange={(next) => {
        if (rotate.isPending) return;
        setOpen(next);
        setFrozen(next ? liveKey : null);
        if (!next) {
          rotate.reset();
          setOperationId(null);
        }
      }}
    >
      <Dialog.Trigger asChild>
        <button type="button" className="primary" disabled={disabled}>
          Rotate now…
        </button>
      </Dialog.Trigger>
      <Dialog.Portal>
        <Dialog.Overlay className="overlay" />
        <DialogContent className="dialog" aria-describedby={undefined}>
          <Dialog.Title className="dialog-title">Rotate “{keyView.name}”</Dialog.Title>
          {stage === 'review' && (
            <>
              <p>What will happen:</p>
              <ol className="lc-plan">
                <li>
                  Version {next} is generated inside the token ({managedTypeText(keyView.type)}); its key
                  never leaves it.
                </li>
                {needsGateway && <li>Version {next} is registered with the gateway before it is used.</li>}
                <li>Version {next} becomes the primary: new encryption uses it from then on.</li>
                {primary ? (
                  <li>
                    Version {primary.version} ({fingerprintText(primary)}) stays active for decryption during
                    the grace period of {keyView.policy.graceDays} days (until about {day(graceEnd)}), then it
                    is deactivated{needsGateway ? ' and retired at the gateway' : ''}.
                  </li>
                ) : (
                  <li>There is no primary version now; nothing else changes.</li>
                )}
              </ol>
              <p className="muted small">
                Every step is journaled: if the app stops half-way, the rotation goes on at the next login.
              </p>
              <div className="dialog-actions">
                <Dialog.Close asChild>
                  <button type="button">Cancel</button>
                </Dialog.Close>
                <button
                  type="button"
                  className="primary"
                  autoFocus
                  onClick={() => {
                    const id = crypto.randomUUID();
                    setOperationId(id);
                    rotate.mutate(id);
                  }}
                >
                  Rotate to version {next}
                </button>
              </div>
            </>
          )}
          {stage !== 'review' && (
            <ProgressSteps
              steps={rotationSteps(needsGateway)}
              // The wait is said (with its Cancel) below, once, not as a step's message.
              seen={seen.filter((s) => s.phase !== 'waiting')}
              failed={stage === 'failed'}
            />
          )}
          {stage === 'running' && operationId && (
            <TokenWaitNotice operationId={operationId} message={waitMessage} />
          )}
          {stage === 'done' && rotate.data && (
            <p className="notice notice-info" role="status">
              <span>
                Version {rotate.data.version.version} is now the primary (
                {fingerprintText(rotate.data.version)}).
                {primary &&
                  ` Version ${primary.version} stays active until ${day(rotate.data.logicalKey.versions.find((v) => v.id === primary.id)?.graceUntil)}.`}
              </span>
            </p>
          )}
          {stage === 'failed' && (
            <ErrorNotice error={rotate.error}>
              {' '}
              The rotation stays journaled; it continues with the next login or when you rotate again.
            </ErrorNotice>
          )}
          {(stage === 'done' || stage === 'failed') && (
            <div className="dialog-actions">
              <Dialog.Close asChild>
                <button type="button" className="primary" autoFocus>
                  Close
                </button>
              </Dialog.Close>
            </div>
          )}
        </DialogContent>
      </Dialog.Portal>
    </Dialog.Root>
  );
}
