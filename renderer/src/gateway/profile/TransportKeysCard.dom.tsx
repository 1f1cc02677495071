import { useMutation, useQueries, useQuery } from '@tanstack/react-query';
import { useId, useState } from 'react';
import type { GatewayMerchantKeyView } from '../../../../shared/contract/gateway.std';
import type { ObjectInfo } from '../../../../shared/tokens.std';
import { mkm } from '../../api.dom';
import { useCapabilityBlock } from '../../tokens/capabilityGate.dom';
import { tokenLabel, useTokens } from '../../tokens/TokenContext.dom';
import { Badge, ErrorNotice } from '../../ui/bits.dom';
import { fpGroups, when } from '../format.dom';
import type { CardProps } from './card.dom';

interface Row {
  keyId: string;
  token: ObjectInfo | null;
  gateway: GatewayMerchantKeyView | null;
}

export function TransportKeysCard({ profile, status, failure, onChange }: CardProps) {
  const ids = useId();
  const { activeSlot, openLogin } = useTokens();
  const loggedIn = Boolean(activeSlot?.session.loggedIn);
  const tokenKeys = useQuery({
    queryKey: ['keys', 'list', activeSlot?.slotId, 'gateway-rsa'],
    queryFn: () => mkm().keys.list({ slotId: activeSlot!.slotId, class: 'private' }),
    enabled: loggedIn,
    select: (objects) => objects.filter((o) => o.keyType === 'rsa' && (o.bits ?? 0) >= 2048),
  });
  // The token side's own fingerprint of each key pair: the gateway's must be the same key.
  const tokenFingerprints = useQueries({
    queries: (tokenKeys.data ?? []).slice(0, 50).map((k) => ({
      queryKey: ['keys', 'exportPublic', activeSlot?.slotId, k.id],
      queryFn: () => mkm().keys.exportPublic({ slotId: activeSlot!.slotId, id: k.id, format: 'pem' }),
      select: (r: { spkiSha256: string }) => r.spkiSha256,
      staleTime: Infinity,
    })),
  });
  const tokenFp = new Map(
    (tokenKeys.data ?? []).slice(0, 50).map((k, i) => [k.id, tokenFingerprints[i]?.data ?? null] as const),
  );
  const [chosen, setChosen] = useState('');
  const blocked = useCapabilityBlock(activeSlot?.slotId ?? null, 'keyset-unwrap');
  const register = useMutation({
    mutationFn: (keyId: string) =>
      mkm().gateway.registerTransportKey({ profileId: profile.id, slotId: activeSlot!.slotId, keyId }),
    onSettled: onChange,
  });

  // The gateway's own list from the last sync is the authority; our records fill in between syncs.
  const atGateway = status.lastSync?.merchantKeys ?? status.merchantKeys;
  const rows = new Map<string, Row>();
  for (const k of tokenKeys.data ?? []) rows.set(k.id, { keyId: k.id, token: k, gateway: null });
  for (const g of atGateway) {
    const row = rows.get(g.keyId) ?? { keyId: g.keyId, token: null, gateway: null };
    row.gateway = {
      ...g,
      label: g.label ?? status.merchantKeys.find((m) => m.keyId === g.keyId)?.label ?? null,
    };
    rows.set(g.keyId, row);
  }
  const list = [...rows.values()];
  const registrable = (tokenKeys.data ?? []).filter(
    (k) => !atGateway.some((g) => g.keyId === k.id && g.status === 'retired'),
  );

  return (
    <section className="card" aria-label="Transport keys">
      <div className="card-title">
        <h3>Merchant transport keys</h3>
        <span className="muted small">the token’s RSA keys the gateway wraps key sets under</span>
      </div>
      {!loggedIn && (
        <p className="notice notice-info">
          <span>
            Log in to {activeSlot ? tokenLabel(activeSlot) : 'a token'} to see its keys and register one.
          </span>
          {activeSlot && (
            <button type="button" className="push-right" onClick={() => openLogin(activeSlot.slotId)}>
              Log in…
            </button>
          )}
        </p>
      )}
      {tokenKeys.error && <ErrorNotice error={tokenKeys.error} />}
      {list.length === 0 ? (
        <p className="empty">No transport key yet: register an RSA key pair of the token below.</p>
      ) : (
        <table className="table gw-table" aria-label="Transport keys on the token and at the gateway">
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">On this token</th>
              <th scope="col">At the gateway</th>
              <th scope="col">Wrapping</th>
              <th scope="col">Fingerprint (SPKI SHA-256)</th>
            </tr>
          </thead>
          <tbody>
            {list.map((r) => (
              <tr key={r.keyId}>
                <th scope="row">
                  {r.token?.label ?? r.gateway?.label ?? '(unnamed)'}
                  <div className="muted small mono">{r.keyId}</div>
                </th>
                <td>
                  {r.token ? (
                    <Badge tone="ok">present</Badge>
                  ) : (
                    <Badge tone={loggedIn ? 'warn' : 'neutral'}>
                      {loggedIn ? 'not on this token' : 'log in to see'}
                    </Badge>
                  )}
                </td>
                <td>
                  {r.gateway ? (
                    <>
                      <Badge tone={r.gateway.status === 'active' ? 'ok' : 'neutral'}>
                        {r.gateway.status}
                      </Badge>
                      <div className="muted small">
                        registered {when(r.gateway.registeredAt)}
                        {r.gateway.retiredAt && `, retired ${when(r.gateway.retiredAt)}`}
                      </div>
                    </>
                  ) : (
                    <Badge>not registered</Badge>
                  )}
                </td>
                <td>{r.gateway?.wrapping ?? '—'}</td>
                <td>
                  <Fingerprints
                    token={tokenFp.get(r.keyId) ?? null}
                    gateway={r.gateway?.spkiSha256 ?? null}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {loggedIn && (
        <form
          className="button-row"
          onSubmit={(e) => {
            e.preventDefault();
            if (chosen) register.mutate(chosen);
          }}
        >
          <label htmlFor={`${ids}-key`}>Register transport key</label>
          <select id={`${ids}-key`} value={chosen} onChange={(e) => setChosen(e.target.value)}>
            <option value="">Choose a token RSA key…</option>
            {registrable.map((k) => (
              <option key={k.id} value={k.id}>
                {k.label || '(no label)'} · RSA-{k.bits} · {k.id.slice(0, 12)}
              </option>
            ))}
          </select>
          <button
            type="submit"
            disabled={!chosen || register.isPending || blocked !== null}
            title={blocked?.message}
          >
            {register.isPending ? 'Registering…' : 'Register'}
          </button>
        </form>
      )}
      {registrable.length === 0 && loggedIn && tokenKeys.isSuccess && (
        <p className="muted small">
          The token has no RSA key pair of 2048 bits or more: generate one for the purpose “Gateway transport”
          in Keys.
        </p>
      )}
      {blocked && (
        <p className="notice notice-warn small" data-testid="capability-blocked">
          {blocked.message} <code className="code-chip">CAPABILITY_MISSING</code>
        </p>
      )}
      {register.error && failure(register.error)}
      {register.data && (
        <p role="status" className="notice notice-info">
          <span>
            {register.data.created ? 'Registered' : 'Already registered'} {register.data.keyId} with{' '}
            {register.data.wrapping} (the strongest the token can unwrap).{' '}
            {'refused' in register.data.keySet
              ? `The first key set was refused (${register.data.keySet.refused}); the next message asks for a fresh one.`
              : `First key set ${register.data.keySet.setId} installed in the token.`}
          </span>
        </p>
      )}
    </section>
  );
}

/** One fingerprint when both sides agree; both, flagged, when they do not. */
function Fingerprints({ token, gateway }: { token: string | null; gateway: string | null }) {
  if (token && gateway && token !== gateway) {
    return (
      <div role="alert">
        <Badge tone="danger">different keys</Badge>
        <div className="gw-fp">token {fpGroups(token)}</div>
        <div className="gw-fp">gateway {fpGroups(gateway)}</div>
      </div>
    );
  }
  const one = token ?? gateway;
  if (!one) return <>—</>;
  return (
    <span className="gw-fp">
      {fpGroups(one)}
      {token && gateway && (
        <>
          {' '}
          <Badge tone="ok" title="The gateway holds exactly the token's public key">
            same on both sides
          </Badge>
        </>
      )}
    </span>
  );
}
