import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { ModuleState } from '../../../shared/contract/tokens.std';
import type { SlotSummary } from '../../../shared/tokens.std';
import { mkm } from '../api.dom';
import { useStateEvents } from '../state/stateEvents.dom';

export interface Banner {
  id: number;
  level: 'info' | 'warning' | 'error';
  message: string;
  code?: string | undefined;
  /** Offer a "Log in" button (after a reconnect or an automatic logout). */
  offerLogin?: boolean;
}

interface TokenContextValue {
  modules: ReturnType<typeof useModulesQuery>;
  slots: ReturnType<typeof useSlotsQuery>;
  /** The slot the Keys screen and the header work on. */
  activeSlot: SlotSummary | null;
  setActiveSlotId: (slotId: number) => void;
  isDemoSlot: (slot: SlotSummary | null | undefined) => boolean;
  loginSlotId: number | null;
  openLogin: (slotId: number) => void;
  closeLogin: () => void;
  banners: Banner[];
  dismissBanner: (id: number) => void;
}

const TokenContext = createContext<TokenContextValue | null>(null);

export const tokenKeys = {
  modules: ['tokens', 'modules'] as const,
  list: ['tokens', 'list'] as const,
  capabilities: (slotId: number) => ['tokens', 'capabilities', slotId] as const,
};

function useModulesQuery() {
  return useQuery<ModuleState>({ queryKey: tokenKeys.modules, queryFn: () => mkm().tokens.modules() });
}

function useSlotsQuery(enabled: boolean) {
  return useQuery<SlotSummary[]>({ queryKey: tokenKeys.list, queryFn: () => mkm().tokens.list(), enabled });
}

let nextBannerId = 1;

export function TokenProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const modules = useModulesQuery();
  const slots = useSlotsQuery(modules.isSuccess && modules.data.path !== null && modules.data.error === null);
  const [chosenSlotId, setActiveSlotId] = useState<number | null>(null);
  const [loginSlotId, setLoginSlotId] = useState<number | null>(null);
  const [banners, setBanners] = useState<Banner[]>([]);
  useStateEvents();

  const isDemoSlot = useCallback(
    (slot: SlotSummary | null | undefined) =>
      Boolean(modules.data?.demo && slot?.token && slot.token.label.trim() === modules.data.demoLabel),
    [modules.data],
  );

  // The active slot: the admin's choice while it exists, else the demo token, else the first
  // initialized token, else the first slot.
  const activeSlot = useMemo(() => {
    const list = slots.data ?? [];
    return (
      list.find((s) => s.slotId === chosenSlotId) ??
      list.find((s) => isDemoSlot(s)) ??
      list.find((s) => s.token?.flags.tokenInitialized) ??
      list[0] ??
      null
    );
  }, [slots.data, chosenSlotId, isDemoSlot]);

  useEffect(() => {
    const add = (banner: Omit<Banner, 'id'>) =>
      setBanners((all) => [...all, { ...banner, id: nextBannerId++ }]);
    const offs = [
      mkm().events.on('tokens.changed', (change) => {
        void queryClient.invalidateQueries({ queryKey: ['tokens'] });
        void queryClient.invalidateQueries({ queryKey: ['keys'] });
        for (const t of change.inserted)
          add({ level: 'info', message: `Token inserted: ${t.label || 'unlabelled'} (slot ${t.slotId}).` });
        for (const t of change.removed)
          add({ level: 'warning', message: `Token removed: ${t.label || 'unlabelled'} (slot ${t.slotId}).` });
      }),
      mkm().events.on('tokens.connection', (c) => {
        // Only the latest connection state matters: replace earlier connection banners.
        setBanners((all) => [
          ...all.filter((b) => !b.code?.startsWith('connection-')),
          {
            id: nextBannerId++,
            level: c.state === 'lost' ? 'warning' : c.state === 'failed' ? 'error' : 'info',
            code: `connection-${c.state}`,
            message: c.message,
            offerLogin: c.state === 'restored',
          },
        ]);
        void queryClient.invalidateQueries({ queryKey: ['tokens'] });
        if (c.state !== 'lost') void queryClient.invalidateQueries({ queryKey: ['keys'] });
      }),
      mkm().events.on('tokens.loggedOut', (e) => {
        queryClient.removeQueries({ queryKey: ['keys'] });
        void queryClient.invalidateQueries({ queryKey: tokenKeys.list });
        add({
          level: 'info',
          offerLogin: true,
          message:
            e.reason === 'idle'
              ? 'You were logged out of the token after a period without activity.'
              : e.reason === 'library-changed'
                ? 'You were logged out because another PKCS#11 library was chosen. Log in again to continue.'
                : 'You were logged out because the connection to the token was lost. Log in again to continue.',
        });
      }),
    ];
    return () => offs.forEach((off) => off());
  }, [queryClient]);

  const value: TokenContextValue = {
    modules,
    slots,
    activeSlot,
    setActiveSlotId,
    isDemoSlot,
    loginSlotId,
    openLogin: setLoginSlotId,
    closeLogin: () => setLoginSlotId(null),
    banners,
    dismissBanner: (id) => setBanners((all) => all.filter((b) => b.id !== id)),
  };
  return <TokenContext.Provider value={value}>{children}</TokenContext.Provider>;
}

export function useTokens(): TokenContextValue {
  const value = useContext(TokenContext);
  if (!value) throw new Error('useTokens outside TokenProvider');
  return value;
}

export function tokenLabel(slot: SlotSummary | null | undefined): string {
  if (!slot) return 'No token';
  if (!slot.token) return `Slot ${slot.slotId} (empty)`;
  if (!slot.token.flags.tokenInitialized) return `Slot ${slot.slotId} (not initialized)`;
  return slot.token.label.trim() || `Slot ${slot.slotId}`;
}
