import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { CapabilityName, SlotSummary } from '../../../shared/tokens.std';
import { CAPABILITY_LABELS } from '../../../shared/capability-gate.std';
import { CAPABILITY_NAMES } from '../../../shared/tokens.std';
import { mkm } from '../api.dom';
import { Badge, ErrorNotice, Loading } from '../ui/bits.dom';
import { tokenKeys, tokenLabel } from './TokenContext.dom';
import { Timestamp } from '../ui/Timestamp.dom';

const NAMES: Record<CapabilityName, string> = CAPABILITY_LABELS;

/**
 * What the token really does, found by trying (the main process caches the answer per model
 * and firmware). Probing generates temporary keys, so it runs when the admin asks.
 */
export function Capabilities({ slot }: { slot: SlotSummary }) {
  const queryClient = useQueryClient();
  const [requested, setRequested] = useState(false);
  const caps = useQuery({
    queryKey: tokenKeys.capabilities(slot.slotId),
    queryFn: () => mkm().tokens.capabilities({ slotId: slot.slotId }),
    enabled: requested,
    staleTime: Infinity,
  });
  const refresh = async () => {
    const fresh = await mkm().tokens.capabilities({ slotId: slot.slotId, refresh: true });
    queryClient.setQueryData(tokenKeys.capabilities(slot.slotId), fresh);
  };
  const [refreshing, setRefreshing] = useState(false);
  const [refreshError, setRefreshError] = useState<unknown>(null);
  const data = caps.data;
  const missing = data ? CAPABILITY_NAMES.filter((n) => !data.capabilities[n].supported).length : 0;

  return (
    <section className="card" aria-labelledby={`caps-${slot.slotId}`}>
      <h3 id={`caps-${slot.slotId}`}>Capabilities — {tokenLabel(slot)}</h3>
      {!requested && !data && (
        <>
          <p className="muted">
            Find out what this token really does by trying each operation on temporary keys (RSA-4096
            generation can take a minute on a smartcard). The answer is remembered for this model and
            firmware.
          </p>
          <button type="button" onClick={() => setRequested(true)}>
            Check capabilities
          </button>
        </>
      )}
      {caps.isFetching && <Loading>Trying each operation on the token…</Loading>}
      {caps.error && <ErrorNotice error={caps.error} onRetry={() => void caps.refetch()} />}
      {refreshError ? <ErrorNotice error={refreshError} /> : null}
      {data && (
        <>
          <p>
            {missing === 0 ? (
              <Badge tone="ok">Everything mkm needs is supported</Badge>
            ) : (
              <Badge tone="warn">{missing} missing</Badge>
            )}{' '}
            <span className="muted small">
              Best OAEP unwrap: {data.bestOaepUnwrap ?? 'none'} · checked <Timestamp at={data.probedAt} />
              {data.cached ? ' (remembered)' : ''}
            </span>
          </p>
          <table className="table caps">
            <thead>
              <tr>
                <th scope="col">Operation</th>
                <th scope="col">Supported</th>
                <th scope="col">Why not</th>
              </tr>
            </thead>
            <tbody>
              {CAPABILITY_NAMES.map((n) => {
                const c = data.capabilities[n];
                return (
                  <tr key={n}>
                    <th scope="row">{NAMES[n]}</th>
                    <td>{c.supported ? <Badge tone="ok">Yes</Badge> : <Badge tone="danger">No</Badge>}</td>
                    <td className="small">{c.reason ?? ''}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <button
            type="button"
            disabled={refreshing}
            onClick={() => {
              setRefreshing(true);
              setRefreshError(null);
              refresh()
                .catch(setRefreshError)
                .finally(() => setRefreshing(false));
            }}
          >
            {refreshing ? 'Checking…' : 'Check again'}
          </button>
        </>
      )}
    </section>
  );
}
