import { useQueries, useQuery } from '@tanstack/react-query';
import type { GatewayProfileView, GatewayStatus, LifecycleKeyView } from '../../../shared/contract.std';
import { KEY_STATES, type KeyState } from '../../../shared/lifecycle/vocabulary.std';
import { asMkmError, mkm } from '../api.dom';
import { dueReasonText, DUE_TONES, day, STATE_TONES } from '../lifecycle/format.dom';
import { lifecycleKeys, useDue, useManagedKeys } from '../lifecycle/queries.dom';
import { tokenLabel, useTokens } from '../tokens/TokenContext.dom';
import { Badge, DemoBadge, ErrorNotice, Loading } from '../ui/bits.dom';
import { FirstRunGuide } from './FirstRunGuide.dom';
import { UsageRankingCard } from './UsageRankingCard.dom';
import { sealWords } from '../../../shared/wording.std';
import './dashboard.css';

export type DashboardTarget = 'tokens' | 'keys' | 'gateway' | 'audit' | 'console';

/**
 * The day's work at a glance: the token in use, what is due for rotation, the key inventory
 * against the token, each gateway profile in one line and the audit log's state. Every card
 * says what to do when there is nothing to show yet.
 */
export function DashboardScreen({ onOpenSection }: { onOpenSection?: (target: DashboardTarget) => void }) {
  const go = (target: DashboardTarget) => onOpenSection?.(target);
  return (
    <>
      <FirstRunGuide go={go} />
      <div className="dash-grid" data-testid="dashboard">
        <TokenCard go={go} />
        <KeysCard go={go} />
        <UsageRankingCard />
        <GatewayCard go={go} />
        <AuditCard go={go} />
      </div>
    </>
  );
}

function OpenButton({
  go,
  target,
  children,
}: {
  go: (t: DashboardTarget) => void;
  target: DashboardTarget;
  children: string;
}) {
  return (
    <button type="button" className="link-button" onClick={() => go(target)}>
      {children}
    </button>
  );
}

function TokenCard({ go }: { go: (t: DashboardTarget) => void }) {
  const { modules, activeSlot, isDemoSlot, openLogin } = useTokens();
  let body;
  if (modules.isPending) body = <Loading />;
  else if (!modules.data?.path)
    body = (
      <p className="empty">
        No PKCS#11 library is chosen yet.{' '}
        <OpenButton go={go} target="tokens">
          Choose a library or the demo token
        </OpenButton>
      </p>
    );
  else if (!activeSlot?.token)
    body = (
      <p className="empty">
        No token is inserted.{' '}
        <OpenButton go={go} target="tokens">
          Look at the slots
        </OpenButton>
      </p>
    );
  else
    body = (
      <>
        <p className="dash-big">
          {tokenLabel(activeSlot)} {isDemoSlot(activeSlot) && <DemoBadge />}
        </p>
        <p className="muted small">
          Serial {activeSlot.token.serial.trim()} · slot {activeSlot.slotId}
        </p>
        {activeSlot.session.loggedIn ? (
          <Badge tone="ok">Logged in</Badge>
        ) : (
          <p className="dash-action">
            <Badge tone="warn">Logged out</Badge>{' '}
            <button type="button" className="primary" onClick={() => openLogin(activeSlot.slotId)}>
              Log in…
            </button>
            <span className="muted small"> Keys cannot be rotated or reconciled until you do.</span>
          </p>
        )}
      </>
    );
  return (
    <section className="card" aria-label="Token">
      <h2 className="card-title">Token</h2>
      {body}
    </section>
  );
}

function countStates(keys: LifecycleKeyView[]): Record<KeyState, number> {
  const counts = Object.fromEntries(KEY_STATES.map((s) => [s, 0])) as Record<KeyState, number>;
  for (const k of keys) for (const v of k.versions) counts[v.state]++;
  return counts;
}

