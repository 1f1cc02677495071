import { useState } from 'react';
import { Badge, ErrorNotice, Loading } from '../ui/bits.dom';
import { AdoptPanel } from './AdoptPanel.dom';
import { CreateManagedKeyDialog } from './CreateManagedKeyDialog.dom';
import { day, DUE_TONES, inGrace, primaryOf, PURPOSE_NAMES, STATE_TONES, usesText } from './format.dom';
import { ManagedKeyDetail } from './ManagedKeyDetail.dom';
import { PolicyTable } from './PolicyTable.dom';
import { useDue, useManagedKeys } from './queries.dom';
import './lifecycle.css';

/**
 * The managed keys of the key lifecycle: logical keys with their primary version, state, expiry,
 * uses and what is due; a key's detail with its versions and timeline; creating and adopting.
 */
export function ManagedKeys({ slotId, loggedIn }: { slotId: number; loggedIn: boolean }) {
  const keys = useManagedKeys();
  const due = useDue();
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [panel, setPanel] = useState<'keys' | 'adopt' | 'policies'>('keys');
  const dueById = new Map((due.data?.due ?? []).map((d) => [d.logicalKeyId, d]));
  const selected = keys.data?.find((k) => k.id === selectedId) ?? null;

  return (
    <div className="stack">
      <div className="toolbar">
        <div className="seg" role="group" aria-label="Managed keys view">
          <button type="button" aria-pressed={panel === 'keys'} onClick={() => setPanel('keys')}>
            Keys
          </button>
          <button
            type="button"
            aria-pressed={panel === 'adopt'}
            disabled={!loggedIn}
            title={loggedIn ? undefined : 'Log in to compare the token with the inventory'}
            onClick={() => setPanel('adopt')}
          >
            Unmanaged on token
          </button>
          <button type="button" aria-pressed={panel === 'policies'} onClick={() => setPanel('policies')}>
            Policies
          </button>
        </div>
        <span className="push-right button-row">
          <button
            type="button"
            onClick={() => void Promise.all([keys.refetch(), due.refetch()])}
            disabled={keys.isFetching}
          >
            {keys.isFetching ? 'Refreshing…' : 'Refresh'}
          </button>
          <CreateManagedKeyDialog
            slotId={slotId}
            disabled={!loggedIn}
            onCreated={(k) => {
              setSelectedId(k.id);
              setPanel('keys');
            }}
          />
        </span>
      </div>
      {panel === 'adopt' && loggedIn && <AdoptPanel slotId={slotId} />}
      {panel === 'policies' && <PolicyTable />}
      {panel === 'keys' && (
        <>
          {keys.error && <ErrorNotice error={keys.error} onRetry={() => void keys.refetch()} />}
          {keys.isPending && !keys.error && <Loading>Reading the key inventory…</Loading>}
          {keys.data && keys.data.length === 0 && (
            <p className="empty">
              No managed keys yet.{' '}
              {loggedIn
                ? 'Create one, or adopt a key already on the token.'
                : 'Log in, then create one or adopt a key already on the token.'}
            </p>
          )}
          {keys.data && keys.data.length > 0 && (
            <div className="lc-layout">
              <table className="table lc-keys" aria-label="Managed keys">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Purpose</th>
                    <th scope="col">Primary</th>
                    <th scope="col">State</th>
                    <th scope="col">Expires</th>
                    <th scope="col">Uses</th>
                    <th scope="col">Due</th>
                  </tr>
                </thead>
                <tbody>
                  {keys.data.map((k) => {
                    const primary = primaryOf(k);
                    const d = dueById.get(k.id);
                    const grace = inGrace(k).length;
                    return (
                      <tr key={k.id} className={k.id === selectedId ? 'lc-selected' : undefined}>
                        <th scope="row">
                          <button
                            type="button"
                            className="link-button"
                            onClick={() => setSelectedId(k.id)}
                            aria-pressed={k.id === selectedId}
                          >
                            {k.name}
                          </button>
                        </th>
                        <td>{PURPOSE_NAMES[k.purpose]}</td>
                        <td>
                          {primary ? `v${primary.version}` : '—'}
                          {grace > 0 && <span className="muted small"> (+{grace} in grace)</span>}
                        </td>
                        <td>
                          {primary ? (
                            <Badge tone={STATE_TONES[primary.state]}>{primary.state}</Badge>
                          ) : (
                            <Badge tone="danger">no primary</Badge>
                          )}
                          {k.rotating && <Badge tone="warn">rotating</Badge>}
                        </td>
                        <td>{day(primary?.expiresAt)}</td>
                        <td>{primary ? usesText(primary, k.policy.maxUses) : '—'}</td>
                        <td>
                          {d ? (
                            <Badge tone={DUE_TONES[d.level]}>{d.level}</Badge>
                          ) : (
                            <span className="muted small">—</span>
                          )}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
              {selected ? (
                <ManagedKeyDetail
                  key={selected.id}
                  keyView={selected}
                  due={dueById.get(selected.id) ?? null}
                  loggedIn={loggedIn}
                />
              ) : (
                <p className="empty">
                  Select a key to see its versions, its timeline and what can be done with it.
                </p>
              )}
            </div>
          )}
        </>
      )}
    </div>
  );
}
