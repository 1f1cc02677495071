import { useMutation } from '@tanstack/react-query';
import { asMkmError, mkm } from '../../api.dom';
import { Badge, Facts } from '../../ui/bits.dom';
import { isOffline, when } from '../format.dom';
import type { CardProps } from './card.dom';

export function SyncCard({ profile, status, failure, onChange }: CardProps) {
  const sync = useMutation({
    mutationFn: () => mkm().gateway.sync({ profileId: profile.id }),
    onSettled: onChange,
  });
  const last = status.lastSync;
  const offline = last && !last.ok && isOffline(last.error);
  return (
    <section className="card" aria-label="Connection">
      <div className="card-title">
        <h3>Connection</h3>
        {last === null ? (
          <Badge>not synced yet</Badge>
        ) : last.ok ? (
          <Badge tone="ok">Reachable</Badge>
        ) : offline ? (
          <Badge tone="warn">OFFLINE</Badge>
        ) : (
          <Badge tone="danger">Sync failed</Badge>
        )}
        <button
          type="button"
          className="push-right primary"
          disabled={sync.isPending}
          onClick={() => sync.mutate()}
        >
          {sync.isPending ? 'Syncing…' : 'Sync now'}
        </button>
      </div>
      {offline && (
        <p className="notice notice-warning" role="status">
          <span>
            <strong>OFFLINE:</strong> {last.error?.message}{' '}
            <code className="code-chip">{last.error?.code}</code> The app keeps working with what the token
            holds; sync again when the gateway is back.
          </span>
        </p>
      )}
      <Facts
        label="Last sync"
        rows={[
          ['Last sync', when(last?.at)],
          [
            'Result',
            last === null
              ? '—'
              : last.ok
                ? 'OK'
                : `failed at ${last.step ?? 'start'}: ${last.error?.message ?? ''} (${last.error?.code ?? 'unknown'})`,
          ],
        ]}
      />
      {sync.error && !isOffline(asMkmError(sync.error)) && failure(sync.error)}
    </section>
  );
}