function KeysCard({ go }: { go: (t: DashboardTarget) => void }) {
  const { activeSlot } = useTokens();
  const keys = useManagedKeys();
  const due = useDue();
  const loggedIn = Boolean(activeSlot?.session.loggedIn);
  const slotId = activeSlot?.slotId;
  const reconcile = useQuery({
    queryKey: lifecycleKeys.reconcile(slotId ?? -1),
    queryFn: () => mkm().lifecycle.reconcile({ slotId: slotId! }),
    enabled: loggedIn && slotId !== undefined,
  });
  const error = keys.error ?? due.error;
  const list = keys.data;
  const report = due.data;
  let body;
  if (error)
    body = <ErrorNotice error={error} onRetry={() => void Promise.all([keys.refetch(), due.refetch()])} />;
  else if (!list || !report) body = <Loading>Reading the key inventory…</Loading>;
  else if (list.length === 0)
    body = (
      <p className="empty">
        No managed keys yet. {loggedIn ? '' : 'Log in, then '}
        <OpenButton go={go} target="keys">
          create or adopt one under Keys → Managed keys
        </OpenButton>
      </p>
    );
  else {
    const counts = countStates(list);
    const items = report.due;
    const byLevel = (l: 'overdue' | 'due' | 'warning') => items.filter((d) => d.level === l);
    body = (
      <>
        <p className="dash-big" data-testid="dash-key-count">
          {list.length} managed key{list.length === 1 ? '' : 's'}
        </p>
        <ul className="dash-states" aria-label="Versions by state">
          {KEY_STATES.filter((s) => counts[s] > 0).map((s) => (
            <li key={s}>
              <Badge tone={STATE_TONES[s]}>{s}</Badge> {counts[s]}
            </li>
          ))}
        </ul>
        <div className="dash-due" data-testid="dash-due">
          {items.length === 0 && report.graceExpired.length === 0 ? (
            <p>
              <Badge tone="ok">Nothing due</Badge>{' '}
              <span className="muted small">Every key is within its policy.</span>
            </p>
          ) : (
            <ul aria-label="Keys due for rotation">
              {(['overdue', 'due', 'warning'] as const).flatMap((level) =>
                byLevel(level).map((d) => (
                  <li key={d.logicalKeyId}>
                    <Badge tone={DUE_TONES[level]}>{level === 'warning' ? 'due soon' : level}</Badge>{' '}
                    <strong>{d.name}</strong>{' '}
                    <span className="muted small">{d.reasons.map(dueReasonText).join('; ')}</span>
                  </li>
                )),
              )}
              {report.graceExpired.map((g) => (
                <li key={g.versionId}>
                  <Badge tone="info">grace over</Badge>{' '}
                  {list.find((k) => k.id === g.logicalKeyId)?.name ?? g.logicalKeyId}: a replaced version’s
                  grace ended {day(g.graceUntil)}; it is deactivated at the next login.
                </li>
              ))}
            </ul>
          )}
          {list.some((k) => k.versions.some((v) => !v.primary && v.state === 'active' && v.graceUntil)) && (
            <p className="muted small">
              In grace:{' '}
              {list
                .flatMap((k) =>
                  k.versions
                    .filter((v) => !v.primary && v.state === 'active' && v.graceUntil)
                    .map((v) => `${k.name} v${v.version} until ${day(v.graceUntil)}`),
                )
                .join(', ')}
            </p>
          )}
        </div>
      </>
    );
  }
  return (
    <section className="card" aria-label="Keys">
      <h2 className="card-title">
        Keys{' '}
        <OpenButton go={go} target="keys">
          Open Keys
        </OpenButton>
      </h2>
      {body}
      {loggedIn && reconcile.data && (
        <p className="small" data-testid="dash-reconcile">
          {reconcile.data.missing.length > 0 && (
            <>
              <Badge tone="danger">{reconcile.data.missing.length} missing</Badge> managed versions are not on
              the token.{' '}
            </>
          )}
          {reconcile.data.unmanaged.length > 0 ? (
            <>
              <Badge tone="warn">{reconcile.data.unmanaged.length} unmanaged</Badge> keys on the token are not
              managed (adopt them under Keys → Managed keys).
            </>
          ) : (
            reconcile.data.missing.length === 0 && (
              <span className="muted">The token and the inventory agree.</span>
            )
          )}
        </p>
      )}
      {!loggedIn && activeSlot?.token && list && list.length > 0 && (
        <p className="muted small">Log in to compare the inventory with the token.</p>
      )}
    </section>
  );
}

