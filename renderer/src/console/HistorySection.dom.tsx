import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { COMPOSE_LABELS, type ComposeFieldName } from '../../../shared/console/compose.std';
import { mkm } from '../api.dom';
import { Badge } from '../ui/bits.dom';
import { ConsoleError, consoleKeys } from './console-state.dom';
import { Timestamp } from '../ui/Timestamp.dom';

/**
 * The console's recent work as main keeps it: masked values only, never a clear value nor a
 * hash of one. Kept in memory; on disk too only when the user ticks the box. Clearing asks first.
 */
export function HistorySection() {
  const queryClient = useQueryClient();
  const history = useQuery({
    queryKey: consoleKeys.history,
    queryFn: () => mkm().console.history({ limit: 20 }),
  });
  const [confirming, setConfirming] = useState(false);
  const persistence = useQuery({
    queryKey: [...consoleKeys.history, 'persist'],
    queryFn: () => mkm().console.historyPersistence({}),
  });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: consoleKeys.history });
  const clear = useMutation({
    mutationFn: () => mkm().console.historyClear({ confirm: true }),
    onSettled: () => {
      setConfirming(false);
      refresh();
    },
  });
  const keep = useMutation({
    mutationFn: (on: boolean) => mkm().console.historyPersistence({ persist: on }),
    onSuccess: (r) => queryClient.setQueryData([...consoleKeys.history, 'persist'], r),
  });

  const entries = history.data ?? [];
  return (
    <details className="card">
      <summary>History ({entries.length})</summary>
      <div className="stack">
        <label className="check">
          <input
            type="checkbox"
            checked={persistence.data?.persist ?? false}
            disabled={keep.isPending}
            onChange={(e) => keep.mutate(e.target.checked)}
          />
          Keep the history on disk too (masked values only)
        </label>
        {keep.isError && <ConsoleError error={keep.error} />}
        {history.isError && <ConsoleError error={history.error} onRetry={refresh} />}
        {entries.length === 0 ? (
          <p className="muted small">Nothing yet.</p>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">What</th>
                <th scope="col">Fields (masked)</th>
                <th scope="col">Outcome</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((h) => (
                <tr key={h.id}>
                  <td>
                    <Timestamp at={h.at} part="time" />
                  </td>
                  <td>
                    {h.kind}
                    {h.scheme ? ` (${h.scheme})` : ''}
                    <span className="block muted small">{h.summary}</span>
                  </td>
                  <td>
                    {(Object.entries(h.fields) as [ComposeFieldName, { masked: string }][]).map(([f, v]) => (
                      <span key={f} className="block small">
                        {COMPOSE_LABELS[f]} <code>{v.masked}</code>
                      </span>
                    ))}
                  </td>
                  <td>
                    {h.outcome === 'ok' ? (
                      <Badge tone="ok">ok</Badge>
                    ) : (
                      <Badge tone="warn">{h.outcome}</Badge>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <div className="button-row">
          <button type="button" onClick={refresh}>
            Refresh
          </button>
          {confirming ? (
            <span role="alert" className="button-row">
              Forget {entries.length} entries, here and on disk?
              <button
                type="button"
                className="danger"
                onClick={() => clear.mutate()}
                disabled={clear.isPending}
              >
                Forget them
              </button>
              <button type="button" onClick={() => setConfirming(false)}>
                Keep
              </button>
            </span>
          ) : (
            <button type="button" disabled={entries.length === 0} onClick={() => setConfirming(true)}>
              Clear history…
            </button>
          )}
        </div>
      </div>
    </details>
  );
}
