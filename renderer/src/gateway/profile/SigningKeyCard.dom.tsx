import { useMutation } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { mkm } from '../../api.dom';
import { ErrorNotice, Facts } from '../../ui/bits.dom';
import { fpGroups, when } from '../format.dom';
import type { CardProps } from './card.dom';
import { ConfirmRotation } from './ConfirmRotation.dom';
import { PinConfirmation } from './PinConfirmation.dom';
import { PinnedKeyTitle } from './PinnedKeyCard.dom';

/**
 * Contract 1.1: the key the gateway signs key sets with. A set it does not vouch for is refused,
 * so a rotation here stops the key rolling until the admin confirms it.
 */
export function SigningKeyCard({ profile, status, failure, onChange }: CardProps) {
  const [pem, setPem] = useState('');
  const fetchKey = useMutation({
    mutationFn: () => mkm().gateway.fetchSigningKey({ profileId: profile.id }),
    onSettled: onChange,
  });
  const importPem = useMutation({
    mutationFn: () => mkm().gateway.importSigningKeyPem({ profileId: profile.id, pem }),
    onSuccess: () => setPem(''),
    onSettled: onChange,
  });
  const { pinned, pending, previous } = status.signingKey;
  return (
    <section className="card" aria-label="Gateway signing key">
      <PinnedKeyTitle
        title="Gateway signing key"
        status={status.signingKey.status}
        confirmed={!!pinned?.confirmed}
        fetchLabel="Fetch signing key"
        fetching={fetchKey.isPending}
        onFetch={() => fetchKey.mutate()}
      />
      {pending && pinned && (
        <div className="notice notice-warning" role="alert">
          <span>
            <strong>The gateway now signs key sets with a different key.</strong> Key sets are refused until
            you compare the fingerprints with the gateway operator and confirm.
          </span>
          <ConfirmRotation
            which="signing"
            profile={profile}
            pinned={pinned}
            pending={pending}
            onDone={onChange}
          />
        </div>
      )}
      {pinned ? (
        <Facts
          label="Pinned signing key"
          rows={[
            [
              'Fingerprint (SPKI SHA-256)',
              <span className="gw-fp" data-testid="signing-key-fingerprint">
                {fpGroups(pinned.spkiSha256)}
              </span>,
            ],
            ['Key id', pinned.keyId ?? '(imported PEM)'],
            ['Source', pinned.source === 'fetched' ? 'fetched from the gateway' : 'imported by hand'],
            ['Pinned since', when(pinned.seenAt)],
            ...previous.map((p): [string, ReactNode] => [
              `Previous key, accepted until ${when(p.acceptedUntil)}`,
              <span className="gw-fp">{fpGroups(p.spkiSha256)}</span>,
            ]),
          ]}
        />
      ) : null}
      {pinned ? (
        <PinConfirmation which="signing" profile={profile} pinned={pinned} onDone={onChange} />
      ) : (
        <p className="empty">
          No signing key pinned yet: key sets cannot be checked. Fetch it (the next sync does), or import its
          PEM.
        </p>
      )}
      {fetchKey.error && failure(fetchKey.error)}
      <details>
        <summary>Import the signing key’s PEM by hand</summary>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (pem.trim()) importPem.mutate();
          }}
        >
          <textarea
            aria-label="Gateway signing key (PEM)"
            className="gw-pem"
            spellCheck={false}
            maxLength={16_384}
            placeholder="-----BEGIN PUBLIC KEY-----"
            value={pem}
            onChange={(e) => setPem(e.target.value)}
          />
          <div className="button-row">
            <button type="submit" disabled={!pem.trim() || importPem.isPending}>
              {importPem.isPending ? 'Importing…' : 'Import signing key'}
            </button>
          </div>
          {importPem.error && <ErrorNotice error={importPem.error} />}
        </form>
      </details>
    </section>
  );
}
