import * as AlertDialog from '@radix-ui/react-alert-dialog';
import * as Dialog from '@radix-ui/react-dialog';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import type { CustodianText, CustodianView } from '../../../shared/contract/report.std';
import { mkm } from '../api.dom';
import {
  AlertDialogContent,
  Badge,
  DialogActions,
  DialogContent,
  ErrorNotice,
  Loading,
} from '../ui/bits.dom';
import { Timestamp } from '../ui/Timestamp.dom';

/**
 * Key custodians (PCI DSS 3.7.8): who acknowledged which version of the responsibilities, and
 * when. Acknowledging shows the text in force and asks for name, role and an explicit "I accept";
 * revoking (someone left the role) asks for a confirmation and keeps the record.
 */
const CUSTODIANS_QUERY = ['report', 'custodians'] as const;

export function CustodianPanel() {
  const custodians = useQuery({ queryKey: CUSTODIANS_QUERY, queryFn: () => mkm().report.custodians() });
  const [showRevoked, setShowRevoked] = useState(false);
  const list = custodians.data?.custodians ?? [];
  const shown = showRevoked ? list : list.filter((c) => c.revokedAt === null);
  return (
    <section className="card stack" aria-labelledby="pci-custodians-title">
      <div className="section-head">
        <h2 id="pci-custodians-title">Key custodians</h2>
        {custodians.data && <AcknowledgeDialog text={custodians.data.text} />}
      </div>
      {custodians.error && <ErrorNotice error={custodians.error} onRetry={() => void custodians.refetch()} />}
      {custodians.isPending && <Loading />}
      {custodians.data && (
        <>
          <p className="muted small">
            Everyone who holds a token PIN acknowledges the responsibilities text (version{' '}
            {custodians.data.text.version} is in force). Records are kept when a custodian is revoked.
          </p>
          {shown.length === 0 ? (
            <p className="empty">
              {list.length === 0
                ? 'No key custodian has acknowledged their responsibilities yet.'
                : 'No current custodian; revoked records are hidden.'}
            </p>
          ) : (
            <table className="table" aria-label="Key custodians">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Text</th>
                  <th scope="col">Acknowledged</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {shown.map((c) => (
                  <tr key={c.id}>
                    <td>{c.name}</td>
                    <td>{c.role}</td>
                    <td>v{c.textVersion}</td>
                    <td>
                      <Timestamp at={c.acknowledgedAt} />
                    </td>
                    <td>
                      {c.revokedAt ? (
                        <Badge tone="neutral" title={c.revokedReason ?? undefined}>
                          Revoked <Timestamp at={c.revokedAt} />
                        </Badge>
                      ) : c.current ? (
                        <Badge tone="ok">Current</Badge>
                      ) : (
                        <Badge tone="warn">Older text: acknowledge again</Badge>
                      )}
                    </td>
                    <td>{c.revokedAt === null && <RevokeDialog custodian={c} />}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {list.some((c) => c.revokedAt !== null) && (
            <label className="check">
              <input
                type="checkbox"
                checked={showRevoked}
                onChange={(e) => setShowRevoked(e.target.checked)}
              />
              Show revoked and superseded records
            </label>
          )}
        </>
      )}
    </section>
  );
}

function useRefreshAfterChange() {
  const queryClient = useQueryClient();
  return () => {
    void queryClient.invalidateQueries({ queryKey: CUSTODIANS_QUERY });
    void queryClient.invalidateQueries({ queryKey: ['report', 'pci'] });
    void queryClient.invalidateQueries({ queryKey: ['audit', 'query'] });
  };
}

function AcknowledgeDialog({ text }: { text: CustodianText }) {
  const [open, setOpen] = useState(false);
  const [accepted, setAccepted] = useState(false);
  const refresh = useRefreshAfterChange();
  const acknowledge = useMutation({
    mutationFn: (r: { name: string; role: string }) =>
      mkm().report.acknowledge({ ...r, textVersion: text.version, confirm: true }),
    onSuccess: () => {
      setOpen(false);
      refresh();
    },
  });
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const name = String(form.get('name') ?? '').trim();
    const role = String(form.get('role') ?? '').trim();
    if (name && role && accepted) acknowledge.mutate({ name, role });
  };
  return (
    <Dialog.Root
      open={open}
      onOpenChange={(next) => {
        if (acknowledge.isPending) return;
        setOpen(next);
        setAccepted(false);
        acknowledge.reset();
      }}
    >
      <Dialog.Trigger asChild>
        <button type="button" className="primary push-right">
          Acknowledge responsibilities…
        </button>
      </Dialog.Trigger>
      <Dialog.Portal>
        <Dialog.Overlay className="overlay" />
        <DialogContent className="dialog" aria-describedby="custodian-text">
          <form onSubmit={submit}>
            <Dialog.Title className="dialog-title">
              {text.title} (version {text.version})
            </Dialog.Title>
            <ol id="custodian-text" className="pci-text" tabIndex={0} aria-label="Responsibilities">
              {text.paragraphs.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ol>
            <div className="field">
              <label htmlFor="custodian-name">Full name</label>
              <input id="custodian-name" name="name" required maxLength={128} autoComplete="name" autoFocus />
            </div>
            <div className="field">
              <label htmlFor="custodian-role">Role</label>
              <input
                id="custodian-role"
                name="role"
                required
                maxLength={128}
                placeholder="e.g. Key custodian, Backup custodian"
                autoComplete="organization-title"
              />
            </div>
            <label className="check">
              <input type="checkbox" checked={accepted} onChange={(e) => setAccepted(e.target.checked)} />
              <span>I have read these responsibilities and I accept them.</span>
            </label>
            {acknowledge.error && <ErrorNotice error={acknowledge.error} />}
            <DialogActions
              kind="dialog"
              pending={acknowledge.isPending}
              action={{
                label: 'Record acknowledgement',
                pendingLabel: 'Recording…',
                tone: 'primary',
                type: 'submit',
                disabled: !accepted,
              }}
            />
          </form>
        </DialogContent>
      </Dialog.Portal>
    </Dialog.Root>
  );
}

function RevokeDialog({ custodian: c }: { custodian: CustodianView }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const refresh = useRefreshAfterChange();
  const revoke = useMutation({
    mutationFn: () =>
      mkm().report.revokeCustodian({
        id: c.id,
        confirm: true,
        ...(reason.trim() ? { reason: reason.trim() } : {}),
      }),
    onSuccess: () => {
      setOpen(false);
      refresh();
    },
  });
  return (
    <AlertDialog.Root
      open={open}
      onOpenChange={(next) => {
        if (revoke.isPending) return;
        setOpen(next);
        setReason('');
        revoke.reset();
      }}
    >
      <AlertDialog.Trigger asChild>
        <button type="button" className="link-button" aria-label={`Revoke ${c.name}`}>
          Revoke…
        </button>
      </AlertDialog.Trigger>
      <AlertDialog.Portal>
        <AlertDialog.Overlay className="overlay" />
        <AlertDialogContent className="dialog">
          <form
            onSubmit={(e) => {
              e.preventDefault();
              revoke.mutate();
            }}
          >
            <AlertDialog.Title className="dialog-title">Revoke {c.name}?</AlertDialog.Title>
            <AlertDialog.Description>
              {c.name} ({c.role}) no longer counts as a key custodian. The acknowledgement stays on record as
              revoked. Change the token PINs they knew.
            </AlertDialog.Description>
            <div className="field">
              <label htmlFor="revoke-reason">Reason (optional)</label>
              <input
                id="revoke-reason"
                value={reason}
                onChange={(e) => setReason(e.target.value)}
                maxLength={200}
                placeholder="e.g. left the company"
              />
            </div>
            {revoke.error && <ErrorNotice error={revoke.error} />}
            <DialogActions
              kind="alert"
              pending={revoke.isPending}
              action={{ label: 'Revoke', pendingLabel: 'Revoking…', tone: 'danger', type: 'submit' }}
            />
          </form>
        </AlertDialogContent>
      </AlertDialog.Portal>
    </AlertDialog.Root>
  );
}
