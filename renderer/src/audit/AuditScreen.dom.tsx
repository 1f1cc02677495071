import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type ReactNode } from 'react';
import type { AuditEntryView } from '../../../shared/contract.std';
import type { AuditVerifyReport } from '../../../shared/contract/audit.std';
import { mkm } from '../api.dom';
import { useTokens } from '../tokens/TokenContext.dom';
import { Badge, CopyButton, ErrorNotice, Facts, Loading } from '../ui/bits.dom';
import { AuditRecovery } from './AuditRecovery.dom';
import { AuditTable } from './AuditTable.dom';
import {
  ACTION_PREFIXES,
  EMPTY_FILTER,
  MIME,
  downloadText,
  exportContents,
  exportFileName,
  isFiltered,
  localTime,
  resultTone,
  toFilter,
  tokenText,
  verifySummary,
  type AuditFilter,
  type FilterForm,
} from './auditFormat.dom';
import { formatKcv } from '../../../shared/wording.std';
import { useVersionNames } from '../lifecycle/queries.dom';
import { useSavedWhere } from '../ui/savedWhere.dom';

/** The newest this many matching entries are listed (the export has them all). */
const LIMIT = 5000;

export function AuditScreen() {
  // Read again now and then: the log can become unavailable (or recovered) by any call or login.
  const status = useQuery({
    queryKey: ['audit', 'status'],
    queryFn: () => mkm().audit.status(),
    refetchInterval: 5000,
  });
  return (
    <div className="stack">
      {status.error && <ErrorNotice error={status.error} onRetry={() => void status.refetch()} />}
      {status.data && <AuditRecovery status={status.data} />}
      {status.data && !status.data.open && !status.data.unavailable && (
        <div role="alert" className="notice notice-error">
          <span>
            <strong>The audit log is not open.</strong>{' '}
            {status.data.error && <code className="code-chip">{status.data.error}</code>}{' '}
            {status.data.held > 0 &&
              `${status.data.held.toLocaleString()} new entries are held in memory until it is repaired.`}
          </span>
        </div>
      )}
      <VerifyPanel />
      <AuditEntries />
    </div>
  );
}

// ---------------------------------------------------------------- verify

function VerifyPanel() {
  const queryClient = useQueryClient();
  const { activeSlot } = useTokens();
  const loggedIn = Boolean(activeSlot?.session.loggedIn);
  const verify = useMutation({
    mutationFn: () => mkm().audit.verify(),
    // Verifying is itself an audited action: the list gains an entry.
    onSettled: () => void queryClient.invalidateQueries({ queryKey: ['audit', 'query'] }),
  });
  return (
    <section className="card audit-verify" aria-labelledby="audit-verify-title">
      <div className="section-head">
        <h2 id="audit-verify-title">Integrity</h2>
        <button
          type="button"
          className="primary push-right"
          onClick={() => verify.mutate()}
          disabled={verify.isPending}
        >
          {verify.isPending ? 'Verifying…' : 'Verify the log'}
        </button>
      </div>
      <div role="status" aria-live="polite" data-testid="audit-verify-result">
        {verify.isPending && <p className="muted">Checking the chain and the seals…</p>}
        {verify.data && !verify.isPending && <VerifyResult report={verify.data} loggedIn={loggedIn} />}
        {!verify.data && !verify.isPending && !verify.error && (
          <p className="muted">
            Checks every entry’s link to the one before it, the seals the token made over them, and that
            nothing was cut off the end.
          </p>
        )}
      </div>
      {verify.error && <ErrorNotice error={verify.error} onRetry={() => verify.mutate()} />}
    </section>
  );
}

