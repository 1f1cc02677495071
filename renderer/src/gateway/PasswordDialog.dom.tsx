import * as Dialog from '@radix-ui/react-dialog';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import type { GatewayProfileView } from '../../../shared/contract.std';
import { mkm } from '../api.dom';
import { DialogActions, DialogContent, ErrorNotice, PinField, takePin } from '../ui/bits.dom';
import { gatewayKeys } from './format.dom';

/**
 * Asks for a profile's gateway password. It goes to main once (gateway.setPassword) and main
 * keeps it for the session; "remember" asks main to keep it encrypted by the OS (Electron
 * safeStorage). The field is uncontrolled and blanked on submit: the password is never React
 * state and never comes back from main.
 */
export function PasswordDialog({
  profile,
  open,
  onOpenChange,
  onDone,
}: {
  profile: GatewayProfileView;
  open: boolean;
  onOpenChange: (open: boolean) => void;
  onDone?: () => void;
}) {
  const ids = useId();
  const queryClient = useQueryClient();
  const [remember, setRemember] = useState(false);
  const save = useMutation({
    mutationFn: (password: string) =>
      mkm().gateway.setPassword({ profileId: profile.id, password, ...(remember ? { remember: true } : {}) }),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: gatewayKeys.profiles });
      onOpenChange(false);
      onDone?.();
    },
  });
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const password = takePin(e.currentTarget, 'gateway-password');
    if (password) save.mutate(password);
  };
  return (
    <Dialog.Root
      open={open}
      onOpenChange={(next) => {
        if (save.isPending) return;
        if (!next) save.reset();
        onOpenChange(next);
      }}
    >
      <Dialog.Portal>
        <Dialog.Overlay className="overlay" />
        <DialogContent className="dialog" aria-describedby={`${ids}-why`}>
          <form onSubmit={submit}>
            <Dialog.Title className="dialog-title">Gateway password for “{profile.name}”</Dialog.Title>
            <p id={`${ids}-why`} className="muted">
              User <strong>{profile.username}</strong> at {profile.baseUrl}. The app keeps it in memory for
              this session only; it is never written in clear, logged or shown again.
            </p>
            <PinField name="gateway-password" label="Password" autoFocus />
            <label className="check">
              <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} />
              <span>Remember it on this computer, encrypted by the operating system (desktop app only)</span>
            </label>
            {save.error && <ErrorNotice error={save.error} />}
            <DialogActions
              kind="dialog"
              pending={save.isPending}
              action={{
                label: 'Use this password',
                pendingLabel: 'Saving…',
                tone: 'primary',
                type: 'submit',
              }}
            />
          </form>
        </DialogContent>
      </Dialog.Portal>
    </Dialog.Root>
  );
}
