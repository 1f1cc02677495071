import * as AlertDialog from '@radix-ui/react-alert-dialog';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { GatewayProfileView } from '../../../../shared/contract.std';
import { mkm } from '../../api.dom';
import { DialogActions, ErrorNotice, GuardedAlertDialog } from '../../ui/bits.dom';
import { gatewayKeys } from '../format.dom';

export function RemoveProfile({
  profile,
  onRemoved,
}: {
  profile: GatewayProfileView;
  onRemoved: () => void;
}) {
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const remove = useMutation({
    mutationFn: () => mkm().gateway.removeProfile({ profileId: profile.id, confirm: true }),
    onSuccess: () => {
      setOpen(false);
      void queryClient.invalidateQueries({ queryKey: gatewayKeys.all });
      onRemoved();
    },
  });
  return (
    <GuardedAlertDialog
      open={open}
      setOpen={setOpen}
      pending={remove.isPending}
      trigger={
        <button type="button" className="danger-outline">
          Remove…
        </button>
      }
    >
      <AlertDialog.Title className="dialog-title">Remove the profile “{profile.name}”?</AlertDialog.Title>
      <AlertDialog.Description className="muted">
        The app forgets this gateway, its pinned key and any password it kept. Keys on the token and
        registrations at the gateway are not touched. Adding the profile again starts with nothing pinned.
      </AlertDialog.Description>
      {remove.error && <ErrorNotice error={remove.error} />}
      <DialogActions
        kind="alert"
        pending={remove.isPending}
        cancelDisabled={false}
        action={{
          label: 'Remove profile',
          pendingLabel: 'Removing…',
          tone: 'danger',
          type: 'button',
          onClick: () => remove.mutate(),
        }}
      />
    </GuardedAlertDialog>
  );
}
