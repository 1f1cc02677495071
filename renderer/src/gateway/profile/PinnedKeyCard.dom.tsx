import { Badge } from '../../ui/bits.dom';

/** The title row of a pinned gateway key's card: its pin status and a fetch button. */
export function PinnedKeyTitle({
  title,
  status,
  confirmed,
  fetchLabel,
  fetching,
  onFetch,
}: {
  title: string;
  status: 'none' | 'pinned' | 'rotation-pending';
  confirmed: boolean;
  fetchLabel: string;
  fetching: boolean;
  onFetch: () => void;
}) {
  return (
    <div className="card-title">
      <h3>{title}</h3>
      {status === 'pinned' &&
        (confirmed ? <Badge tone="ok">pinned</Badge> : <Badge tone="warn">pinned, unconfirmed</Badge>)}
      {status === 'rotation-pending' && <Badge tone="warn">rotation pending</Badge>}
      <button type="button" className="push-right" disabled={fetching} onClick={onFetch}>
        {fetching ? 'Fetching…' : fetchLabel}
      </button>
    </div>
  );
}
