import type { ReactNode } from 'react';
import { mkm } from '../../api.dom';
import { Facts } from '../../ui/bits.dom';
import { fpGroups, when } from '../format.dom';
import type { CardProps } from './card.dom';
import { PinnedKeyCard } from './PinnedKeyCard.dom';

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
      )}
      empty="No signing key pinned yet: key sets cannot be checked. Fetch it (the next sync does), or import its PEM."
      importSummary="Import the signing key’s PEM by hand"
      importLabel="Import signing key"
      pemInput={(pem, setPem) => (
        <textarea
          aria-label="Gateway signing key (PEM)"
          className="gw-pem"
          spellCheck={false}
          maxLength={16_384}
          placeholder="-----BEGIN PUBLIC KEY-----"
          value={pem}
          onChange={(e) => setPem(e.target.value)}
        />
      )}
      profile={profile}
      failure={failure}
      onChange={onChange}
    />
  );
}
