import type { QueryClient } from '@tanstack/react-query';
import { useMutation, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import type { GatewayStatus, Settings } from '../../../shared/contract.std';
import { asMkmError, mkm } from '../api.dom';
import { useTokens } from '../tokens/TokenContext.dom';
import { Badge } from '../ui/bits.dom';

export type GuideTarget = 'tokens' | 'keys' | 'gateway' | 'console';

/**
 * The first five minutes, on the dashboard: log in to the demo token, make a transport key,
 * connect the demo gateway, send a first secure ping, encrypt a test card. Each tick is read from
 * the app's real state (the login, the token's keys, the gateway's registrations, the audit log),
 * never from a button having been pressed, so a step done from the CLI or another window ticks
 * too, and one undone (a logout, a removed profile) unticks. Put away in the settings, and
 * offered back in one line.
 */

/** While a step is open the state it waits for is read again this often (the CLI may do it). */
const OPEN_STEP_POLL_MS = 5000;

export const guideKeys = {
  transport: (slotId: number) => ['keys', 'list', slotId, 'guide-transport'] as const,
  audit: (what: string) => ['audit', 'guide', what] as const,
};

interface Step {
  id: 'login' | 'transport' | 'gateway' | 'ping' | 'encrypt';
  title: string;
  /** null: not known (the state could not be read); the step is then not ticked. */
  done: boolean | null;
  detail: ReactNode;
  action: ReactNode;
}

export function FirstRunGuide({ go }: { go: (target: GuideTarget) => void }) {
  const queryClient = useQueryClient();
  const settings = useQuery({ queryKey: ['settings'], queryFn: () => mkm().settings.get() });
  const dismiss = useMutation({
    mutationFn: (dismissed: boolean) => mkm().settings.update({ firstRunGuideDismissed: dismissed }),
    onSuccess: (next: Settings) => queryClient.setQueryData(['settings'], next),
  });
  if (!settings.data) return null;
  if (settings.data.firstRunGuideDismissed) {
    return (
      <p className="muted small guide-back">
        The getting-started guide is hidden.{' '}
        <button
          type="button"
          className="link-button"
          onClick={() => dismiss.mutate(false)}
          disabled={dismiss.isPending}
        >
          Show the getting-started guide
        </button>
      </p>
    );
  }
  return <Guide go={go} onDismiss={() => dismiss.mutate(true)} dismissing={dismiss.isPending} />;
}

function Guide({
  go,
  onDismiss,
  dismissing,
}: {
  go: (target: GuideTarget) => void;
  onDismiss: () => void;
  dismissing: boolean;
}) {
  const { activeSlot, isDemoSlot, openLogin } = useTokens();
  const slotId = activeSlot?.slotId;
  const loggedIn = Boolean(activeSlot?.session.loggedIn);
  const demo = isDemoSlot(activeSlot);

  const transport = useQuery({
    queryKey: guideKeys.transport(slotId ?? -1),
    queryFn: () => mkm().keys.list({ slotId: slotId!, class: 'private' }),
    enabled: loggedIn && slotId !== undefined,
    // The key a gateway takes: an RSA pair of 2048 bits or more (as the Gateway screen offers).
    select: (objects) => objects.some((o) => o.keyType === 'rsa' && (o.bits ?? 0) >= 2048),
    refetchInterval: (q) => (q.state.data?.some((o) => o.keyType === 'rsa') ? false : OPEN_STEP_POLL_MS),
  });
  const queryClient = useQueryClient();
  const profiles = useQuery({
    queryKey: ['gateway', 'profiles'],
    queryFn: () => mkm().gateway.listProfiles(),
    // A profile added elsewhere (the CLI) shows while the step is open.
    refetchInterval: () => (anyRegistered(queryClient) ? false : OPEN_STEP_POLL_MS),
  });
  const statuses = useQueries({
    queries: (profiles.data ?? []).map((p) => ({
      queryKey: ['gateway', 'status', p.id],
      queryFn: () => mkm().gateway.status({ profileId: p.id }),
      retry: false,
      refetchInterval: (q: { state: { data?: GatewayStatus | undefined } }) =>
        q.state.data && registered(q.state.data) ? false : OPEN_STEP_POLL_MS,
    })),
  });
  const connected = statuses.some((s) => s.data !== undefined && registered(s.data));
  const connecting = statuses.some((s) => s.isPending);
  const demoProfile = profiles.data?.some((p) => p.demo) ?? false;

  // The audit log holds what was done, across restarts and whoever did it (app or CLI).
  const ping = useAuditSeen('ping', {
    action: 'gateway.secure.send',
    result: 'ok',
    text: '"operation":"ping"',
  });
  const encrypt = useAuditSeen('encrypt', { action: 'console.encrypt', result: 'ok' });

  const open = (target: GuideTarget, label: string) => (
    <button type="button" onClick={() => go(target)}>
      {label}
    </button>
  );

  const steps: Step[] = [
    {
      id: 'login',
      title: demo ? 'Log in to the demo token' : 'Log in to the token',
      done: activeSlot ? loggedIn : false,
      detail: demo ? (
        <>
          The demo token’s user PIN is <strong>123456</strong> (published: the demo token protects nothing).
        </>
      ) : activeSlot?.token ? (
        'With the user PIN of the token in use.'
      ) : (
        'Choose the demo token (or your PKCS#11 library) under Tokens first.'
      ),
      action: activeSlot?.token ? (
        <button type="button" onClick={() => openLogin(activeSlot.slotId)} disabled={loggedIn}>
          Log in…
        </button>
      ) : (
        open('tokens', 'Open Tokens')
      ),
    },
    {
      id: 'transport',
      title: 'Make a transport key',
      // The token shows its private keys only after a login: until then it is not known.
      done: !loggedIn || transport.isError ? null : (transport.data ?? null),
      detail: !loggedIn
        ? 'Log in first: the token shows its keys after a login. The key: RSA 2048 or more, purpose “Gateway transport”.'
        : transport.isError
          ? `The token’s keys could not be read: ${asMkmError(transport.error).message}`
          : 'Under Keys, Generate key…: type RSA 2048, purpose “Gateway transport”.',
      action: open('keys', 'Open Keys'),
    },
    {
      id: 'gateway',
      title: 'Connect the demo gateway',
      done: profiles.isError ? null : connected ? true : connecting ? null : false,
      detail: demoProfile
        ? 'Register the transport key with the “Local sandbox (demo)” profile under Gateway.'
        : 'Under Gateway, start the local demo sandbox, then register the transport key with it.',
      action: open('gateway', 'Open Gateway'),
    },
    {
      id: 'ping',
      title: 'Send a first secure ping',
      done: ping.seen,
      detail: ping.error ?? 'Under Gateway, Ping: a message sealed with a one-use key set, and its answer.',
      action: open('gateway', 'Open Gateway'),
    },
    {
      id: 'encrypt',
      title: 'Encrypt a test card',
      done: encrypt.seen,
      detail:
        encrypt.error ?? 'Under Console, pick a test card preset and Encrypt it with the gateway’s key.',
      action: open('console', 'Open Console'),
    },
  ];
  const doneCount = steps.filter((s) => s.done === true).length;

  return (
    <section className="card guide" aria-labelledby="guide-title" data-testid="first-run-guide">
      <div className="card-title guide-head">
        <h2 id="guide-title">Getting started</h2>
        <span className="muted small" role="status">
          {doneCount === steps.length ? 'All five steps done.' : `${doneCount} of ${steps.length} steps done`}
        </span>
        <button type="button" className="link-button" onClick={onDismiss} disabled={dismissing}>
          Hide this guide
        </button>
      </div>
      <ol className="guide-steps">
        {steps.map((s, i) => (
          <li
            key={s.id}
            className={`guide-step${s.done ? ' guide-step-done' : ''}`}
            data-step={s.id}
            data-done={s.done === true ? 'yes' : s.done === null ? 'unknown' : 'no'}
          >
            <span className="guide-mark" aria-hidden="true">
              {s.done ? '✓' : i + 1}
            </span>
            <div className="guide-text">
              <strong>{s.title}</strong>{' '}
              {s.done === true ? (
                <Badge tone="ok">done</Badge>
              ) : s.done === null ? (
                <Badge tone="neutral">not known</Badge>
              ) : (
                <Badge tone="neutral">to do</Badge>
              )}
              <div className="muted small">{s.detail}</div>
            </div>
            {s.done !== true && <div className="guide-action">{s.action}</div>}
          </li>
        ))}
      </ol>
    </section>
  );
}

/** Connected: the gateway knows a transport key of ours (registered, not retired). */
const registered = (s: GatewayStatus) => s.merchantKeys.some((k) => k.status === 'active');

function anyRegistered(queryClient: QueryClient): boolean {
  return queryClient
    .getQueriesData<GatewayStatus>({ queryKey: ['gateway', 'status'] })
    .some(([, data]) => data !== undefined && registered(data));
}

/** Whether the audit log holds an entry like this; an unreadable log is said, not taken as "no". */
function useAuditSeen(
  what: string,
  filter: { action: string; result: string; text?: string },
): { seen: boolean | null; error: string | null } {
  const query = useQuery({
    queryKey: guideKeys.audit(what),
    queryFn: () => mkm().audit.query({ filter, limit: 1 }),
    select: (r) => r.matched > 0,
    refetchInterval: (q) => (q.state.data?.matched ? false : OPEN_STEP_POLL_MS),
  });
  if (query.isError) {
    return { seen: null, error: `The audit log could not be read: ${asMkmError(query.error).message}` };
  }
  return { seen: query.data ?? null, error: null };
}
