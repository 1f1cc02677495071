import * as Tabs from '@radix-ui/react-tabs';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type ReactNode } from 'react';
import type { AppStatus, Settings } from '../../shared/contract.std';
import { THEMES } from '../../shared/contract/settings.std';
import type { MkmError } from '../../shared/errors.std';
import { asMkmError, mkm } from './api.dom';
import { AuditScreen } from './audit/AuditScreen.dom';
import { CeremonyScreen } from './ceremony/CeremonyScreen.dom';
import { ConsoleScreen } from './console/ConsoleScreen.dom';
import { DashboardScreen } from './dashboard/DashboardScreen.dom';
import { GatewayScreen } from './gateway/GatewayScreen.dom';
import { ComplianceScreen } from './report/ComplianceScreen.dom';
import { KeysScreen } from './keys/KeysScreen.dom';
import { LoginDialog } from './tokens/LoginDialog.dom';
import { TokenProvider, tokenKeys, tokenLabel, useTokens } from './tokens/TokenContext.dom';
import { TokensScreen } from './tokens/TokensScreen.dom';
import { TokenWaitingBadge } from './tokens/TokenWait.dom';
import { DemoBadge } from './ui/bits.dom';
import { useTheme } from './useTheme.dom';
import { Timestamp } from './ui/Timestamp.dom';

const SECTIONS = [
  { id: 'status', label: 'Dashboard' },
  { id: 'tokens', label: 'Tokens' },
  { id: 'keys', label: 'Keys' },
  { id: 'gateway', label: 'Gateway' },
  { id: 'audit', label: 'Audit' },
  { id: 'compliance', label: 'Compliance' },
  { id: 'ceremony', label: 'Ceremony' },
  { id: 'console', label: 'Console' },
] as const;
type SectionId = (typeof SECTIONS)[number]['id'];

interface Notice {
  level: 'info' | 'warning' | 'error';
  message: string;
  code?: string | undefined;
}

export function App() {
  return (
    <TokenProvider>
      <Shell />
    </TokenProvider>
  );
}

function Shell() {
  const queryClient = useQueryClient();
  const [notices, setNotices] = useState<Notice[]>([]);
  const [section, setSection] = useState<SectionId>('status');
  const status = useQuery({ queryKey: ['app.status'], queryFn: () => mkm().app.status() });
  const settingsQuery = useQuery({ queryKey: ['settings'], queryFn: () => mkm().settings.get() });
  const updateSettings = useMutation({
    mutationFn: (patch: Partial<Settings>) => mkm().settings.update(patch),
    onSuccess: (next) => queryClient.setQueryData(['settings'], next),
  });
  const settings = settingsQuery.data;
  useTheme(settings?.theme);

  useEffect(() => mkm().events.on('app.notice', (n) => setNotices((all) => [...all, n])), []);

  const failure = status.error ?? settingsQuery.error ?? updateSettings.error;
  const error: MkmError | null = failure ? asMkmError(failure) : null;
  const retry = () => {
    updateSettings.reset();
    void status.refetch();
    void settingsQuery.refetch();
  };
  const changeTheme = (theme: Settings['theme']) => updateSettings.mutate({ theme });

  return (
    <div className="shell">
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            ◆
          </span>
          Merchant Key Manager
        </div>
        <TokenChip onOpenTokens={() => setSection('tokens')} />
        <TokenWaitingBadge />
        <label className="theme-picker">
          Theme
          <select
            aria-label="Theme"
            value={settings?.theme ?? 'system'}
            onChange={(e) => changeTheme(e.target.value as Settings['theme'])}
          >
            {THEMES.map((t) => (
              <option key={t} value={t}>
                {t[0]!.toUpperCase() + t.slice(1)}
              </option>
            ))}
          </select>
        </label>
      </header>
      <Tabs.Root
        className="body"
        orientation="vertical"
        value={section}
        onValueChange={(v) => setSection(v as SectionId)}
      >
        <nav className="sidebar" aria-label="Sections">
          <Tabs.List aria-label="Sections" className="nav-list">
            {SECTIONS.map((s) => (
              <Tabs.Trigger
                key={s.id}
                value={s.id}
                className="nav-item"
                disabled={'later' in s}
                title={'later' in s ? 'Coming in a later version' : undefined}
              >
                {s.label}
                {'later' in s && <span className="soon">later</span>}
              </Tabs.Trigger>
            ))}
          </Tabs.List>
        </nav>
        <main className="content">
          {notices.map((n, i) => (
            <div key={i} role="status" className={`notice notice-${n.level}`}>
              <span>
                {n.message} {n.code && <code className="code-chip">{n.code}</code>}
              </span>
              <button
                type="button"
                className="link"
                onClick={() => setNotices((all) => all.filter((_, j) => j !== i))}
              >
                Dismiss
              </button>
            </div>
          ))}
          <TokenBanners />
          {error && (
            <div role="alert" className="notice notice-error">
              <span>
                <strong>{error.message}</strong> <code className="code-chip">{error.code}</code>
              </span>
              <button type="button" className="push-right" onClick={retry}>
                Try again
              </button>
            </div>
          )}
          <Tabs.Content value="status" className="panel" tabIndex={-1}>
            <h1>Dashboard</h1>
            <DashboardScreen onOpenSection={setSection} />
            {status.isPending && !error && <p className="muted">Loading…</p>}
            {status.data && <StatusCard status={status.data} />}
          </Tabs.Content>
          <Tabs.Content value="tokens" className="panel" tabIndex={-1} forceMount>
            <h1>Tokens</h1>
            <TokensScreen />
          </Tabs.Content>
          {/* Kept mounted: a running key generation, the search and the selection survive a visit
              to another section. */}
          <Tabs.Content value="keys" className="panel" tabIndex={-1} forceMount>
            <h1>Keys</h1>
            <KeysScreen />
          </Tabs.Content>
          {/* Mounted on each visit: the log is read again, with what happened elsewhere since. */}
          <Tabs.Content value="audit" className="panel" tabIndex={-1}>
            <h1>Audit</h1>
            <AuditScreen />
          </Tabs.Content>
          <Tabs.Content value="gateway" className="panel" tabIndex={-1}>
            <h1>Gateway</h1>
            <GatewayScreen />
          </Tabs.Content>
          <Tabs.Content value="compliance" className="panel" tabIndex={-1}>
            <h1>Compliance</h1>
            <ComplianceScreen />
          </Tabs.Content>
          {/* Mounted on each visit: the journals are read again, and nothing typed at a step (a
              passphrase, a component) outlives leaving the section; a running one is resumed. */}
          <Tabs.Content value="ceremony" className="panel" tabIndex={-1}>
            <h1>Ceremony</h1>
            <CeremonyScreen />
          </Tabs.Content>
          {/* Kept mounted: a batch in progress and the composed payload survive a visit elsewhere. */}
          <Tabs.Content value="console" className="panel" tabIndex={-1} forceMount>
            <h1>Console</h1>
            <ConsoleScreen />
          </Tabs.Content>
        </main>
      </Tabs.Root>
      <LoginDialog />
    </div>
  );
}

