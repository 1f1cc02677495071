import type { Logger } from '../core/logger.nodejs';
import type { SlotSummary } from '../../shared/tokens.std';
import { diffSlots, type SlotsChange } from './slots.std';
import { unrefTimer, type ClientTimers } from './timers.std';

export interface SlotWatchDeps {
  timers: ClientTimers;
  logger: Logger;
  intervalMs: number;
  /** False while the host is busy or not connected: the tick is skipped, not queued. */
  canPoll: () => boolean;
  listSlots: () => Promise<SlotSummary[]>;
  onChange: (change: SlotsChange) => void;
  onSlots: (slots: SlotSummary[]) => void;
}

/**
 * Polls the slot list and reports differences; the first poll reports every slot with
 * `initial: true`. The next tick is scheduled only after a poll finished, so polls can never
 * pile up. Returns the function that stops watching.
 */
export function watchSlots(deps: SlotWatchDeps): () => void {
  let previous: SlotSummary[] | undefined;
  let timer: unknown;
  let stopped = false;
  const schedule = (ms: number) => {
    timer = deps.timers.setTimeout(() => void tick(), ms);
    unrefTimer(timer);
  };
  const tick = async () => {
    if (stopped) return;
    if (deps.canPoll()) {
      try {
        const slots = await deps.listSlots();
        if (!stopped && Array.isArray(slots)) {
          const change = diffSlots(previous, slots);
          previous = slots;
          if (change.initial || change.added.length || change.removed.length) deps.onChange(change);
          deps.onSlots(slots);
        }
      } catch (error) {
        // No module loaded yet, or the host restarting: the next tick tries again.
        deps.logger.debug('Slot poll failed', { code: (error as { code?: unknown }).code });
      }
    }
    if (!stopped) schedule(deps.intervalMs);
  };
  schedule(0);
  return () => {
    stopped = true;
    deps.timers.clearTimeout(timer);
  };
}
