import { useMutation, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { mkm } from '../api.dom';
import { ErrorNotice } from '../ui/bits.dom';

/**
 * A token that stops answering in the middle of long work (a key generation, a rotation). Main
 * says so on the operation's `progress` events (phase `waiting`, repeated every second; `answered`
 * or any later step ends it) and in `app.status` (`hsm.waiting`); `tokens.cancel` abandons the
 * call and restarts the token connection.
 */

/** The operation's "Waiting on the token" message while it lasts, else null. */
export function useTokenWait(operationId: string | null): string | null {
  const [wait, setWait] = useState<{ id: string; message: string | null } | null>(null);
  useEffect(() => {
    if (!operationId) return;
    return mkm().events.on('progress', (p) => {
      if (p.operationId !== operationId) return;
      setWait({ id: operationId, message: p.phase === 'waiting' ? p.message : null });
    });
  }, [operationId]);
  return wait && wait.id === operationId ? wait.message : null;
}

/** The waiting message and a Cancel for the operation, shown only while the token does not answer. */
export function TokenWaitNotice({ operationId, message }: { operationId: string; message: string | null }) {
  const cancel = useMutation({ mutationFn: () => mkm().tokens.cancel({ operationId }) });
  if (message === null && !cancel.error) return null;
  return (
    <div className="notice notice-warning" data-testid="token-wait">
      {message !== null && (
        <span role="status" aria-live="polite">
          {message}
        </span>
      )}
      {message !== null && (
        <button
          type="button"
          className="danger-outline push-right"
          disabled={cancel.isPending || cancel.data?.cancelled === true}
          onClick={() => cancel.mutate()}
        >
          {cancel.isPending || cancel.data?.cancelled ? 'Cancelling…' : 'Cancel'}
        </button>
      )}
      {cancel.error && <ErrorNotice error={cancel.error} />}
    </div>
  );
}

/** How often the header asks main whether a token call is waiting (until main pushes it). */
const POLL_MS = 2000;

/** The header's word on it: any host call waiting on the token now, from `app.status`. */
export function TokenWaitingBadge() {
  const status = useQuery({
    queryKey: ['app.status'],
    queryFn: () => mkm().app.status(),
    refetchInterval: POLL_MS,
  });
  const waiting = status.data?.hsm.waiting ?? [];
  if (waiting.length === 0) return null;
  const longest = waiting[0]!;
  const seconds = Math.floor(longest.waitingMs / 1000);
  return (
    <span
      className="badge badge-warn"
      role="status"
      data-testid="token-waiting-badge"
      title={waiting
        .map((w) => `${w.method}${w.channel ? ` (${w.channel})` : ''}: ${Math.floor(w.waitingMs / 1000)} s`)
        .join('\n')}
    >
      Token not answering: {longest.method} for {seconds} s
      {waiting.length > 1 ? ` (+${waiting.length - 1} more)` : ''}
    </span>
  );
}
