import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useRef } from 'react';
import type { AuditEntryView } from '../../../shared/contract.std';
import { Badge } from '../ui/bits.dom';
import { useVersionNames } from '../lifecycle/queries.dom';
import { keyText, localTime, resultTone, tokenText } from './auditFormat.dom';
import { GRID_HEAD_HEIGHT, GRID_ROW_HEIGHT, gridVirtualOptions, listKeyHandler } from '../ui/listKeys.dom';

const COLUMNS = ['Time', 'Action', 'Result', 'Key', 'Token', 'OS user'] as const;

export const auditRowId = (seq: number) => `audit-row-${seq}`;

/**
 * Audit entries, newest first, as a keyboard-navigable grid that renders only the rows in view.
 * Focus stays on the grid; the selected row is its active descendant and its details show
 * beside it. Arrows, Page Up/Down, Home and End move the selection; a click selects too.
 */
export function AuditTable({
  rows,
  selectedSeq,
  onSelect,
  empty,
}: {
  rows: AuditEntryView[];
  selectedSeq: number | null;
  onSelect: (e: AuditEntryView) => void;
  empty: string;
}) {
  const scrollRef = useRef<HTMLDivElement>(null);
  // Managed versions by the name a person knows them by; the key id stays in the title and details.
  const versionNames = useVersionNames();
  // eslint-disable-next-line react-hooks/incompatible-library -- the virtualizer is read during render by design
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    ...gridVirtualOptions,
  });
  const selectedIndex = selectedSeq === null ? -1 : rows.findIndex((r) => r.seq === selectedSeq);

  useEffect(() => {
    if (selectedIndex >= 0) virtualizer.scrollToIndex(selectedIndex, { align: 'auto' });
  }, [selectedIndex, virtualizer]);

  const move = (to: number) => {
    if (rows.length === 0) return;
    onSelect(rows[Math.max(0, Math.min(rows.length - 1, to))]!);
  };
  const page = Math.max(1, Math.floor((scrollRef.current?.clientHeight ?? 400) / GRID_ROW_HEIGHT) - 1);
  const onKeyDown = listKeyHandler({ selectedIndex, count: rows.length, page, move });

  return (
    <div
      className="key-grid audit-grid"
      ref={scrollRef}
      role="grid"
      aria-label="Audit entries, newest first"
      aria-rowcount={rows.length + 1}
      aria-colcount={COLUMNS.length}
      aria-activedescendant={selectedIndex >= 0 ? auditRowId(rows[selectedIndex]!.seq) : undefined}
      tabIndex={0}
      onKeyDown={onKeyDown}
    >
      <div role="rowgroup" className="key-grid-head">
        <div role="row" aria-rowindex={1} className="audit-row">
          {COLUMNS.map((c) => (
            <div key={c} role="columnheader">
              {c}
            </div>
          ))}
        </div>
      </div>
      <div className="key-grid-body" data-testid="audit-grid-body">
        {rows.length === 0 ? (
          <p className="empty">{empty}</p>
        ) : (
          <div role="rowgroup" className="key-grid-rows" style={{ height: virtualizer.getTotalSize() }}>
            {virtualizer.getVirtualItems().map((item) => {
              const e = rows[item.index]!;
              const isSelected = item.index === selectedIndex;
              return (
                <div
                  key={e.seq}
                  id={auditRowId(e.seq)}
                  role="row"
                  aria-rowindex={item.index + 2}
                  aria-selected={isSelected}
                  data-action={e.action}
                  className={`audit-row${isSelected ? ' selected' : ''}`}
                  style={{
                    transform: `translateY(${item.start - GRID_HEAD_HEIGHT}px)`,
                    height: GRID_ROW_HEIGHT,
                  }}
                  onClick={() => onSelect(e)}
                >
                  <div role="gridcell" className="small" title={e.time}>
                    {localTime(e.time)}
                  </div>
                  <div role="gridcell" className="cell-action">
                    <code>{e.action}</code>
                  </div>
                  <div role="gridcell">
                    <Badge tone={resultTone(e.result)}>{e.result}</Badge>
                  </div>
                  <div
                    role="gridcell"
                    className="small"
                    title={
                      [versionNames.get(String(e.details?.versionId)), e.key?.id]
                        .filter(Boolean)
                        .join(' · ') || undefined
                    }
                  >
                    {versionNames.get(String(e.details?.versionId)) || keyText(e.key) || (
                      <span className="muted">—</span>
                    )}
                  </div>
                  <div role="gridcell" className="small" title={tokenText(e.actor) || undefined}>
                    {tokenText(e.actor) || <span className="muted">—</span>}
                  </div>
                  <div role="gridcell" className="small" title={e.actor.osUser}>
                    {e.actor.osUser}
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
