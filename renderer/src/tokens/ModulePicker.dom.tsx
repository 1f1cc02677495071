import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import type { ModuleState } from '../../../shared/contract/tokens.std';
import { mkm } from '../api.dom';
import { Badge, DemoBadge, ErrorNotice, Facts } from '../ui/bits.dom';
import { tokenKeys } from './TokenContext.dom';

/** The PKCS#11 library in use (with its C_GetInfo) and the way to choose another one. */
export function ModulePicker({ state }: { state: ModuleState }) {
  const queryClient = useQueryClient();
  const [path, setPath] = useState('');
  const [params, setParams] = useState('');
  const ids = useId();
  const select = useMutation({
    // A page never names a library file: it picks one main knows, or main's own dialog picks it.
    mutationFn: (
      req:
        | { browse: true; libraryParameters: string | null }
        | { path: string | null; demo?: boolean; libraryParameters?: string | null },
    ) =>
      'browse' in req
        ? mkm().tokens.browseModule({ libraryParameters: req.libraryParameters })
        : mkm().tokens.selectModule(req),
    onSuccess: (next) => {
      if (!next) return; // the dialog was cancelled
      queryClient.setQueryData(tokenKeys.modules, next);
      void queryClient.invalidateQueries({ queryKey: ['tokens'] });
      queryClient.removeQueries({ queryKey: ['keys'] });
    },
  });
  const wellKnown = dedupe(state.wellKnown);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!path) return;
    select.mutate({ path, libraryParameters: params.trim() ? params.trim() : null });
  };

  const info = state.info;
  return (
    <section className="card" aria-labelledby={`${ids}-h`}>
      <h2 id={`${ids}-h`} className="card-title">
        PKCS#11 library {state.demo && <DemoBadge />}
        <Badge tone="neutral">{sourceText(state.source)}</Badge>
      </h2>
      {state.error && <ErrorNotice error={state.error} />}
      <Facts
        label="Library in use"
        rows={[
          ['File', state.path ? <code>{state.path}</code> : 'None chosen yet'],
          ...(info
            ? ([
                ['Manufacturer', info.manufacturer],
                ['Description', info.libraryDescription],
                ['Library version', info.libraryVersion],
                ['Cryptoki (PKCS#11) version', info.cryptokiVersion],
              ] as [string, string][])
            : []),
          ...(state.demo
            ? ([
                [
                  'Demo token',
                  `“${state.demoLabel ?? 'MKM Demo'}” in the app’s data folder. User PIN 123456, SO PIN 12345678 — for trying the app only.`,
                ],
              ] as [string, string][])
            : []),
        ]}
      />
      <details className="choose">
        <summary>Use another library…</summary>
        <form onSubmit={submit} className="stack">
          <div className="field">
            <label htmlFor={`${ids}-known`}>Installed libraries we know</label>
            <select
              id={`${ids}-known`}
              value={wellKnown.some((m) => m.path === path) ? path : ''}
              onChange={(e) => setPath(e.target.value)}
              aria-describedby={`${ids}-known-help`}
            >
              <option value="">Choose…</option>
              {wellKnown.map((m) => (
                <option key={m.path} value={m.path}>
                  {m.name} ({m.vendor}) — {m.path}
                </option>
              ))}
            </select>
          </div>
          <p id={`${ids}-known-help`} className="muted small">
            {state.canBrowse
              ? 'Another library: Browse… opens the file dialog.'
              : 'Browser mode loads only these: to offer another library, start it with npm run browser -- --module /path/to/library.so (or MKM_MODULE).'}
          </p>
          <details>
            <summary>Advanced</summary>
            <div className="field">
              <label htmlFor={`${ids}-params`}>Library parameters</label>
              <input
                id={`${ids}-params`}
                value={params}
                onChange={(e) => setParams(e.target.value)}
                spellCheck={false}
                autoComplete="off"
                aria-describedby={`${ids}-params-help`}
              />
              <p id={`${ids}-params-help`} className="muted small">
                Passed to C_Initialize as the library’s initialization string. Only some libraries (NSS
                softokn) need it; leave it empty otherwise.
              </p>
            </div>
          </details>
          {select.error && <ErrorNotice error={select.error} />}
          <div className="button-row">
            <button type="submit" className="primary" disabled={!path || select.isPending}>
              {select.isPending ? 'Loading library…' : 'Use this library'}
            </button>
            {state.canBrowse && (
              <button
                type="button"
                disabled={select.isPending}
                onClick={() =>
                  select.mutate({ browse: true, libraryParameters: params.trim() ? params.trim() : null })
                }
              >
                Browse…
              </button>
            )}
            {state.demoAvailable && !state.demo && (
              <button
                type="button"
                disabled={select.isPending}
                onClick={() => select.mutate({ path: null, demo: true })}
              >
                Use the demo token
              </button>
            )}
          </div>
        </form>
      </details>
    </section>
  );
}

function dedupe(list: ModuleState['wellKnown']) {
  const seen = new Set<string>();
  return list.filter((m) => !seen.has(m.path) && seen.add(m.path));
}

function sourceText(source: ModuleState['source']): string {
  switch (source) {
    case 'demo':
      return 'Demo token';
    case 'override':
      return 'Set on the command line';
    case 'settings':
      return 'Your choice';
    default:
      return 'Not set';
  }
}
