import { useId } from 'react';
import type { GatewayPublicKeyView } from '../../../../shared/contract/gateway.std';
import { mkm } from '../../api.dom';
import { Facts } from '../../ui/bits.dom';
import { fpGroups, when } from '../format.dom';
import type { CardProps } from './card.dom';
import { PinnedKeyCard } from './PinnedKeyCard.dom';

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

/** The key card data is encrypted under; a gateway without a key endpoint gives its PEM by hand. */
export function GatewayKeyCard({ profile, status, failure, onChange }: CardProps) {
  const ids = useId();
  return (
    <PinnedKeyCard
      which="encryption"
      title="Gateway public key"
      keyState={status.gatewayKey}
      fetchLabel="Fetch key"
      fetchKey={() => mkm().gateway.fetchKey({ profileId: profile.id })}
      importPem={(pem) => mkm().gateway.importKeyPem({ profileId: profile.id, pem })}
      rotationNotice={
        <>
          <strong>The gateway now serves a different public key.</strong> The pinned key stays in use until
          you compare the fingerprints with the gateway operator and confirm.
        </>
      }
      facts={(pinned) => <KeyFacts k={pinned} label="Pinned gateway key" />}
      empty="No gateway key pinned yet. Fetch it, or import the PEM file the gateway gave you."
      importSummary="Import a PEM file by hand (a gateway without a key endpoint)"
      importLabel="Import PEM"
      pemInput={(pem, setPem) => (
        <>
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
        </>
      )}
      imported={
        <p role="status" className="muted">
          Imported. A different key than the pinned one waits for your confirmation above.
        </p>
      }
      profile={profile}
      failure={failure}
      onChange={onChange}
    />
  );
}
