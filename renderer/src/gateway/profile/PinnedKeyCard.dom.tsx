import { useMutation } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import type { GatewayPinConfirmation } from '../../../../shared/contract/gateway.std';
import { Badge, ErrorNotice } from '../../ui/bits.dom';
import { fpGroups, when } from '../format.dom';
import type { CardProps } from './card.dom';
import { ConfirmRotation } from './ConfirmRotation.dom';
import { PinConfirmation } from './PinConfirmation.dom';

/** The title row of a pinned gateway key's card: its pin status and a fetch button. */
function PinnedKeyTitle({
  title,
  status,
  confirmed,
  fetchLabel,
  fetching,
  onFetch,
}: {
  title: string;
  status: 'none' | 'pinned' | 'rotation-pending';
  confirmed: boolean;
  fetchLabel: string;
  fetching: boolean;
  onFetch: () => void;
}) {
  return (
    <div className="card-title">
      <h3>{title}</h3>
      {status === 'pinned' &&
        (confirmed ? <Badge tone="ok">pinned</Badge> : <Badge tone="warn">pinned, unconfirmed</Badge>)}
      {status === 'rotation-pending' && <Badge tone="warn">rotation pending</Badge>}
      <button type="button" className="push-right" disabled={fetching} onClick={onFetch}>
        {fetching ? 'Fetching…' : fetchLabel}
      </button>
    </div>
  );
}

/**
 * The facts both pinned keys show, in this order; the encryption key's padding follows its id.
 * `testId` names the fingerprint for the tests of each card.
 */
export function pinnedKeyRows(
  k: { spkiSha256: string; keyId: string | null; source: 'fetched' | 'imported'; seenAt: string },
  testId: string,
  padding?: string,
): [string, ReactNode][] {
  return [
    [
      'Fingerprint (SPKI SHA-256)',
      <span className="gw-fp" data-testid={testId}>
        {fpGroups(k.spkiSha256)}
      </span>,
    ],
    ['Key id', k.keyId ?? '(imported PEM)'],
    ...(padding === undefined ? [] : [['Padding', padding] as [string, ReactNode]]),
    ['Source', k.source === 'fetched' ? 'fetched from the gateway' : 'imported by hand'],
    ['Pinned since', when(k.seenAt)],
  ];
}

/** The PEM of a gateway key, pasted; labelled by an id (a <label>) or an aria-label. */
export function PemTextarea({
  pem,
  setPem,
  ...name
}: {
  pem: string;
  setPem: (pem: string) => void;
  id?: string;
  'aria-label'?: string;
}) {
  return (
    <textarea
      {...name}
      className="gw-pem"
      spellCheck={false}
      maxLength={16_384}
      placeholder="-----BEGIN PUBLIC KEY-----"
      value={pem}
      onChange={(e) => setPem(e.target.value)}
    />
  );
}

interface PinnedKey {
  keyId: string | null;
  spkiSha256: string;
  confirmed: GatewayPinConfirmation | null;
}

/** What tells the gateway's encryption key and its signing key apart on their cards. */
export interface PinnedKeyCardProps<K extends PinnedKey> extends Pick<
  CardProps,
  'profile' | 'failure' | 'onChange'
> {
  which: 'encryption' | 'signing';
  /** The card's heading and its accessible name. */
  title: string;
  keyState: { status: 'none' | 'pinned' | 'rotation-pending'; pinned: K | null; pending: K | null };
  fetchLabel: string;
  fetchKey: () => Promise<unknown>;
  importPem: (pem: string) => Promise<unknown>;
  /** Why a pending rotation matters, above the button that reviews it. */
  rotationNotice: ReactNode;
  facts: (pinned: K) => ReactNode;
  empty: ReactNode;
  importSummary: string;
  importLabel: string;
  /** The PEM's input (and any way to fill it). */
  pemInput: (pem: string, setPem: (pem: string) => void) => ReactNode;
  /** Said once an import went through, if anything. */
  imported?: ReactNode;
}

/**
 * A gateway key pinned on first sight: fetched or imported by hand, confirmed out of band, and
 * replaced only when an admin accepts the gateway's new one.
 */
export function PinnedKeyCard<K extends PinnedKey>({
  which,
  title,
  keyState,
  fetchLabel,
  fetchKey: fetchFn,
  importPem: importFn,
  rotationNotice,
  facts,
  empty,
  importSummary,
  importLabel,
  pemInput,
  imported,
  profile,
  failure,
  onChange,
}: PinnedKeyCardProps<K>) {
  const [pem, setPem] = useState('');
  const fetchKey = useMutation({ mutationFn: fetchFn, onSettled: onChange });
  const importPem = useMutation({
    mutationFn: () => importFn(pem),
    onSuccess: () => setPem(''),
    onSettled: onChange,
  });
  const { pinned, pending } = keyState;
  return (
    <section className="card" aria-label={title}>
      <PinnedKeyTitle
        title={title}
        status={keyState.status}
        confirmed={!!pinned?.confirmed}
        fetchLabel={fetchLabel}
        fetching={fetchKey.isPending}
        onFetch={() => fetchKey.mutate()}
      />
      {pending && pinned && (
        <div className="notice notice-warning" role="alert">
          <span>{rotationNotice}</span>
          <ConfirmRotation
            which={which}
            profile={profile}
            pinned={pinned}
            pending={pending}
            onDone={onChange}
          />
        </div>
      )}
      {pinned ? (
        <>
          {facts(pinned)}
          <PinConfirmation which={which} profile={profile} pinned={pinned} onDone={onChange} />
        </>
      ) : (
        <p className="empty">{empty}</p>
      )}
      {fetchKey.error && failure(fetchKey.error)}
      <details>
        <summary>{importSummary}</summary>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (pem.trim()) importPem.mutate();
          }}
        >
          {pemInput(pem, setPem)}
          <div className="button-row">
            <button type="submit" disabled={!pem.trim() || importPem.isPending}>
              {importPem.isPending ? 'Importing…' : importLabel}
            </button>
          </div>
          {importPem.error && <ErrorNotice error={importPem.error} />}
          {importPem.isSuccess && imported}
        </form>
      </details>
    </section>
  );
}