function StatusCard({ status }: { status: AppStatus }) {
  const rows: [string, ReactNode][] = [
    ['Version', `${status.app.version}${status.app.packaged ? '' : ' (development)'}`],
    ['Mode', status.mode === 'browser' ? 'Browser mode (services in Node)' : status.mode],
    ['Data folder', status.dataDir],
    ['Settings store', status.store.ok ? 'OK' : `Restored from ${status.store.restoredFrom ?? 'defaults'}`],
    [
      'PKCS#11 library',
      status.hsm.modulePath ??
        (status.hsm.demo ? 'The demo token (SoftHSM2), loaded on first use' : 'None chosen yet'),
    ],
    [
      'Runtime',
      `Node ${status.runtime.node}${status.runtime.electron ? `, Electron ${status.runtime.electron}` : ''} on ${status.runtime.platform}/${status.runtime.arch}`,
    ],
    ['Started', <Timestamp key="started" at={status.startedAt} />],
  ];
  return (
    <section className="card" aria-label="App status" data-testid="status-card">
      <dl className="facts">
        {rows.map(([k, v]) => (
          <div key={k} className="fact">
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

/** The token in use, in the header on every screen: its label, DEMO, and login state. */
function TokenChip({ onOpenTokens }: { onOpenTokens: () => void }) {
  const { activeSlot, isDemoSlot, openLogin, modules } = useTokens();
  const queryClient = useQueryClient();
  const logout = useMutation({
    mutationFn: (slotId: number) => mkm().tokens.logout({ slotId }),
    onSettled: () => {
      queryClient.removeQueries({ queryKey: ['keys'] });
      void queryClient.invalidateQueries({ queryKey: tokenKeys.list });
    },
  });
  if (modules.data && !modules.data.path) {
    return (
      <button type="button" className="token-chip" onClick={onOpenTokens}>
        No PKCS#11 library — choose one
      </button>
    );
  }
  if (!activeSlot) return <span className="token-chip muted">No token</span>;
  const loggedIn = activeSlot.session.loggedIn;
  const usable = Boolean(activeSlot.token?.flags.tokenInitialized);
  return (
    <div className="token-chip" aria-label="Token in use" role="group">
      <button type="button" className="link-button" onClick={onOpenTokens}>
        {tokenLabel(activeSlot)}
      </button>
      {isDemoSlot(activeSlot) && <DemoBadge />}
      <span className={`dot ${loggedIn ? 'dot-on' : ''}`} aria-hidden="true" />
      <span className="muted small">{loggedIn ? 'Logged in' : 'Logged out'}</span>
      {activeSlot.token?.flags.loginRequired === false && (
        <span className="muted small" data-testid="token-no-login" title="CKF_LOGIN_REQUIRED is clear">
          · needs no login
        </span>
      )}
      {loggedIn ? (
        <button type="button" onClick={() => logout.mutate(activeSlot.slotId)} disabled={logout.isPending}>
          Log out
        </button>
      ) : (
        usable && (
          <button type="button" className="primary" onClick={() => openLogin(activeSlot.slotId)}>
            Log in…
          </button>
        )
      )}
    </div>
  );
}

/** Connection, insert/remove and automatic-logout news from the token, on every screen. */
function TokenBanners() {
  const { banners, dismissBanner, openLogin, activeSlot } = useTokens();
  return (
    <>
      {banners.map((b) => (
        <div
          key={b.id}
          role={b.level === 'info' ? 'status' : 'alert'}
          className={`notice notice-${b.level}`}
          data-testid="token-banner"
        >
          <span>{b.message}</span>
          {b.offerLogin && activeSlot?.token?.flags.tokenInitialized && !activeSlot.session.loggedIn && (
            <button type="button" className="primary push-right" onClick={() => openLogin(activeSlot.slotId)}>
              Log in…
            </button>
          )}
          <button type="button" className="link" onClick={() => dismissBanner(b.id)}>
            Dismiss
          </button>
        </div>
      ))}
    </>
  );
}