function VerifyResult({ report: r, loggedIn }: { report: AuditVerifyReport; loggedIn: boolean }) {
  const seals = !r.sealsVerified
    ? `Seals not checked on the token${r.sealError ? ` (${r.sealError})` : ''}: log in to the token to check them.`
    : r.seals === 0
      ? 'No seals yet: nothing to check on the token.'
      : `${r.seals.toLocaleString()} ${r.seals === 1 ? 'seal' : 'seals'} checked on the token, through entry ${r.sealedThrough.toLocaleString()}.`;
  return (
    <div className="verify-result">
      <p className="verify-line">
        {r.ok ? <Badge tone="ok">OK</Badge> : <Badge tone="danger">TAMPERED</Badge>}{' '}
        <strong data-testid="audit-verify-summary">{verifySummary(r)}</strong>
      </p>
      {r.firstBad && (
        <Facts
          label="First bad entry"
          rows={[
            ['Entry (seq)', r.firstBad.seq ?? '—'],
            ['Line', r.firstBad.line || '—'],
            ['Problem', r.firstBad.kind],
            ['Reason', r.firstBad.reason],
          ]}
        />
      )}
      <p data-testid="audit-verify-seals">
        <Badge tone={r.sealsVerified ? (r.seals > 0 ? 'ok' : 'neutral') : 'warn'}>
          {r.sealsVerified ? (r.seals > 0 ? 'Seals checked' : 'No seals') : 'Seals not checked'}
        </Badge>{' '}
        {seals}
      </p>
      {r.unsealed > 0 && (
        <p data-testid="audit-verify-unsealed">
          <Badge tone="info">Not sealed yet</Badge> {r.unsealed.toLocaleString()}{' '}
          {r.unsealed === 1 ? 'entry is' : 'entries are'} protected by the chain only
          {r.firstUnsealed ? ` (from entry ${r.firstUnsealed.seq.toLocaleString()})` : ''}.{' '}
          {loggedIn
            ? 'The token seals them within a few seconds while you stay logged in.'
            : 'Entries are sealed by the token’s audit key: log in to seal them.'}
        </p>
      )}
      {r.unconfirmed > 0 && (
        <p className="muted small">
          {r.unconfirmed.toLocaleString()} of the newest {r.unconfirmed === 1 ? 'entry was' : 'entries were'}{' '}
          written after the last recorded save point (normal while the app runs).
        </p>
      )}
    </div>
  );
}

// ---------------------------------------------------------------- entries

/** The value, once it stopped changing for `ms` (typing does not send a query per key). */
function useSettled<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setSettled(value), ms);
    return () => window.clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

