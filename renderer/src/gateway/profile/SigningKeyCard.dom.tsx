import type { ReactNode } from 'react';
import { mkm } from '../../api.dom';
import { Facts } from '../../ui/bits.dom';
import { fpGroups, when } from '../format.dom';
import type { CardProps } from './card.dom';
import { PemTextarea, PinnedKeyCard, pinnedKeyRows } from './PinnedKeyCard.dom';

/**
 * Contract 1.1: the key the gateway signs key sets with. A set it does not vouch for is refused,
 * so a rotation here stops the key rolling until the admin confirms it.
 */
export function SigningKeyCard({ profile, status, failure, onChange }: CardProps) {
  const { previous } = status.signingKey;
  return (
    <PinnedKeyCard
      which="signing"
      title="Gateway signing key"
      keyState={status.signingKey}
      fetchLabel="Fetch signing key"
      fetchKey={() => mkm().gateway.fetchSigningKey({ profileId: profile.id })}
      importPem={(pem) => mkm().gateway.importSigningKeyPem({ profileId: profile.id, pem })}
      rotationNotice={
        <>
          <strong>The gateway now signs key sets with a different key.</strong> Key sets are refused until you
          compare the fingerprints with the gateway operator and confirm.
        </>
      }
      facts={(pinned) => (
        <Facts
          label="Pinned signing key"
          rows={[
            ...pinnedKeyRows(pinned, 'signing-key-fingerprint'),
            ...previous.map((p): [string, ReactNode] => [
              `Previous key, accepted until ${when(p.acceptedUntil)}`,
              <span className="gw-fp">{fpGroups(p.spkiSha256)}</span>,
            ]),
          ]}
        />
      )}
      empty="No signing key pinned yet: key sets cannot be checked. Fetch it (the next sync does), or import its PEM."
      importSummary="Import the signing key’s PEM by hand"
      importLabel="Import signing key"
      pemInput={(pem, setPem) => (
        <PemTextarea aria-label="Gateway signing key (PEM)" pem={pem} setPem={setPem} />
      )}
      profile={profile}
      failure={failure}
      onChange={onChange}
    />
  );
}
