import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo } from 'react';
import { mkm } from '../api.dom';
import { versionName } from '../../../shared/wording.std';

/** Query keys of the lifecycle: one place, so every change refreshes what shows it. */
export const lifecycleKeys = {
  all: ['lifecycle'] as const,
  list: ['lifecycle', 'list'] as const,
  due: ['lifecycle', 'due'] as const,
  policies: ['lifecycle', 'policies'] as const,
  reconcile: (slotId: number) => ['lifecycle', 'reconcile', slotId] as const,
  timeline: (logicalKeyId: string) => ['lifecycle', 'timeline', logicalKeyId] as const,
  usage: (logicalKeyId: string) => ['lifecycle', 'usage', logicalKeyId] as const,
};

export function useManagedKeys() {
  return useQuery({ queryKey: lifecycleKeys.list, queryFn: () => mkm().lifecycle.list({}) });
}

/** Managed versions by id, named as a person reads them (`NAME vN`), for lists that hold only ids. */
export function useVersionNames(): ReadonlyMap<string, string> {
  const keys = useManagedKeys();
  return useMemo(
    () =>
      new Map(
        (keys.data ?? []).flatMap((k) =>
          k.versions.map((v) => [v.id, versionName(k.name, v.version)] as const),
        ),
      ),
    [keys.data],
  );
}

export function useDue() {
  return useQuery({ queryKey: lifecycleKeys.due, queryFn: () => mkm().lifecycle.due() });
}

export function usePolicies() {
  return useQuery({
    queryKey: lifecycleKeys.policies,
    queryFn: () => mkm().lifecycle.policies(),
    staleTime: 60_000,
  });
}

/** After any lifecycle change: the lists, the due report, the timelines and the token's objects. */
export function useRefreshLifecycle() {
  const queryClient = useQueryClient();
  return async () => {
    await Promise.all([
      queryClient.invalidateQueries({ queryKey: lifecycleKeys.all }),
      queryClient.invalidateQueries({ queryKey: ['keys', 'list'] }),
      queryClient.invalidateQueries({ queryKey: ['audit'] }),
    ]);
  };
}
