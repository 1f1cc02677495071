import * as AlertDialog from '@radix-ui/react-alert-dialog';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import type { LifecycleKeyView, LifecycleVersionView } from '../../../shared/contract.std';
import { mkm } from '../api.dom';
import { AlertDialogContent, Badge, DialogActions, ErrorNotice, Facts, shortId } from '../ui/bits.dom';
import { CompromiseDialog } from './CompromiseDialog.dom';
import { DestroyVersionDialog } from './DestroyVersionDialog.dom';
import {
  day,
  DUE_TONES,
  dueReasonText,
  fingerprintText,
  GATEWAY_STATUS_NAMES,
  primaryOf,
  PURPOSE_NAMES,
  STATE_HELP,
  STATE_TONES,
  usesText,
  type DueItem,
} from './format.dom';
import { useRefreshLifecycle } from './queries.dom';
import { RotateWizard } from './RotateWizard.dom';
import { KeyUsage } from './KeyUsage.dom';
import { Timeline } from './Timeline.dom';
import { managedTypeText, versionName } from '../../../shared/wording.std';

/** One logical key: its policy, its actions, every version (tombstones too) and its timeline. */
export function ManagedKeyDetail({
  keyView,
  due,
  loggedIn,
}: {
  keyView: LifecycleKeyView;
  due: DueItem | null;
  loggedIn: boolean;
}) {
  const primary = primaryOf(keyView);
  const p = keyView.policy;
  return (
    <section className="stack key-details" aria-label={`Managed key ${keyView.name}`}>
      <h2 className="lc-title">
        {keyView.name} {due && <Badge tone={DUE_TONES[due.level]}>{due.level}</Badge>}
        {keyView.rotating && <Badge tone="warn">rotation in progress</Badge>}
      </h2>
      {due && (
        <p className={`notice ${due.level === 'overdue' ? 'notice-error' : 'notice-warning'}`} role="status">
          <span>
            Rotation {due.level}: {due.reasons.map(dueReasonText).join('; ')}.
          </span>
        </p>
      )}
      <Facts
        label="Key"
        rows={[
          ['Purpose', PURPOSE_NAMES[keyView.purpose]],
          ['Type', managedTypeText(keyView.type)],
          ['Primary', primary ? `version ${primary.version}` : 'none'],
          ['Token', keyView.tokenSerial ?? '—'],
          [
            'Policy',
            `crypto-period ${p.cryptoPeriodDays} days · ${p.maxUses === null ? 'no use limit' : `at most ${p.maxUses.toLocaleString()} uses`} · warn ${p.warnDays} days before · grace ${p.graceDays} days`,
          ],
        ]}
      />
      <div className="button-row">
        {keyView.purpose !== 'gateway-public' && <RotateWizard keyView={keyView} disabled={!loggedIn} />}
        {primary && <CompromiseDialog keyView={keyView} version={primary} triggerLabel="Mark compromised…" />}
        {!loggedIn && <span className="muted small">Log in to rotate or replace keys.</span>}
      </div>
      <h3>Versions</h3>
      <table className="table lc-versions" aria-label="Versions">
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">State</th>
            <th scope="col">Dates</th>
            <th scope="col">Check value</th>
            <th scope="col">Uses</th>
            <th scope="col">Gateway</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {keyView.versions.map((v) => (
            <VersionRow key={v.id} keyView={keyView} version={v} />
          ))}
        </tbody>
      </table>
      <KeyUsage keyView={keyView} />
      <Timeline keyView={keyView} />
    </section>
  );
}

