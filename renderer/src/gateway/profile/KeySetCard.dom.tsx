import { useMutation } from '@tanstack/react-query';
import { mkm } from '../../api.dom';
import { Facts } from '../../ui/bits.dom';
import { when } from '../format.dom';
import type { CardProps } from './card.dom';

export function KeySetCard({ profile, status, failure, onChange }: CardProps) {
  const ping = useMutation({
    mutationFn: () => mkm().gateway.ping({ profileId: profile.id }),
    onSettled: onChange,
  });
  const set = status.keySet;
  return (
    <section className="card" aria-label="Key set and secure ping">
      <div className="card-title">
        <h3>Current key set</h3>
        <button type="button" className="push-right" disabled={ping.isPending} onClick={() => ping.mutate()}>
          {ping.isPending ? 'Pinging…' : 'Secure ping'}
        </button>
      </div>
      {set ? (
        <Facts
          label="Current key set"
          rows={[
            [
              'Set id',
              <span className="mono" data-testid="key-set-id">
                {set.setId}
              </span>,
            ],
            ['Wrapped under', <span className="mono">{set.wrappingKeyId}</span>],
            ['Expires', when(set.expiresAt)],
            [
              'Used',
              set.inToken
                ? 'no: it carries the next message, once'
                : 'recorded by an earlier run and no longer in the token; the next message asks for a fresh set',
            ],
          ]}
        />
      ) : (
        <p className="empty">No key set yet. Sync, register a transport key, or ping to get one.</p>
      )}
      {ping.error && failure(ping.error)}
      {ping.data && (
        <p role="status" className="notice notice-info" data-testid="ping-result">
          <span>
            <strong>Pong</strong> from the gateway at {when(ping.data.serverTime)} under key set{' '}
            <span className="mono">{ping.data.setId}</span>;{' '}
            {'refused' in ping.data.nextKeySet
              ? `the next set was refused (${ping.data.nextKeySet.refused}).`
              : `next set ${ping.data.nextKeySet.setId} is in the token.`}
          </span>
        </p>
      )}
    </section>
  );
}
