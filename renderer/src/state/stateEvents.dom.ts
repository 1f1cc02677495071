import { useQueryClient, type QueryKey } from '@tanstack/react-query';
import { useEffect } from 'react';
import type { StateDomain } from '../../../shared/contract.std';
import { mkm } from '../api.dom';

/**
 * What each of main's `state.changed` events makes stale. Null: everything (another library or
 * another login changes what every screen may read: slots, keys, managed keys, seals, gateway
 * clients bound to the logged-in token).
 */
export const STALE_AFTER: Readonly<Record<StateDomain, readonly QueryKey[] | null>> = {
  library: null,
  login: null,
  seal: [['audit'], ['report']],
  sync: [['gateway'], ['report'], ['troubleshoot']],
  // The ceremony list and every ceremony's status (the compliance report reads transcripts too).
  ceremony: [['ceremony'], ['report']],
};

/**
 * The one subscription that keeps every badge, list and dropdown on main's state: whoever changed
 * it (this page, another window, the services directly), the queries reading it are refetched.
 */
export function useStateEvents(): void {
  const queryClient = useQueryClient();
  useEffect(
    () =>
      mkm().events.on('state.changed', (change) => {
        const keys = STALE_AFTER[change.what];
        if (keys === null) {
          void queryClient.invalidateQueries();
          return;
        }
        for (const queryKey of keys) void queryClient.invalidateQueries({ queryKey });
      }),
    [queryClient],
  );
}
