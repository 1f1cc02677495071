import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { mkm } from '../api.dom';
import { Badge, ErrorNotice, Loading } from '../ui/bits.dom';
import { AddProfileDialog } from './AddProfileDialog.dom';
import { gatewayKeys } from './format.dom';
import { ExchangeCard } from './ExchangeCard.dom';
import { ProfilePanel } from './ProfilePanel.dom';
import './gateway.css';

/**
 * The Gateway section: the admin's gateway profiles side by side, and for the chosen one its
 * connection, pinned gateway key (a rotation waits for confirmation), transport keys on the
 * token and at the gateway, key set and secure ping. With no profile, an unpackaged app offers
 * the local demo sandbox.
 */
export function GatewayScreen() {
  const queryClient = useQueryClient();
  const profiles = useQuery({ queryKey: gatewayKeys.profiles, queryFn: () => mkm().gateway.listProfiles() });
  const sandbox = useQuery({ queryKey: gatewayKeys.sandbox, queryFn: () => mkm().gateway.embeddedSandbox() });
  const [chosenId, setChosenId] = useState<string | null>(null);
  const [rotation, setRotation] = useState<{ profileId: string; fingerprint: string } | null>(null);

  const startSandbox = useMutation({
    mutationFn: () => mkm().gateway.startEmbeddedSandbox(),
    onSuccess: (s) => {
      if (s.profileId) setChosenId(s.profileId);
    },
    onSettled: () => void queryClient.invalidateQueries({ queryKey: gatewayKeys.all }),
  });

  // A rotation seen anywhere (a sync here, the CLI, the console) shows up at once.
  useEffect(
    () =>
      mkm().events.on('gateway.rotationPending', (event) => {
        setRotation(event);
        void queryClient.invalidateQueries({ queryKey: gatewayKeys.status(event.profileId) });
      }),
    [queryClient],
  );

  const list = profiles.data ?? [];
  const chosen = list.find((p) => p.id === chosenId) ?? list[0] ?? null;

  return (
    <div className="stack">
      <div className="section-head">
        <p className="muted">
          Payment gateways this computer talks to. Passwords are never kept in clear; key sets live only in
          the token.
        </p>
        <AddProfileDialog onAdded={(p) => setChosenId(p.id)} />
      </div>
      {/* The shown profile has its own banner and confirm button; this one points at another. */}
      {rotation && rotation.profileId !== chosen?.id && list.some((p) => p.id === rotation.profileId) && (
        <div className="notice notice-warning" role="alert">
          <span>
            Gateway “{list.find((p) => p.id === rotation.profileId)?.name}” now serves a new public key; it
            waits for your confirmation.
          </span>
          <button
            type="button"
            className="push-right"
            onClick={() => (setChosenId(rotation.profileId), setRotation(null))}
          >
            Show
          </button>
        </div>
      )}
      {profiles.isPending && <Loading />}
      {profiles.error && <ErrorNotice error={profiles.error} onRetry={() => void profiles.refetch()} />}
      {profiles.isSuccess && list.length === 0 && (
        <div className="empty">
          <p>No gateway profile yet.</p>
          {sandbox.data?.available ? (
            <>
              <p>
                Try the app against the local sandbox gateway (a demo on 127.0.0.1 with its own keys, stopped
                when the app closes), or add your gateway’s profile.
              </p>
              <button
                type="button"
                className="primary"
                disabled={startSandbox.isPending}
                onClick={() => startSandbox.mutate()}
              >
                {startSandbox.isPending ? 'Starting the sandbox…' : 'Start the local sandbox (demo)'}
              </button>
            </>
          ) : (
            <p>Add the profile of your payment gateway to begin.</p>
          )}
          {startSandbox.error && <ErrorNotice error={startSandbox.error} />}
        </div>
      )}
      {list.length > 0 && (
        <div className="gw-layout">
          <nav aria-label="Gateway profiles">
            <ul className="gw-profiles">
              {list.map((p) => (
                <li key={p.id}>
                  <button
                    type="button"
                    className="gw-profile"
                    aria-current={p.id === chosen?.id}
                    onClick={() => setChosenId(p.id)}
                  >
                    <span>
                      <strong>{p.name}</strong> {p.demo && <Badge tone="demo">DEMO</Badge>}
                    </span>
                    <span className="muted small ellipsis">{p.baseUrl}</span>
                  </button>
                </li>
              ))}
            </ul>
            {sandbox.data?.running && (
              <p className="muted small">Local sandbox running at {sandbox.data.url}</p>
            )}
          </nav>
          {chosen && <ProfilePanel key={chosen.id} profile={chosen} onRemoved={() => setChosenId(null)} />}
        </div>
      )}
      {chosen && (
        <div className="gw-exchange">
          <ExchangeCard key={`x-${chosen.id}`} profileId={chosen.id} />
        </div>
      )}
    </div>
  );
}
