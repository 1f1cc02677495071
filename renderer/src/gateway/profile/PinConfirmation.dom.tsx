import * as AlertDialog from '@radix-ui/react-alert-dialog';
import { useMutation } from '@tanstack/react-query';
import { useId, useState } from 'react';
import type { GatewayProfileView } from '../../../../shared/contract.std';
import type { GatewayPinConfirmation } from '../../../../shared/contract/gateway.std';
import { mkm } from '../../api.dom';
import { DialogActions, ErrorNotice } from '../../ui/bits.dom';
import { fpGroups, when } from '../format.dom';
import { ConfirmKeyDialog } from './ConfirmKeyDialog.dom';

/**
 * The first pin's out-of-band check (issue 15 point 5): the pinned key is trusted on first sight
 * until someone compares its fingerprint with the one the gateway operator reads out, and says
 * who they are. Main checks the typed fingerprint against the pinned one (never this page).
 */
export function PinConfirmation({
  which,
  profile,
  pinned,
  onDone,
}: {
  which: 'encryption' | 'signing';
  profile: GatewayProfileView;
  pinned: { spkiSha256: string; confirmed: GatewayPinConfirmation | null };
  onDone: () => void;
}) {
  const ids = useId();
  const [open, setOpen] = useState(false);
  const [fingerprint, setFingerprint] = useState('');
  const [by, setBy] = useState('');
  const [role, setRole] = useState('');
  const confirm = useMutation({
    mutationFn: () =>
      mkm().gateway.confirmPin({
        profileId: profile.id,
        key: which,
        fingerprint,
        by,
        ...(role.trim() ? { role } : {}),
      }),
    onSuccess: () => setOpen(false),
    onSettled: onDone,
  });
  const c = pinned.confirmed;
  if (c) {
    return (
      <p className="muted small" data-testid={`pin-confirmed-${which}`}>
        Fingerprint confirmed by {c.by}
        {c.role ? ` (${c.role})` : ''} on {when(c.at)}.
      </p>
    );
  }
  const what = which === 'encryption' ? 'public key' : 'signing key';
  return (
    <div className="notice notice-warning" role="status" data-testid={`pin-unconfirmed-${which}`}>
      <span>
        <strong>Pinned, unconfirmed.</strong> This {what} was pinned on first sight; nobody has compared its
        fingerprint with the gateway&apos;s yet. The compliance report counts it only once confirmed.
      </span>
      <ConfirmKeyDialog open={open} setOpen={setOpen} confirm={confirm} label="Confirm fingerprint…">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            confirm.mutate();
          }}
        >
          <AlertDialog.Title className="dialog-title">
            Confirm the gateway&apos;s {what} of “{profile.name}”
          </AlertDialog.Title>
          <AlertDialog.Description className="muted">
            Ask the gateway operator to read out the fingerprint of its {what} through another channel (phone,
            their portal), and type it below. It must be the one pinned here:
          </AlertDialog.Description>
          <p className="gw-fp" data-testid="pin-fingerprint">
            {fpGroups(pinned.spkiSha256)}
          </p>
          <div className="field">
            <label htmlFor={`${ids}-fp`}>Fingerprint read out by the gateway operator</label>
            <input
              id={`${ids}-fp`}
              className="gw-fp"
              spellCheck={false}
              autoComplete="off"
              value={fingerprint}
              maxLength={160}
              onChange={(e) => setFingerprint(e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor={`${ids}-by`}>Your name</label>
            <input id={`${ids}-by`} value={by} maxLength={128} onChange={(e) => setBy(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor={`${ids}-role`}>Your role (optional)</label>
            <input
              id={`${ids}-role`}
              value={role}
              maxLength={128}
              placeholder="key custodian"
              onChange={(e) => setRole(e.target.value)}
            />
          </div>
          {confirm.error && <ErrorNotice error={confirm.error} />}
          <DialogActions
            kind="alert"
            pending={confirm.isPending}
            action={{
              label: 'Confirm: the fingerprints match',
              pendingLabel: 'Confirming…',
              tone: 'primary',
              type: 'submit',
              disabled: fingerprint.trim().length < 64 || !by.trim(),
            }}
          />
        </form>
      </ConfirmKeyDialog>
    </div>
  );
}
