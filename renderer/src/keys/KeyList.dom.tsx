import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useRef } from 'react';
import type { ObjectInfo } from '../../../shared/tokens.std';
import { Badge, shortId } from '../ui/bits.dom';
import { CLASS_NAMES, keyRowId, sameObject, typeText } from './keyFormat.dom';
import { GRID_HEAD_HEIGHT, GRID_ROW_HEIGHT, gridVirtualOptions, listKeyHandler } from '../ui/listKeys.dom';
import { usageNames } from '../../../shared/wording.std';

export type SortKey = 'label' | 'class' | 'type' | 'bits';
export interface Sort {
  key: SortKey;
  dir: 'asc' | 'desc';
}

const COLUMNS: { key: SortKey | null; label: string }[] = [
  { key: 'label', label: 'Label' },
  { key: 'class', label: 'Class' },
  { key: 'type', label: 'Type' },
  { key: 'bits', label: 'Bits' },
  { key: null, label: 'ID' },
  { key: null, label: 'Usages' },
  { key: null, label: 'Protection' },
];

/**
 * The token's objects as a keyboard-navigable grid that renders only the rows in view, so ten
 * thousand objects scroll as smoothly as ten. Focus stays on the grid; the selected row is its
 * active descendant. Arrows, Page Up/Down, Home and End move the selection.
 */
export function KeyList({
  rows,
  total,
  selected,
  onSelect,
  sort,
  onSort,
}: {
  rows: ObjectInfo[];
  total: number;
  selected: Pick<ObjectInfo, 'id' | 'class'> | null;
  onSelect: (o: ObjectInfo) => void;
  sort: Sort;
  onSort: (s: Sort) => void;
}) {
  const scrollRef = useRef<HTMLDivElement>(null);
  // eslint-disable-next-line react-hooks/incompatible-library -- the virtualizer is read during render by design
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    ...gridVirtualOptions,
  });
  const selectedIndex = selected ? rows.findIndex((r) => sameObject(r, selected)) : -1;

  // Keep the selected row in view when it changes (keyboard, a new key, a new sort or search).
  useEffect(() => {
    if (selectedIndex >= 0) virtualizer.scrollToIndex(selectedIndex, { align: 'auto' });
  }, [selectedIndex, virtualizer]);

  const move = (to: number) => {
    if (rows.length === 0) return;
    const index = Math.max(0, Math.min(rows.length - 1, to));
    onSelect(rows[index]!);
  };
  const page = Math.max(1, Math.floor((scrollRef.current?.clientHeight ?? 400) / GRID_ROW_HEIGHT) - 1);
  const onKeyDown = listKeyHandler({ selectedIndex, count: rows.length, page, move });

  const items = virtualizer.getVirtualItems();
  const activeId = selectedIndex >= 0 ? keyRowId(rows[selectedIndex]!) : undefined;
  return (
    <div
      className="key-grid"
      ref={scrollRef}
      role="grid"
      aria-label="Keys and objects on the token"
      aria-rowcount={rows.length + 1}
      aria-colcount={COLUMNS.length}
      aria-activedescendant={activeId}
      aria-multiselectable={false}
      tabIndex={0}
      onKeyDown={onKeyDown}
    >
      <div role="rowgroup" className="key-grid-head">
        <div role="row" aria-rowindex={1} className="key-row">
          {COLUMNS.map((c) => (
            <div
              key={c.label}
              role="columnheader"
              aria-sort={
                c.key && sort.key === c.key ? (sort.dir === 'asc' ? 'ascending' : 'descending') : undefined
              }
            >
              {c.key ? (
                <button
                  type="button"
                  className="sort"
                  onClick={() =>
                    onSort({
                      key: c.key!,
                      dir: sort.key === c.key && sort.dir === 'asc' ? 'desc' : 'asc',
                    })
                  }
                >
                  {c.label}
                  <span aria-hidden="true" className="sort-mark">
                    {sort.key === c.key ? (sort.dir === 'asc' ? '▲' : '▼') : ''}
                  </span>
                </button>
              ) : (
                c.label
              )}
            </div>
          ))}
        </div>
      </div>
      <div className="key-grid-body" data-testid="key-grid-body">
        {rows.length === 0 ? (
          <p className="empty">{total === 0 ? 'No keys on this token yet.' : 'No key matches the search.'}</p>
        ) : (
          <div role="rowgroup" className="key-grid-rows" style={{ height: virtualizer.getTotalSize() }}>
            {items.map((item) => {
              const o = rows[item.index]!;
              const isSelected = item.index === selectedIndex;
              return (
                <div
                  key={item.key}
                  id={keyRowId(o)}
                  role="row"
                  aria-rowindex={item.index + 2}
                  aria-selected={isSelected}
                  className={`key-row${isSelected ? ' selected' : ''}`}
                  style={{
                    transform: `translateY(${item.start - GRID_HEAD_HEIGHT}px)`,
                    height: GRID_ROW_HEIGHT,
                  }}
                  onClick={() => onSelect(o)}
                >
                  <div role="gridcell" className="cell-label" title={o.label}>
                    {o.label || <span className="muted">(no label)</span>}
                  </div>
                  <div role="gridcell">{CLASS_NAMES[o.class]}</div>
                  <div role="gridcell">{typeText({ keyType: o.keyType, bits: null })}</div>
                  <div role="gridcell" className="num">
                    {o.bits ?? '—'}
                  </div>
                  <div role="gridcell">
                    <code title={o.id}>{shortId(o.id)}</code>
                  </div>
                  <div
                    role="gridcell"
                    className="small"
                    title={usageNames(o.usages, o.keyType).join(', ') || undefined}
                  >
                    {usageNames(o.usages, o.keyType).join(', ') || '—'}
                  </div>
                  <div role="gridcell" className="badges">
                    {o.sensitive && <Badge tone="ok">sensitive</Badge>}
                    {o.extractable === true && <Badge tone="warn">extractable</Badge>}
                    {o.extractable === false && o.class !== 'public' && (
                      <Badge tone="neutral" title="Not extractable: it can never leave the token">
                        no export
                      </Badge>
                    )}
                    {!o.token && <Badge tone="info">session</Badge>}
                  </div>
                </div>
              );
            })}
          </div>
        )}
      </div>
    </div>
  );
}

export function sortRows(rows: ObjectInfo[], sort: Sort): ObjectInfo[] {
  const factor = sort.dir === 'asc' ? 1 : -1;
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
  const keyOf = (o: ObjectInfo): string | number => {
    switch (sort.key) {
      case 'label':
        return o.label;
      case 'class':
        return CLASS_NAMES[o.class];
      case 'type':
        return typeText(o);
      case 'bits':
        return o.bits ?? -1;
    }
  };
  return rows
    .map((o) => ({ o, k: keyOf(o) }))
    .sort((a, b) => {
      const c =
        typeof a.k === 'number' && typeof b.k === 'number'
          ? a.k - b.k
          : collator.compare(String(a.k), String(b.k));
      return c !== 0 ? c * factor : collator.compare(a.o.label, b.o.label);
    })
    .map(({ o }) => o);
}

export function filterRows(rows: ObjectInfo[], search: string): ObjectInfo[] {
  const q = search.trim().toLowerCase();
  if (!q) return rows;
  return rows.filter((o) => o.label.toLowerCase().includes(q) || o.id.includes(q));
}
