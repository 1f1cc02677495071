import type { KeyboardEvent } from 'react';

/**
 * Keyboard movement in a virtualized single-select list (keys, audit entries): arrows, pages,
 * Home and End. Returns the handler; `move` clamps and selects.
 */
export function listKeyHandler(options: {
  selectedIndex: number;
  count: number;
  /** Rows per page: what fits in the viewport. */
  page: number;
  move: (to: number) => void;
}) {
  const { selectedIndex: from, count, page, move } = options;
  return (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.target !== e.currentTarget) return;
    const keys: Record<string, () => void> = {
      ArrowDown: () => move(from + 1),
      ArrowUp: () => move(from < 0 ? 0 : from - 1),
      PageDown: () => move(from + page),
      PageUp: () => move(from - page),
      Home: () => move(0),
      End: () => move(count - 1),
    };
    const action = keys[e.key];
    if (action) {
      e.preventDefault();
      action();
    }
  };
}

/**
 * The virtualized grids (keys, audit entries) scroll as a whole: the grid element is both the tab
 * stop and the scroller, so the keyboard reaches all it scrolls, and its header row sticks on
 * top. The rows start below that header (GRID_HEAD_HEIGHT, its height in the CSS), which is what
 * scrollMargin tells the virtualizer; a row is placed at `item.start - GRID_HEAD_HEIGHT` in the
 * rows' own box, and scrolled to just under the header.
 */
export const GRID_ROW_HEIGHT = 36;
export const GRID_HEAD_HEIGHT = 37;
export const gridVirtualOptions = {
  estimateSize: () => GRID_ROW_HEIGHT,
  scrollMargin: GRID_HEAD_HEIGHT,
  scrollPaddingStart: GRID_HEAD_HEIGHT,
  overscan: 6,
};
