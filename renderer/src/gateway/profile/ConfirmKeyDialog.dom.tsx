import type { ReactNode } from 'react';
import { GuardedAlertDialog } from '../../ui/bits.dom';

/** Opened from a button to confirm a gateway key; a failed attempt is forgotten when it closes. */
export function ConfirmKeyDialog({
  open,
  setOpen,
  confirm,
  label,
  children,
}: {
  open: boolean;
  setOpen: (open: boolean) => void;
  confirm: { isPending: boolean; reset: () => void };
  label: string;
  children: ReactNode;
}) {
  return (
    <GuardedAlertDialog
      open={open}
      setOpen={setOpen}
      pending={confirm.isPending}
      onOpenChange={(next) => {
        if (!next) confirm.reset();
      }}
      trigger={
        <button type="button" className="push-right">
          {label}
        </button>
      }
    >
      {children}
    </GuardedAlertDialog>
  );
}