function gatewayLine(s: GatewayStatus): string {
  const key =
    s.gatewayKey.status === 'pinned'
      ? 'gateway key pinned'
      : s.gatewayKey.status === 'rotation-pending'
        ? 'gateway key rotation waiting for your confirmation'
        : 'no gateway key yet';
  const active = s.merchantKeys.filter((k) => k.status === 'active').length;
  const sync = s.lastSync
    ? s.lastSync.ok
      ? `last sync OK ${day(s.lastSync.at)}`
      : `last sync failed (${s.lastSync.error?.code ?? s.lastSync.step ?? 'error'})`
    : 'never synced';
  return `${key} · ${active} transport key${active === 1 ? '' : 's'} registered · ${sync}`;
}

function GatewayCard({ go }: { go: (t: DashboardTarget) => void }) {
  const profiles = useQuery({
    queryKey: ['gateway', 'profiles'],
    queryFn: () => mkm().gateway.listProfiles(),
  });
  const statuses = useQueries({
    queries: (profiles.data ?? []).map((p: GatewayProfileView) => ({
      queryKey: ['gateway', 'status', p.id],
      queryFn: () => mkm().gateway.status({ profileId: p.id }),
      retry: false,
    })),
  });
  let body;
  if (profiles.error) body = <ErrorNotice error={profiles.error} onRetry={() => void profiles.refetch()} />;
  else if (profiles.isPending) body = <Loading />;
  else if (profiles.data.length === 0)
    body = (
      <p className="empty">
        No gateway is connected yet.{' '}
        <OpenButton go={go} target="gateway">
          Add a gateway profile
        </OpenButton>
      </p>
    );
  else
    body = (
      <ul className="dash-list" aria-label="Gateway profiles">
        {profiles.data.map((p, i) => {
          const s = statuses[i];
          return (
            <li key={p.id}>
              <strong>{p.name}</strong>{' '}
              <span className="muted small">
                {s?.data
                  ? gatewayLine(s.data)
                  : s?.error
                    ? `status not available: ${asMkmError(s.error).message} (${asMkmError(s.error).code})`
                    : 'reading…'}
              </span>
              {s?.data?.rotationPending && <Badge tone="warn">confirm the new gateway key</Badge>}
            </li>
          );
        })}
      </ul>
    );
  return (
    <section className="card" aria-label="Gateway">
      <h2 className="card-title">
        Gateway{' '}
        <OpenButton go={go} target="gateway">
          Open Gateway
        </OpenButton>
      </h2>
      {body}
    </section>
  );
}

function AuditCard({ go }: { go: (t: DashboardTarget) => void }) {
  const status = useQuery({ queryKey: ['audit', 'status'], queryFn: () => mkm().audit.status() });
  let body;
  if (status.error) body = <ErrorNotice error={status.error} onRetry={() => void status.refetch()} />;
  else if (status.isPending) body = <Loading />;
  else {
    const s = status.data;
    const seal = sealWords(s);
    body = !s.open ? (
      <p role="alert" className="notice notice-error">
        <span>
          The audit log is not open{s.error ? ` (${s.error})` : ''}: {s.held} entr
          {s.held === 1 ? 'y is' : 'ies are'} held in memory until it is repaired.
        </span>
      </p>
    ) : (
      <p data-testid="dash-seal">
        <Badge tone="ok">Recording</Badge> <Badge tone={seal.tone}>{seal.label}</Badge>{' '}
        {seal.note && (
          <span
            className="muted small"
            {...(seal.tone === 'danger' ? { role: 'alert', 'data-testid': 'audit-seal-impossible' } : {})}
          >
            {seal.note}
          </span>
        )}
      </p>
    );
  }
  return (
    <section className="card" aria-label="Audit log">
      <h2 className="card-title">
        Audit log{' '}
        <OpenButton go={go} target="audit">
          Open Audit
        </OpenButton>
      </h2>
      {body}
    </section>
  );
}
