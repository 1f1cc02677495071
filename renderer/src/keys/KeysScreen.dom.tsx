import { useQuery } from '@tanstack/react-query';
import { useDeferredValue, useMemo, useState } from 'react';
import { ManagedKeys } from '../lifecycle/ManagedKeys.dom';
import type { ObjectInfo } from '../../../shared/tokens.std';
import { mkm } from '../api.dom';
import { tokenLabel, useTokens } from '../tokens/TokenContext.dom';
import { DemoBadge, ErrorNotice, Loading } from '../ui/bits.dom';
import { GenerateKeyDialog } from './GenerateKeyDialog.dom';
import { KeyDetails } from './KeyDetails.dom';
import { filterRows, KeyList, sortRows, type Sort } from './KeyList.dom';
import { sameObject } from './keyFormat.dom';
import { useGeneration } from './useGeneration.dom';

type Ref = Pick<ObjectInfo, 'id' | 'class'>;

export function KeysScreen() {
  const { activeSlot, isDemoSlot, openLogin, slots } = useTokens();
  const [view, setView] = useState<'objects' | 'managed'>('objects');
  if (slots.isPending && slots.fetchStatus === 'fetching') return <Loading>Looking for tokens…</Loading>;
  if (slots.error) return <ErrorNotice error={slots.error} onRetry={() => void slots.refetch()} />;
  if (!activeSlot?.token?.flags.tokenInitialized) {
    return (
      <p className="empty">
        No initialized token to show keys from. Choose a library and a token under <strong>Tokens</strong>.
      </p>
    );
  }
  const loggedIn = activeSlot.session.loggedIn;
  return (
    <div className="stack">
      <p className="muted">
        Token: <strong>{tokenLabel(activeSlot)}</strong> {isDemoSlot(activeSlot) && <DemoBadge />} (slot{' '}
        {activeSlot.slotId})
      </p>
      {!loggedIn && (
        <div role="status" className="notice notice-info">
          <span>
            Log in to see and use the token’s private and secret keys. Only public objects are listed now.
          </span>
          <button type="button" className="primary push-right" onClick={() => openLogin(activeSlot.slotId)}>
            Log in…
          </button>
        </div>
      )}
      <div className="seg" role="group" aria-label="Keys view">
        <button type="button" aria-pressed={view === 'objects'} onClick={() => setView('objects')}>
          Token objects
        </button>
        <button type="button" aria-pressed={view === 'managed'} onClick={() => setView('managed')}>
          Managed keys
        </button>
      </div>
      {/* Both stay mounted: a generation in progress and the selection survive a switch. */}
      <div className="stack keys-view" hidden={view !== 'objects'}>
        <SlotKeys key={activeSlot.slotId} slotId={activeSlot.slotId} loggedIn={loggedIn} />
      </div>
      <div className="stack keys-view" hidden={view !== 'managed'}>
        <ManagedKeys key={activeSlot.slotId} slotId={activeSlot.slotId} loggedIn={loggedIn} />
      </div>
    </div>
  );
}

function SlotKeys({ slotId, loggedIn }: { slotId: number; loggedIn: boolean }) {
  const list = useQuery({
    queryKey: ['keys', 'list', slotId, loggedIn],
    queryFn: () => mkm().keys.list({ slotId }),
  });
  const [search, setSearch] = useState('');
  const deferredSearch = useDeferredValue(search);
  const [sort, setSort] = useState<Sort>({ key: 'label', dir: 'asc' });
  const [selected, setSelected] = useState<Ref | null>(null);
  const [generateOpen, setGenerateOpen] = useState(false);
  const generation = useGeneration((result) => {
    setSelected({ id: result.id, class: result.objects[0]?.class ?? 'secret' });
    setSearch('');
    setGenerateOpen(false);
  });

  const all = list.data;
  const sorted = useMemo(() => (all ? sortRows(all, sort) : []), [all, sort]);
  const rows = useMemo(() => filterRows(sorted, deferredSearch), [sorted, deferredSearch]);
  const selectedObject = all?.find((o) => sameObject(o, selected)) ?? null;
  const pair =
    selectedObject?.keyType === 'rsa'
      ? (all?.find(
          (o) =>
            o.id === selectedObject.id &&
            o.id !== '' &&
            o.class === (selectedObject.class === 'private' ? 'public' : 'private'),
        ) ?? null)
      : null;
  const searching = search !== deferredSearch;

  return (
    <>
      <div className="toolbar">
        <div className="search">
          <label htmlFor="key-search" className="sr-only">
            Search keys by label or ID
          </label>
          <input
            id="key-search"
            type="search"
            placeholder="Search by label or ID"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            autoComplete="off"
            spellCheck={false}
          />
        </div>
        <span className="muted small" role="status" aria-live="polite" data-testid="key-count">
          {all ? `${rows.length.toLocaleString()} of ${all.length.toLocaleString()} objects` : ''}
          {searching ? ' …' : ''}
        </span>
        <span className="push-right button-row">
          {generation.running && (
            <button type="button" className="link-button" onClick={() => setGenerateOpen(true)}>
              Generating {generation.running.params.label}… {generation.elapsedSeconds} s
            </button>
          )}
          <button type="button" onClick={() => void list.refetch()} disabled={list.isFetching}>
            {list.isFetching ? 'Refreshing…' : 'Refresh'}
          </button>
          <button
            type="button"
            className="primary"
            disabled={!loggedIn}
            title={loggedIn ? undefined : 'Log in to generate keys'}
            onClick={() => setGenerateOpen(true)}
          >
            Generate key…
          </button>
        </span>
      </div>
      {list.error && <ErrorNotice error={list.error} onRetry={() => void list.refetch()} />}
      <div className="keys-layout">
        <div className="keys-main">
          {list.isPending && !list.error ? (
            <Loading>Reading the objects on the token…</Loading>
          ) : all ? (
            <KeyList
              rows={rows}
              total={all.length}
              selected={selected}
              onSelect={setSelected}
              sort={sort}
              onSort={setSort}
            />
          ) : null}
        </div>
        <aside className="keys-side" aria-label="Selected key">
          {selectedObject ? (
            <KeyDetails
              key={`${selectedObject.class}-${selectedObject.id}`}
              slotId={slotId}
              object={selectedObject}
              pair={pair}
              onDestroyed={() => setSelected(null)}
            />
          ) : (
            <p className="empty">Select a key to see its attributes, check value and public key.</p>
          )}
        </aside>
      </div>
      <GenerateKeyDialog
        open={generateOpen}
        onOpenChange={setGenerateOpen}
        slotId={slotId}
        generation={generation}
      />
    </>
  );
}
