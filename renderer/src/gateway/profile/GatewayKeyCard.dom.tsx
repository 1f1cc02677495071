import { useMutation } from '@tanstack/react-query';
import { useId, useState } from 'react';
import type { GatewayPublicKeyView } from '../../../../shared/contract/gateway.std';
import { mkm } from '../../api.dom';
import { ErrorNotice, Facts } from '../../ui/bits.dom';
import { fpGroups, when } from '../format.dom';
import type { CardProps } from './card.dom';
import { ConfirmRotation } from './ConfirmRotation.dom';
import { PinConfirmation } from './PinConfirmation.dom';
import { PinnedKeyTitle } from './PinnedKeyCard.dom';

function KeyFacts({ k, label }: { k: GatewayPublicKeyView; label: string }) {
  return (
    <Facts
      label={label}
      rows={[
        [
          'Fingerprint (SPKI SHA-256)',
          <span className="gw-fp" data-testid="gateway-key-fingerprint">
            {fpGroups(k.spkiSha256)}
          </span>,
        ],
        ['Key id', k.keyId ?? '(imported PEM)'],
        ['Padding', k.padding],
        ['Source', k.source === 'fetched' ? 'fetched from the gateway' : 'imported by hand'],
        ['Pinned since', when(k.seenAt)],
      ]}
    />
  );
}
export function GatewayKeyCard({ profile, status, failure, onChange }: CardProps) {
  const ids = useId();
  const [pem, setPem] = useState('');
  const fetchKey = useMutation({
    mutationFn: () => mkm().gateway.fetchKey({ profileId: profile.id }),
    onSettled: onChange,
  });
  const importPem = useMutation({
    mutationFn: () => mkm().gateway.importKeyPem({ profileId: profile.id, pem }),
    onSuccess: () => setPem(''),
    onSettled: onChange,
  });
  const { pinned, pending } = status.gatewayKey;
  return (
    <section className="card" aria-label="Gateway public key">
      <PinnedKeyTitle
        title="Gateway public key"
        status={status.gatewayKey.status}
        confirmed={!!pinned?.confirmed}
        fetchLabel="Fetch key"
        fetching={fetchKey.isPending}
        onFetch={() => fetchKey.mutate()}
      />
      {pending && pinned && (
        <div className="notice notice-warning" role="alert">
          <span>
            <strong>The gateway now serves a different public key.</strong> The pinned key stays in use until
            you compare the fingerprints with the gateway operator and confirm.
          </span>
          <ConfirmRotation
            which="encryption"
            profile={profile}
            pinned={pinned}
            pending={pending}
            onDone={onChange}
          />
        </div>
      )}
      {pinned ? (
        <>
          <KeyFacts k={pinned} label="Pinned gateway key" />
          <PinConfirmation which="encryption" profile={profile} pinned={pinned} onDone={onChange} />
        </>
      ) : (
        <p className="empty">
          No gateway key pinned yet. Fetch it, or import the PEM file the gateway gave you.
        </p>
      )}
      {fetchKey.error && failure(fetchKey.error)}
      <details>
        <summary>Import a PEM file by hand (a gateway without a key endpoint)</summary>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (pem.trim()) importPem.mutate();
          }}
        >
          <div className="field">
            <label htmlFor={`${ids}-pem`}>Gateway public key (PEM)</label>
            <textarea
              id={`${ids}-pem`}
              className="gw-pem"
              spellCheck={false}
              maxLength={16_384}
              placeholder="-----BEGIN PUBLIC KEY-----"
              value={pem}
              onChange={(e) => setPem(e.target.value)}
            />
          </div>
          <input
            type="file"
            accept=".pem,.crt,.cer,text/plain"
            aria-label="Read the PEM from a file"
            onChange={(e) => {
              const file = e.target.files?.[0];
              if (file) void file.text().then(setPem);
            }}
          />
          <div className="button-row">
            <button type="submit" disabled={!pem.trim() || importPem.isPending}>
              {importPem.isPending ? 'Importing…' : 'Import PEM'}
            </button>
          </div>
          {importPem.error && <ErrorNotice error={importPem.error} />}
          {importPem.isSuccess && (
            <p role="status" className="muted">
              Imported. A different key than the pinned one waits for your confirmation above.
            </p>
          )}
        </form>
      </details>
    </section>
  );
}
