import { useId } from 'react';
import { mkm } from '../../api.dom';
import { Facts } from '../../ui/bits.dom';
import type { CardProps } from './card.dom';
import { PemTextarea, PinnedKeyCard, pinnedKeyRows } from './PinnedKeyCard.dom';

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
      facts={(pinned) => (
        <Facts
          label="Pinned gateway key"
          rows={pinnedKeyRows(pinned, 'gateway-key-fingerprint', pinned.padding)}
        />
      )}
      empty="No gateway key pinned yet. Fetch it, or import the PEM file the gateway gave you."
      importSummary="Import a PEM file by hand (a gateway without a key endpoint)"
      importLabel="Import PEM"
      pemInput={(pem, setPem) => (
        <>
          <div className="field">
            <label htmlFor={`${ids}-pem`}>Gateway public key (PEM)</label>
            <PemTextarea id={`${ids}-pem`} pem={pem} setPem={setPem} />
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
