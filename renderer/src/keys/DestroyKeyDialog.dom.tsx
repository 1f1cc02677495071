import * as AlertDialog from '@radix-ui/react-alert-dialog';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { ObjectInfo } from '../../../shared/tokens.std';
import { mkm } from '../api.dom';
import { DialogActions, GuardedAlertDialog, ErrorNotice, shortId } from '../ui/bits.dom';
import { AUDIT_KEY_LABEL, AUDIT_KEY_NOTE, CLASS_NAMES } from './keyFormat.dom';

/**
 * Destroying a key cannot be undone, so the admin types the key's label to confirm. An RSA key
 * pair goes as a pair: a private key without its public half (or the reverse) is of no use.
 */
export function DestroyKeyDialog({
  slotId,
  object,
  pair,
  onDestroyed,
}: {
  slotId: number;
  object: ObjectInfo;
  pair: ObjectInfo | null;
  onDestroyed: () => void;
}) {
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const [typed, setTyped] = useState('');
  const expected = object.label || object.id;
  const targets = pair ? [object, pair] : [object];
  const destroy = useMutation({
    mutationFn: async () => {
      let destroyed = 0;
      for (const t of targets) {
        destroyed += (await mkm().keys.destroy({ slotId, id: t.id, class: t.class, confirm: true }))
          .destroyed;
      }
      return destroyed;
    },
    onSuccess: () => {
      setOpen(false);
      onDestroyed();
    },
    onSettled: () => void queryClient.invalidateQueries({ queryKey: ['keys', 'list', slotId] }),
  });
  const what = pair
    ? `the RSA key pair “${object.label}” (private and public key)`
    : `the ${CLASS_NAMES[object.class].toLowerCase()} “${object.label || '(no label)'}”`;

  return (
    <GuardedAlertDialog
      open={open}
      setOpen={setOpen}
      pending={destroy.isPending}
      onOpenChange={() => {
        setTyped('');
        destroy.reset();
      }}
      trigger={
        <button type="button" className="danger-outline">
          Destroy…
        </button>
      }
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (typed === expected) destroy.mutate();
        }}
      >
        <AlertDialog.Title className="dialog-title">Destroy {pair ? 'key pair' : 'key'}?</AlertDialog.Title>
        <AlertDialog.Description className="notice notice-error">
          <span>
            This destroys {what} with ID <code>{shortId(object.id)}</code> on the token.{' '}
            <strong>It cannot be undone</strong>: whatever was encrypted or wrapped under it can no longer be
            decrypted, and the gateway must be given a new key.
          </span>
        </AlertDialog.Description>
        {object.label === AUDIT_KEY_LABEL && (
          <p className="notice notice-warning">
            <span>{AUDIT_KEY_NOTE}</span>
          </p>
        )}
        <div className="field">
          <label htmlFor="destroy-confirm">
            Type <strong className="mono">{expected}</strong> to confirm
          </label>
          <input
            id="destroy-confirm"
            value={typed}
            onChange={(e) => setTyped(e.target.value)}
            autoComplete="off"
            spellCheck={false}
            autoFocus
          />
        </div>
        {destroy.error && <ErrorNotice error={destroy.error} />}
        <DialogActions
          kind="alert"
          pending={destroy.isPending}
          action={{
            label: pair ? 'Destroy key pair' : 'Destroy key',
            pendingLabel: 'Destroying…',
            tone: 'danger',
            type: 'submit',
            disabled: typed !== expected,
          }}
        />
      </form>
    </GuardedAlertDialog>
  );
}
