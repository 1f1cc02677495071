import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { GatewayProfileView } from '../../../shared/contract.std';
import { asMkmError, mkm } from '../api.dom';
import { Badge, ErrorNotice, Facts, Loading } from '../ui/bits.dom';
import { fpGroups, gatewayKeys, needsPassword } from './format.dom';
import { PasswordDialog } from './PasswordDialog.dom';
import { GatewayKeyCard } from './profile/GatewayKeyCard.dom';
import { KeySetCard } from './profile/KeySetCard.dom';
import { RemoveProfile } from './profile/RemoveProfile.dom';
import { SigningKeyCard } from './profile/SigningKeyCard.dom';
import { SyncCard } from './profile/SyncCard.dom';
import { TransportKeysCard } from './profile/TransportKeysCard.dom';

/** One profile: connection and sync, the pinned gateway key, transport keys, key set, ping. */
export function ProfilePanel({ profile, onRemoved }: { profile: GatewayProfileView; onRemoved: () => void }) {
  const queryClient = useQueryClient();
  const [askPassword, setAskPassword] = useState(false);
  const status = useQuery({
    queryKey: gatewayKeys.status(profile.id),
    queryFn: () => mkm().gateway.status({ profileId: profile.id }),
  });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: gatewayKeys.status(profile.id) });
  const passwordButton = (
    <button type="button" onClick={() => setAskPassword(true)}>
      Enter password…
    </button>
  );
  /** An error notice that offers the password dialog when the password is what is missing. */
  const failure = (error: unknown) => (
    <ErrorNotice error={error}>{needsPassword(asMkmError(error)) && <> {passwordButton}</>}</ErrorNotice>
  );

  return (
    <section className="stack" aria-label={`Gateway profile ${profile.name}`}>
      <div className="card">
        <div className="card-title">
          <h2>{profile.name}</h2>
          {profile.demo && (
            <Badge tone="demo" title="The app's local sandbox gateway on 127.0.0.1; it protects nothing">
              DEMO
            </Badge>
          )}
          <span className="push-right button-row">
            <button type="button" onClick={() => setAskPassword(true)}>
              Password…
            </button>
            <RemoveProfile profile={profile} onRemoved={onRemoved} />
          </span>
        </div>
        <Facts
          label="Profile"
          rows={[
            ['Base URL', <span className="break">{profile.baseUrl}</span>],
            ['User', profile.username],
            [
              'Password',
              `${profile.passwordKnown ? 'available to the app' : 'not entered yet'}${
                profile.passwordEnv ? ` (may come from $${profile.passwordEnv})` : ''
              }`,
            ],
            [
              'TLS pin',
              profile.tlsPinSha256 ? (
                <span className="gw-fp">{fpGroups(profile.tlsPinSha256)}</span>
              ) : (
                <Badge tone="warn">none: the certificate must be publicly trusted</Badge>
              ),
            ],
            [
              'Schemes',
              [
                profile.cse ? `client-side encryption (${profile.cse})` : null,
                profile.keyRolling ? 'key rolling' : null,
              ]
                .filter(Boolean)
                .join(', ') || 'none',
            ],
          ]}
        />
      </div>
      <PasswordDialog profile={profile} open={askPassword} onOpenChange={setAskPassword} onDone={refresh} />
      {status.isPending && <Loading />}
      {status.error && <ErrorNotice error={status.error} onRetry={() => void status.refetch()} />}
      {status.data && (
        <>
          <SyncCard profile={profile} status={status.data} failure={failure} onChange={refresh} />
          <GatewayKeyCard profile={profile} status={status.data} failure={failure} onChange={refresh} />
          {(profile.keyRolling || status.data.signingKey.status !== 'none') && (
            <SigningKeyCard profile={profile} status={status.data} failure={failure} onChange={refresh} />
          )}
          {profile.keyRolling && (
            <>
              <TransportKeysCard
                profile={profile}
                status={status.data}
                failure={failure}
                onChange={refresh}
              />
              <KeySetCard profile={profile} status={status.data} failure={failure} onChange={refresh} />
            </>
          )}
        </>
      )}
    </section>
  );
}