function AuditEntries() {
  const [form, setForm] = useState<FilterForm>(EMPTY_FILTER);
  const settledForm = useSettled(form, 250);
  const parsed = toFilter(settledForm);
  const filter: AuditFilter | null = 'filter' in parsed ? parsed.filter : null;
  const filterKey = JSON.stringify(filter);
  const [selectedSeq, setSelectedSeq] = useState<number | null>(null);

  const query = useQuery({
    queryKey: ['audit', 'query', filterKey],
    queryFn: () => mkm().audit.query({ ...(filter && isFiltered(filter) ? { filter } : {}), limit: LIMIT }),
    enabled: filter !== null,
    placeholderData: (previous) => previous,
  });

  const set = <K extends keyof FilterForm>(k: K, v: FilterForm[K]) => setForm((f) => ({ ...f, [k]: v }));
  const rows = query.data?.entries ?? [];
  const selected = rows.find((e) => e.seq === selectedSeq) ?? null;
  const filtered = filter !== null && isFiltered(filter);
  const typing = form !== settledForm;

  return (
    <section className="stack" aria-label="Audit entries">
      <form
        className="audit-filters"
        aria-label="Filter the audit log"
        onSubmit={(e) => e.preventDefault()}
        onReset={(e) => {
          e.preventDefault();
          setForm(EMPTY_FILTER);
        }}
      >
        <div className="field">
          <label htmlFor="audit-action">Action</label>
          <input
            id="audit-action"
            list="audit-action-prefixes"
            placeholder="e.g. key."
            value={form.action}
            onChange={(e) => set('action', e.target.value)}
            autoComplete="off"
            spellCheck={false}
            aria-describedby="audit-action-hint"
          />
          <datalist id="audit-action-prefixes">
            {ACTION_PREFIXES.map((p) => (
              <option key={p} value={p} />
            ))}
          </datalist>
          <span id="audit-action-hint" className="sr-only">
            An exact action, or a family ending in a dot; a bare word means its family.
          </span>
        </div>
        <div className="field">
          <label htmlFor="audit-result">Result</label>
          <select
            id="audit-result"
            value={form.result}
            onChange={(e) => set('result', e.target.value as FilterForm['result'])}
          >
            <option value="">Any</option>
            <option value="ok">OK</option>
            <option value="error">Error</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="audit-key">Key ID</label>
          <input
            id="audit-key"
            placeholder="hex CKA_ID"
            value={form.keyId}
            onChange={(e) => set('keyId', e.target.value)}
            autoComplete="off"
            spellCheck={false}
          />
        </div>
        <div className="field audit-text">
          <label htmlFor="audit-text">Search</label>
          <input
            id="audit-text"
            type="search"
            placeholder="Any field"
            value={form.text}
            onChange={(e) => set('text', e.target.value)}
            autoComplete="off"
            spellCheck={false}
          />
        </div>
        <div className="field">
          <label htmlFor="audit-from">From</label>
          <input
            id="audit-from"
            type="datetime-local"
            value={form.from}
            onChange={(e) => set('from', e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="audit-to">To</label>
          <input
            id="audit-to"
            type="datetime-local"
            value={form.to}
            onChange={(e) => set('to', e.target.value)}
          />
        </div>
        <div className="field audit-filter-actions">
          <button type="reset" disabled={JSON.stringify(form) === JSON.stringify(EMPTY_FILTER)}>
            Clear filters
          </button>
        </div>
      </form>
      {'problem' in parsed && (
        <p role="alert" className="notice notice-warning">
          {parsed.problem}
        </p>
      )}

      <div className="toolbar">
        <span className="muted small" role="status" aria-live="polite" data-testid="audit-count">
          {query.data
            ? query.data.matched > rows.length
              ? `Newest ${rows.length.toLocaleString()} of ${query.data.matched.toLocaleString()} matching entries`
              : `${rows.length.toLocaleString()} ${rows.length === 1 ? 'entry' : 'entries'}${filtered ? ' match' : ''}`
            : ''}
          {typing || query.isFetching ? ' …' : ''}
        </span>
        <span className="push-right button-row">
          <button type="button" onClick={() => void query.refetch()} disabled={query.isFetching || !filter}>
            {query.isFetching ? 'Refreshing…' : 'Refresh'}
          </button>
        </span>
        <ExportButtons filter={filter} />
      </div>

      {query.error && <ErrorNotice error={query.error} onRetry={() => void query.refetch()} />}
      <div className="keys-layout">
        <div className="keys-main">
          {query.isPending && filter && !query.error ? (
            <Loading>Reading the audit log…</Loading>
          ) : (
            <AuditTable
              rows={rows}
              selectedSeq={selected?.seq ?? null}
              onSelect={(e) => setSelectedSeq(e.seq)}
              empty={
                query.error
                  ? 'The entries could not be read.'
                  : filtered
                    ? 'No entry matches the filters.'
                    : 'The audit log has no entries yet.'
              }
            />
          )}
        </div>
        <aside className="keys-side" aria-label="Selected audit entry">
          {selected ? (
            <EntryDetails entry={selected} />
          ) : (
            <p className="empty">Select an entry to see who did what, with which key, and how it ended.</p>
          )}
        </aside>
      </div>
    </section>
  );
}

function EntryDetails({ entry: e }: { entry: AuditEntryView }) {
  const details = e.details ? JSON.stringify(e.details, null, 2) : null;
  const version = useVersionNames().get(String(e.details?.versionId));
  return (
    <section className="card key-details" aria-label={`Audit entry ${e.seq}`}>
      <h3 className="card-title">
        <code>{e.action}</code> <Badge tone={resultTone(e.result)}>{e.result}</Badge>
      </h3>
      <Facts
        label="Entry"
        rows={[
          ['Entry (seq)', e.seq.toLocaleString()],
          [
            'Time',
            <>
              {localTime(e.time)}
              <br />
              <code className="small">{e.time}</code>
            </>,
          ],
          ['OS user', e.actor.osUser],
          ['Token', tokenText(e.actor) || 'None logged in'],
          ...(version ? ([['Managed version', version]] as [string, ReactNode][]) : []),
          ...(e.key
            ? ([
                [
                  'Key ID',
                  <code key="id" className="break">
                    {e.key.id || '(none)'}
                  </code>,
                ],
                ...(e.key.kcv ? [['KCV', <code key="kcv">{formatKcv(e.key.kcv)}</code>]] : []),
                ...(e.key.fingerprint
                  ? [
                      [
                        'SPKI SHA-256',
                        <code key="fp" className="break">
                          {e.key.fingerprint}
                        </code>,
                      ],
                    ]
                  : []),
              ] as [string, ReactNode][])
            : []),
        ]}
      />
      {details && (
        <div className="sub">
          <h4 className="small muted">Details</h4>
          <pre className="mono-block audit-details" tabIndex={0} aria-label="Entry details as JSON">
            {details}
          </pre>
        </div>
      )}
    </section>
  );
}

// ---------------------------------------------------------------- export

function ExportButtons({ filter }: { filter: AuditFilter | null }) {
  const savedText = useSavedWhere();
  const queryClient = useQueryClient();
  const [saved, setSaved] = useState<{
    fileName: string;
    format: 'json' | 'csv';
    filtered: boolean;
    content: string;
    shown: boolean;
    failed: boolean;
  } | null>(null);
  const exporter = useMutation({
    mutationFn: (format: 'json' | 'csv') =>
      mkm().audit.export({ format, ...(filter && isFiltered(filter) ? { filter } : {}) }),
    onSuccess: ({ format, content }) => {
      const filtered = filter !== null && isFiltered(filter);
      const fileName = exportFileName(format, new Date(), filtered);
      const ok = downloadText(content, fileName, MIME[format]);
      setSaved({ fileName, format, filtered, content, shown: !ok, failed: !ok });
    },
    // Exporting is audited: the list gains an entry.
    onSettled: () => void queryClient.invalidateQueries({ queryKey: ['audit', 'query'] }),
  });
  return (
    <>
      <button type="button" onClick={() => exporter.mutate('json')} disabled={exporter.isPending || !filter}>
        Export JSON
      </button>
      <button type="button" onClick={() => exporter.mutate('csv')} disabled={exporter.isPending || !filter}>
        Export CSV
      </button>
      {(saved || exporter.error) && (
        <div className="audit-export" role="group" aria-label="Export">
          {exporter.error && <ErrorNotice error={exporter.error} />}
          {saved && (
            <>
              <p role="status" className="small">
                {saved.failed ? (
                  <>This window cannot save files; copy the text of {saved.fileName} instead.</>
                ) : (
                  <>
                    {savedText(saved.fileName)}:{' '}
                    <span data-testid="audit-export-contents">
                      {exportContents(saved.format, saved.content)}
                    </span>
                    , {saved.filtered ? 'the entries matching the search above' : 'the whole log'}.{' '}
                    <button
                      type="button"
                      className="link-button"
                      onClick={() => setSaved({ ...saved, shown: !saved.shown })}
                    >
                      {saved.shown ? 'Hide the text' : 'Show the text'}
                    </button>
                  </>
                )}
              </p>
              {saved.shown && (
                <>
                  <textarea
                    className="mono-block"
                    readOnly
                    rows={10}
                    aria-label={`Exported ${saved.fileName}`}
                    value={saved.content}
                  />
                  <div className="button-row">
                    <CopyButton text={saved.content} label="Copy" />
                    <button type="button" className="link-button" onClick={() => setSaved(null)}>
                      Close
                    </button>
                  </div>
                </>
              )}
            </>
          )}
        </div>
      )}
    </>
  );
}
