import * as AlertDialog from '@radix-ui/react-alert-dialog';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { AuditRecoverView, AuditStatusView } from '../../../shared/contract/audit.std';
import { mkm } from '../api.dom';
import { useTokens } from '../tokens/TokenContext.dom';
import { DialogActions, ErrorNotice, GuardedAlertDialog } from '../ui/bits.dom';

/**
 * While the audit log cannot take entries (AUDIT_UNAVAILABLE), every action that must be
 * recorded is refused. This says why and, when moving the log aside is the way out (not for a
 * disk that cannot be written), offers `audit.recover` behind a dialog that says what it does.
 * After it the screen reads the state again: the notice goes only when the log really takes
 * entries.
 */
export function AuditRecovery({ status }: { status: AuditStatusView }) {
  const queryClient = useQueryClient();
  const { activeSlot } = useTokens();
  // The new log must be started with the token's audit key at hand: the token keeps the audit
  // head, and a head left on the old log makes the next login refuse the new one as replaced.
  const loggedIn = Boolean(activeSlot?.session.loggedIn);
  const [open, setOpen] = useState(false);
  const [recovered, setRecovered] = useState<AuditRecoverView | null>(null);
  const recover = useMutation({
    mutationFn: () => mkm().audit.recover({ confirm: true }),
    onSuccess: (result) => {
      setRecovered(result);
      setOpen(false);
    },
    // Whatever happened, what the screen shows comes from the log's state, read again.
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: ['audit'] });
      void queryClient.invalidateQueries({ queryKey: ['app.status'] });
    },
  });
  const problem = status.unavailable;
  return (
    <>
      {problem && (
        <div role="alert" className="notice notice-error" data-testid="audit-unavailable">
          <span>
            <strong>Actions that must be recorded are refused: the audit log cannot take entries.</strong>{' '}
            {problem.reason} <code className="code-chip">{problem.cause}</code>{' '}
            {status.held > 0 &&
              `${status.held.toLocaleString()} new entries are held in memory until it is repaired. `}
            {problem.recoverable
              ? 'Recover moves the damaged log aside and starts a new one.'
              : 'Free space or fix the permissions of the audit folder; actions resume once it can be written.'}
          </span>
          {problem.recoverable && (
            <GuardedAlertDialog
              open={open}
              setOpen={setOpen}
              pending={recover.isPending}
              onOpenChange={(next) => {
                if (next) recover.reset();
              }}
              trigger={
                <button type="button" className="danger-outline push-right">
                  Recover…
                </button>
              }
            >
              <AlertDialog.Title className="dialog-title">Recover the audit log</AlertDialog.Title>
              <AlertDialog.Description asChild>
                <div className="notice notice-warning">
                  <ol>
                    <li>The log is verified first (chain, seals, truncation).</li>
                    <li>
                      The damaged log is moved aside <strong>untouched</strong>, into a quarantine folder
                      inside the audit folder. Nothing in it is changed or deleted; keep it for the
                      investigation.
                    </li>
                    <li>
                      A new log starts. Its first entries name the quarantine folder and the old log’s last
                      entry, so the break is on record. Recorded actions then run again.
                    </li>
                  </ol>
                </div>
              </AlertDialog.Description>
              {!loggedIn && (
                <p role="alert" className="notice notice-error" data-testid="audit-recover-login">
                  Log in to the token first: the token keeps the audit log’s head, and it must move to the new
                  log, or the next login refuses the new log as a replaced one.
                </p>
              )}
              {recover.error && <ErrorNotice error={recover.error} />}
              <DialogActions
                kind="alert"
                pending={recover.isPending}
                action={{
                  label: 'Move aside and start a new log',
                  pendingLabel: 'Recovering…',
                  tone: 'danger',
                  type: 'button',
                  onClick: () => recover.mutate(),
                  disabled: !loggedIn,
                }}
              />
            </GuardedAlertDialog>
          )}
        </div>
      )}
      {recovered && !problem && (
        <p role="status" className="notice notice-info" data-testid="audit-recovered">
          <span>
            The damaged log was moved to <code>{recovered.movedTo}</code> ({recovered.reason}); a new log was
            started that names it.
          </span>
        </p>
      )}
    </>
  );
}
