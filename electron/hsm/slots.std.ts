import type { SlotSummary } from '../../shared/tokens.std';

/**
 * What the slot watcher compares between two `listSlots` results. A token is identified by its
 * slot and its serial number: the same reader holding another card is a removal plus an
 * insertion, which is what a UI must show (keys and login state belong to the card).
 */
export interface SlotsChange {
  /** Slots whose token appeared (or, with `initial`, every slot at the first poll). */
  added: SlotSummary[];
  /** Slots whose token went away, as they were last seen. */
  removed: SlotSummary[];
  slots: SlotSummary[];
  initial: boolean;
}

export function slotKey(slot: SlotSummary): string {
  return `${slot.slotId}/${slot.token?.serial.trim() ?? ''}`;
}

export function diffSlots(
  previous: readonly SlotSummary[] | undefined,
  next: readonly SlotSummary[],
): SlotsChange {
  const after = new Map(next.map((slot) => [slotKey(slot), slot]));
  if (previous === undefined) return { added: [...next], removed: [], slots: [...next], initial: true };
  const before = new Map(previous.map((slot) => [slotKey(slot), slot]));
  return {
    added: [...after].filter(([key]) => !before.has(key)).map(([, slot]) => slot),
    removed: [...before].filter(([key]) => !after.has(key)).map(([, slot]) => slot),
    slots: [...next],
    initial: false,
  };
}