function VersionRow({ keyView, version: v }: { keyView: LifecycleKeyView; version: LifecycleVersionView }) {
  const refresh = useRefreshLifecycle();
  const change = useMutation({
    mutationFn: (to: 'suspend' | 'reactivate') => mkm().lifecycle[to]({ versionId: v.id }),
    onSettled: () => void refresh(),
  });
  const rotatingIn = keyView.rotating && v.state === 'pre-activation';
  const dates = [
    `created ${day(v.createdAt)}`,
    v.activatedAt && `active ${day(v.activatedAt)}`,
    v.expiresAt && v.state === 'active' && !v.graceUntil && `expires ${day(v.expiresAt)}`,
    v.graceUntil && v.state === 'active' && `grace until ${day(v.graceUntil)}`,
    v.deactivatedAt && v.state === 'deactivated' && `deactivated ${day(v.deactivatedAt)}`,
    v.compromisedAt && `compromised ${day(v.compromisedAt)}`,
    v.destroyedAt && `destroyed ${day(v.destroyedAt)}`,
  ].filter(Boolean);
  return (
    <tr data-testid={`version-${v.version}`} className={v.state === 'destroyed' ? 'lc-tombstone' : undefined}>
      <th scope="row">
        {/* The person's name for the version; the token label stays for machines (details, --json). */}
        <span title={`Token label: ${v.label}`}>{versionName(keyView.name, v.version)}</span>{' '}
        {v.primary && <Badge tone="ok">primary</Badge>}
      </th>
      <td>
        <Badge tone={STATE_TONES[v.state]} title={STATE_HELP[v.state]}>
          {v.state === 'destroyed' ? 'destroyed (tombstone)' : v.state}
        </Badge>
        {!v.primary && v.state === 'active' && v.graceUntil && <span className="muted small"> in grace</span>}
        {v.missingSince && <Badge tone="danger">missing from token</Badge>}
        {v.destroyPending && <Badge tone="warn">destroy pending</Badge>}
      </td>
      <td className="small">
        <ul className="lc-dates">
          {dates.map((d) => (
            <li key={String(d)}>{d}</li>
          ))}
        </ul>
      </td>
      <td className="mono small">
        {fingerprintText(v)}
        <div className="muted">ID {shortId(v.ckaId ?? '')}</div>
      </td>
      <td>{usesText(v, keyView.policy.maxUses)}</td>
      <td className="small">
        {GATEWAY_STATUS_NAMES[v.gateway.status]}
        {v.gateway.error && <code className="code-chip">{v.gateway.error}</code>}
      </td>
      <td>
        <div className="button-row lc-actions">
          {!v.primary && (v.state === 'active' || v.state === 'suspended') && !rotatingIn && (
            <DeactivateButton keyView={keyView} version={v} />
          )}
          {!v.primary && v.state === 'active' && !rotatingIn && (
            <button type="button" disabled={change.isPending} onClick={() => change.mutate('suspend')}>
              Suspend
            </button>
          )}
          {v.state === 'suspended' && (
            <button type="button" disabled={change.isPending} onClick={() => change.mutate('reactivate')}>
              Reactivate
            </button>
          )}
          {!v.primary && v.state !== 'compromised' && v.state !== 'destroyed' && !rotatingIn && (
            <CompromiseDialog keyView={keyView} version={v} triggerLabel="Compromised…" />
          )}
          {(v.state === 'deactivated' ||
            v.state === 'compromised' ||
            (v.state === 'pre-activation' && !rotatingIn)) &&
            v.ckaId !== null && <DestroyVersionDialog keyView={keyView} version={v} />}
        </div>
        {change.error && <ErrorNotice error={change.error} />}
      </td>
    </tr>
  );
}

function DeactivateButton({
  keyView,
  version,
}: {
  keyView: LifecycleKeyView;
  version: LifecycleVersionView;
}) {
  const [open, setOpen] = useState(false);
  const refresh = useRefreshLifecycle();
  const deactivate = useMutation({
    mutationFn: () => mkm().lifecycle.deactivate({ versionId: version.id }),
    onSuccess: () => setOpen(false),
    onSettled: () => void refresh(),
  });
  return (
    <AlertDialog.Root
      open={open}
      onOpenChange={(next) => {
        if (deactivate.isPending) return;
        setOpen(next);
        deactivate.reset();
      }}
    >
      <AlertDialog.Trigger asChild>
        <button type="button">Deactivate…</button>
      </AlertDialog.Trigger>
      <AlertDialog.Portal>
        <AlertDialog.Overlay className="overlay" />
        <AlertDialogContent className="dialog">
          <AlertDialog.Title className="dialog-title">
            Deactivate version {version.version} of “{keyView.name}”?
          </AlertDialog.Title>
          <AlertDialog.Description>
            It will no longer be used for anything new; data encrypted under it can still be decrypted.
            {version.gateway.status === 'registered' && ' The gateway is told to stop using it.'} A
            deactivated version cannot become active again.
          </AlertDialog.Description>
          {deactivate.error && <ErrorNotice error={deactivate.error} />}
          <DialogActions
            kind="alert"
            pending={deactivate.isPending}
            cancelDisabled={false}
            cancelAutoFocus
            action={{
              label: 'Deactivate',
              tone: 'primary',
              type: 'button',
              onClick: () => deactivate.mutate(),
            }}
          />
        </AlertDialogContent>
      </AlertDialog.Portal>
    </AlertDialog.Root>
  );
}
