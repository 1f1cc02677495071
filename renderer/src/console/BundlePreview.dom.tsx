import { useId, useMemo, useState, type ReactNode } from 'react';

/**
 * The support bundle as an admin reads it before sending it: one collapsible section per part of
 * the bundle, each value on its own line and wrapped (no sideways scroll), and a search that keeps
 * only the lines that match (highlighted) and opens the sections that hold them. The raw JSON,
 * byte for byte what is saved, stays one click away.
 */

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** A leaf of the tree, with the path that leads to it (for the search). */
interface Line {
  path: string[];
  value: string;
}

function lines(value: Json, path: string[] = []): Line[] {
  if (value === null || typeof value !== 'object') return [{ path, value: scalar(value) }];
  const entries: [string, Json][] = Array.isArray(value)
    ? value.map((v, i) => [`#${i + 1}`, v])
    : Object.entries(value);
  if (entries.length === 0) return [{ path, value: Array.isArray(value) ? '(none)' : '(empty)' }];
  return entries.flatMap(([k, v]) => lines(v, [...path, k]));
}

function scalar(value: string | number | boolean | null): string {
  return value === null ? '—' : String(value);
}

function matches(line: Line, query: string): boolean {
  return line.value.toLowerCase().includes(query) || line.path.some((p) => p.toLowerCase().includes(query));
}

/** The text with each occurrence of the query marked. */
function Highlight({ text, query }: { text: string; query: string }): ReactNode {
  if (!query) return text;
  const out: ReactNode[] = [];
  const lower = text.toLowerCase();
  let at = 0;
  for (let hit = lower.indexOf(query); hit !== -1; hit = lower.indexOf(query, at)) {
    if (hit > at) out.push(text.slice(at, hit));
    out.push(<mark key={hit}>{text.slice(hit, hit + query.length)}</mark>);
    at = hit + query.length;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

/** Byte for byte what is saved, wrapped. */
function RawBundle({ content }: { content: string }) {
  return (
    <pre
      className="bundle-raw mono"
      tabIndex={0}
      aria-label="The support bundle, exactly as it will be saved"
    >
      {content}
    </pre>
  );
}

export function BundlePreview({ content }: { content: string }) {
  const searchId = useId();
  const [search, setSearch] = useState('');
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const parsed = useMemo(() => {
    try {
      const value = JSON.parse(content) as Json;
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
      const entries = Object.entries(value);
      // The top-level facts (format, version, time, notice) read as one section of their own.
      const facts = entries.filter(([, v]) => v === null || typeof v !== 'object');
      const parts = entries.filter(([, v]) => v !== null && typeof v === 'object');
      return [
        ...(facts.length
          ? [
              {
                name: 'bundle',
                lines: facts.map(([k, v]) => ({
                  path: [k],
                  value: scalar(v as string | number | boolean | null),
                })),
              },
            ]
          : []),
        ...parts.map(([name, v]) => ({ name, lines: lines(v) })),
      ];
    } catch {
      return null;
    }
  }, [content]);
  const query = search.trim().toLowerCase();

  if (!parsed) {
    // Not the JSON object expected: shown as it is, wrapped.
    return <RawBundle content={content} />;
  }
  const shown = parsed.map((s) => ({
    ...s,
    // A section named by the search shows whole.
    hits: query && !s.name.toLowerCase().includes(query) ? s.lines.filter((l) => matches(l, query)) : s.lines,
  }));
  const hitCount = shown.reduce((n, s) => n + (query ? s.hits.length : 0), 0);
  const sectionsHit = shown.filter((s) => s.hits.length > 0).length;
  const toggle = (name: string, isOpen: boolean) =>
    setOpen((all) => {
      const next = new Set(all);
      if (isOpen) next.add(name);
      else next.delete(name);
      return next;
    });

  return (
    <div className="stack bundle-preview">
      <div className="bundle-tools">
        <div className="field">
          <label htmlFor={searchId}>Search the bundle</label>
          <input
            id={searchId}
            type="search"
            value={search}
            spellCheck={false}
            onChange={(e) => setSearch(e.target.value)}
            aria-describedby={`${searchId}-count`}
          />
        </div>
        <div className="button-row">
          <button type="button" onClick={() => setOpen(new Set(parsed.map((s) => s.name)))}>
            Expand all
          </button>
          <button type="button" onClick={() => setOpen(new Set())}>
            Collapse all
          </button>
        </div>
        <span id={`${searchId}-count`} className="muted small" role="status">
          {query
            ? `${hitCount.toLocaleString()} matching line${hitCount === 1 ? '' : 's'} in ${sectionsHit} section${sectionsHit === 1 ? '' : 's'}`
            : `${parsed.length} sections`}
        </span>
      </div>
      {shown.map((s) =>
        query && s.hits.length === 0 ? null : (
          <details
            key={s.name}
            className="bundle-section"
            data-section={s.name}
            // While searching, the sections that hold a match are open.
            open={query ? true : open.has(s.name)}
            onToggle={(e) => {
              if (!query) toggle(s.name, e.currentTarget.open);
            }}
          >
            <summary>
              <strong>
                <Highlight text={s.name} query={query} />
              </strong>{' '}
              <span className="muted small">
                {query
                  ? `${s.hits.length} of ${s.lines.length} lines`
                  : `${s.lines.length} line${s.lines.length === 1 ? '' : 's'}`}
              </span>
            </summary>
            <dl className="bundle-lines">
              {s.hits.map((l, i) => (
                <div key={i} className="bundle-line">
                  <dt>{l.path.length ? <Highlight text={l.path.join(' › ')} query={query} /> : s.name}</dt>
                  <dd>
                    <Highlight text={l.value} query={query} />
                  </dd>
                </div>
              ))}
            </dl>
          </details>
        ),
      )}
      <details className="bundle-section">
        <summary>The file exactly as it will be saved (raw JSON)</summary>
        <RawBundle content={content} />
      </details>
    </div>
  );
}
