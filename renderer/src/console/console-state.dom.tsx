import { useQuery } from '@tanstack/react-query';
import { useSyncExternalStore, type ReactNode } from 'react';
import type { ComposeFieldName, ComposeFields } from '../../../shared/console/compose.std';
import type { GatewayProfileView } from '../../../shared/contract.std';
import type { ConsoleScheme } from '../../../shared/contract/console.std';
import { asMkmError, mkm } from '../api.dom';
import { gatewayKeys } from '../gateway/format.dom';
import { ErrorNotice, Loading, MaskedField } from '../ui/bits.dom';
import './console.css';

/**
 * What the console's panels share: the chosen gateway profile and the composed payload, so the
 * round trip verifies what Compose shows. Held in this window's memory only (never in storage);
 * Clear empties it, and it goes with the window.
 */
interface ConsoleState {
  profileId: string | null;
  fields: ComposeFields;
  /** How the payload was last encrypted (scheme, and whether a mismatch was overridden). */
  composed: { scheme: ConsoleScheme; overrideScheme: boolean } | null;
}

let state: ConsoleState = { profileId: null, fields: {}, composed: null };
const listeners = new Set<() => void>();

function setState(change: Partial<ConsoleState>): void {
  state = { ...state, ...change };
  for (const l of listeners) l();
}

const subscribe = (l: () => void) => {
  listeners.add(l);
  return () => listeners.delete(l);
};

export function useConsoleState(): [ConsoleState, typeof setState] {
  return [useSyncExternalStore(subscribe, () => state), setState];
}

/**
 * Under the Gateway screen's keys, so a profile added or a key fetched there refreshes the
 * console too (its panels stay mounted).
 */
export const consoleKeys = {
  profiles: gatewayKeys.profiles,
  profileState: (id: string) => [...gatewayKeys.all, 'console-state', id] as const,
  history: ['console', 'history'] as const,
};

/** The profiles, and the chosen one (the first when none was chosen yet). */
export function useProfiles() {
  const [s, set] = useConsoleState();
  const profiles = useQuery({
    queryKey: consoleKeys.profiles,
    queryFn: () => mkm().gateway.listProfiles(),
    // A profile added elsewhere (the CLI, another window) shows up without a reload.
    refetchInterval: (q) => (q.state.data?.length ? false : 3000),
  });
  const list = profiles.data ?? [];
  const chosen = list.find((p) => p.id === s.profileId) ?? list[0] ?? null;
  return { profiles, list, chosen, choose: (profileId: string) => set({ profileId }) };
}

export function useProfileState(profileId: string | null) {
  return useQuery({
    queryKey: consoleKeys.profileState(profileId ?? ''),
    queryFn: () => mkm().console.profileState({ profileId: profileId! }),
    enabled: profileId !== null,
    refetchInterval: (q) => (q.state.data && !q.state.data.key ? 5000 : false),
  });
}

export function ProfileSelect({
  id,
  list,
  chosen,
  onChoose,
}: {
  id: string;
  list: GatewayProfileView[];
  chosen: GatewayProfileView | null;
  onChoose: (id: string) => void;
}) {
  return (
    <div className="field">
      <label htmlFor={id}>Gateway profile</label>
      <select id={id} value={chosen?.id ?? ''} onChange={(e) => onChoose(e.target.value)}>
        {list.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name} ({p.id})
          </option>
        ))}
      </select>
    </div>
  );
}

/** The empty states every panel shares: profiles loading or failed, none yet. */
export function ProfileGate({
  profiles,
  children,
  usableWithout = false,
}: {
  profiles: ReturnType<typeof useProfiles>;
  children: ReactNode;
  /** The panel still works without a profile (composing and checking a payload does). */
  usableWithout?: boolean;
}) {
  if (profiles.profiles.isPending) return <Loading>Loading the gateway profiles…</Loading>;
  if (profiles.profiles.isError)
    return <ErrorNotice error={profiles.profiles.error} onRetry={() => void profiles.profiles.refetch()} />;
  if (profiles.list.length === 0) {
    const empty = (
      <div className="empty" role="status">
        No gateway profile yet. Add one under <strong>Gateway</strong> (or start the local sandbox there); the
        console encrypts with the gateway key that profile pins.
      </div>
    );
    if (!usableWithout) return empty;
    return (
      <>
        {empty}
        {children}
      </>
    );
  }
  return <>{children}</>;
}

/** What to do about the errors the console's calls commonly meet, in the words of the fix. */
export function hintFor(error: unknown): string | null {
  const e = asMkmError(error);
  if (e.code === 'NOT_LOGGED_IN') return 'Log in to the token (top bar) and try again.';
  if (e.code === 'NOT_FOUND' && e.details?.reason === 'no-pinned-key')
    return "Open Gateway and fetch the gateway's public key (or import its PEM) for this profile.";
  if (e.code === 'GATEWAY_UNREACHABLE' || e.code === 'TIMEOUT')
    return 'The gateway cannot be reached: check the address and that it is running (offline?).';
  if (e.code === 'GATEWAY_UNAUTHORIZED') return "Give the profile's password under Gateway.";
  return null;
}

export function ConsoleError({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const hint = hintFor(error);
  return (
    <ErrorNotice error={error} onRetry={onRetry}>
      {hint && <span className="block small">{hint}</span>}
    </ErrorNotice>
  );
}

/**
 * A card or bank value: masked by default (type password, never autocompleted or spell-checked),
 * with a reveal toggle. Controlled, so the checks run as the user types; the value stays in
 * this window's memory only.
 */
export function SecretInput({
  field,
  label,
  value,
  onChange,
  describedBy,
  invalid,
  inputMode = 'numeric',
  placeholder,
}: {
  field: ComposeFieldName;
  label: string;
  value: string;
  onChange: (value: string) => void;
  describedBy?: string | undefined;
  invalid?: boolean;
  inputMode?: 'numeric' | 'text';
  placeholder?: string;
}) {
  return (
    <MaskedField
      id={`console-${field}`}
      label={label}
      input={{
        name: field,
        value,
        onChange: (e) => onChange(e.target.value),
        inputMode,
        placeholder,
        'aria-invalid': invalid || undefined,
        'aria-describedby': describedBy,
      }}
    />
  );
}
