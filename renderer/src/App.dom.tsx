import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import type { AppStatus, Settings } from '../../shared/contract.std';
import { THEMES } from '../../shared/contract.std';
import type { MkmError } from '../../shared/errors.std';
import { asMkmError, mkm } from './api.dom';
import { useTheme } from './useTheme.dom';

interface Notice {
  level: 'info' | 'warning' | 'error';
  message: string;
  code?: string | undefined;
}

export function App() {
  const queryClient = useQueryClient();
  const [notices, setNotices] = useState<Notice[]>([]);
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
      <main className="content">
        {notices.map((n, i) => (
          <div key={i} role="status" className={`notice notice-${n.level}`}>
            {n.message}
            <button
              type="button"
              className="link"
              onClick={() => setNotices((all) => all.filter((_, j) => j !== i))}
            >
              Dismiss
            </button>
          </div>
        ))}
        {error && (
          <div role="alert" className="notice notice-error">
            <strong>{error.message}</strong> <code>{error.code}</code>
            <button type="button" onClick={retry}>
              Try again
            </button>
          </div>
        )}
        <h1>Status</h1>
        {status.isPending && !error && <p className="muted">Loading…</p>}
        {status.data && <StatusCard status={status.data} />}
      </main>
    </div>
  );
}

function StatusCard({ status }: { status: AppStatus }) {
  const rows: [string, string][] = [
    ['Version', `${status.app.version}${status.app.packaged ? '' : ' (development)'}`],
    ['Mode', status.mode === 'browser' ? 'Browser mode (services in Node)' : status.mode],
    ['Data folder', status.dataDir],
    ['Settings store', status.store.ok ? 'OK' : `Restored from ${status.store.restoredFrom ?? 'defaults'}`],
    ['PKCS#11 library', status.hsm.modulePath ?? 'None chosen yet'],
    [
      'Runtime',
      `Node ${status.runtime.node}${status.runtime.electron ? `, Electron ${status.runtime.electron}` : ''} on ${status.runtime.platform}/${status.runtime.arch}`,
    ],
    ['Started', new Date(status.startedAt).toLocaleString()],
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
