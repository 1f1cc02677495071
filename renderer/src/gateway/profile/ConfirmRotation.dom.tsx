import * as AlertDialog from '@radix-ui/react-alert-dialog';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import type { GatewayProfileView } from '../../../../shared/contract.std';
import { mkm } from '../../api.dom';
import { DialogActions, ErrorNotice } from '../../ui/bits.dom';
import { fpGroups } from '../format.dom';
import { ConfirmKeyDialog } from './ConfirmKeyDialog.dom';

const ROTATION_TEXT = {
  encryption: {
    title: 'Accept the gateway’s new public key?',
    effect: 'Card data will be encrypted under the new key from then on.',
  },
  signing: {
    title: 'Accept the gateway’s new signing key?',
    effect:
      'Key sets signed by the new key will be accepted from then on (and none signed by anything else).',
  },
} as const;

export function ConfirmRotation({
  which,
  profile,
  pinned,
  pending,
  onDone,
}: {
  which: 'encryption' | 'signing';
  profile: GatewayProfileView;
  pinned: { spkiSha256: string };
  pending: { spkiSha256: string; keyId: string | null };
  onDone: () => void;
}) {
  const [open, setOpen] = useState(false);
  const confirm = useMutation({
    mutationFn: (): Promise<unknown> =>
      which === 'encryption'
        ? mkm().gateway.confirmKeyRotation({ profileId: profile.id, fingerprint: pending.spkiSha256 })
        : mkm().gateway.confirmSigningKeyRotation({ profileId: profile.id, fingerprint: pending.spkiSha256 }),
    onSuccess: () => setOpen(false),
    onSettled: onDone,
  });
  return (
    <ConfirmKeyDialog open={open} setOpen={setOpen} confirm={confirm} label="Review the new key…">
      <AlertDialog.Title className="dialog-title">{ROTATION_TEXT[which].title}</AlertDialog.Title>
      <AlertDialog.Description className="muted">
        {ROTATION_TEXT[which].effect} Compare the new fingerprint with the one the gateway operator gave you
        through another channel; a key that does not match may be an attack.
      </AlertDialog.Description>
      <dl className="gw-compare">
        <dt>Pinned now</dt>
        <dd className="gw-fp" data-testid="rotation-old">
          {fpGroups(pinned.spkiSha256)}
        </dd>
        <dt>New key</dt>
        <dd className="gw-fp" data-testid="rotation-new">
          {fpGroups(pending.spkiSha256)}
        </dd>
        <dt>New key id</dt>
        <dd>{pending.keyId ?? '(imported PEM)'}</dd>
      </dl>
      {confirm.error && <ErrorNotice error={confirm.error} />}
      <DialogActions
        kind="alert"
        pending={confirm.isPending}
        cancelLabel="Keep the pinned key"
        action={{
          label: 'The fingerprints match: use the new key',
          pendingLabel: 'Confirming…',
          tone: 'primary',
          type: 'button',
          onClick: () => confirm.mutate(),
        }}
      />
    </ConfirmKeyDialog>
  );
}
