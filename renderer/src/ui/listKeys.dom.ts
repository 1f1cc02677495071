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
