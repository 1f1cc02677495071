import { useMutation, useQuery } from '@tanstack/react-query';
import { useId, useState } from 'react';
import type { Diagnosis, DiagnosisFinding } from '../../../shared/contract/troubleshoot.std';
import { mkm } from '../api.dom';
import { gatewayKeys } from '../gateway/format.dom';
import { useTokens } from '../tokens/TokenContext.dom';
import { Badge, ErrorNotice, type BadgeTone } from '../ui/bits.dom';
import './troubleshoot.css';

/**
 * The troubleshooter: paste anything (a base64 or hex ciphertext, a CSE field, a request body,
 * an envelope, a PEM), pick the gateway profile and token it concerns, and read the findings,
 * most severe first, each with what is wrong in plain words and how to fix it. The paste is
 * sent for diagnosis only; the app keeps nothing of it but its length.
 */

const TONE: Record<DiagnosisFinding['severity'], BadgeTone> = {
  error: 'danger',
  warning: 'warn',
  info: 'info',
  ok: 'ok',
};
const WORD: Record<DiagnosisFinding['severity'], string> = {
  error: 'Problem',
  warning: 'Warning',
  info: 'Note',
  ok: 'OK',
};

const MAX_CHARS = 256 * 1024;

function FindingItem({ f }: { f: DiagnosisFinding }) {
  const evidence = Object.entries(f.evidence);
  return (
    <li className={`ts-finding ts-${f.severity}`} data-code={f.code}>
      <div className="ts-finding-head">
        <Badge tone={TONE[f.severity]}>{WORD[f.severity]}</Badge>
        <strong>{f.title}</strong>
        <code className="code-chip push-right">{f.code}</code>
      </div>
      {f.explanation && <p className="ts-explanation">{f.explanation}</p>}
      {f.fix && (
        <p className="ts-fix">
          <span className="ts-fix-label">How to fix: </span>
          {f.fix}
        </p>
      )}
      {evidence.length > 0 && (
        <details className="ts-evidence">
          <summary>Evidence ({evidence.length})</summary>
          <dl>
            {evidence.map(([k, v]) => (
              <div key={k} className="ts-evidence-row">
                <dt>{k}</dt>
                <dd className="mono">{v === null ? '—' : String(v)}</dd>
              </div>
            ))}
          </dl>
        </details>
      )}
    </li>
  );
}

function Result({ d }: { d: Diagnosis }) {
  const counts = d.findings.reduce<Record<string, number>>(
    (acc, f) => ({ ...acc, [f.severity]: (acc[f.severity] ?? 0) + 1 }),
    {},
  );
  return (
    <section className="card ts-result" aria-label="Diagnosis">
      <div className="card-title">
        <h3 className="ts-h">Diagnosis</h3>
        <span className="muted small">
          read as <strong>{d.kind}</strong>, {d.input.chars} characters
          {d.profileId ? `, profile ${d.profileId}` : ''}
          {d.slotId !== null ? `, token slot ${d.slotId}` : ''}
        </span>
        <span className="push-right badges" role="status">
          {(['error', 'warning', 'ok'] as const).map((s) =>
            counts[s] ? (
              <Badge key={s} tone={TONE[s]}>
                {counts[s]}{' '}
                {s === 'ok'
                  ? 'ok'
                  : s === 'error'
                    ? counts[s] === 1
                      ? 'problem'
                      : 'problems'
                    : counts[s] === 1
                      ? 'warning'
                      : 'warnings'}
              </Badge>
            ) : null,
          )}
        </span>
      </div>
      {d.findings.length === 0 ? (
        <p className="empty">Nothing to report.</p>
      ) : (
        <ol className="ts-findings" aria-label="Findings, most severe first">
          {d.findings.map((f, i) => (
            <FindingItem key={`${f.code}-${i}`} f={f} />
          ))}
        </ol>
      )}
      {d.skipped.length > 0 && (
        <div className="notice notice-info ts-skipped">
          <strong>Not checked</strong>
          <ul>
            {d.skipped.map((s) => (
              <li key={s}>{s}</li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}

export function TroubleshootPanel() {
  const ids = { input: useId(), profile: useId(), slot: useId() };
  const [input, setInput] = useState('');
  const [profileId, setProfileId] = useState('');
  const [slotId, setSlotId] = useState('');
  // The app's own profile and slot queries (not copies): they follow main's state events.
  const profiles = useQuery({ queryKey: gatewayKeys.profiles, queryFn: () => mkm().gateway.listProfiles() });
  const { slots } = useTokens();
  const loggedIn = (slots.data ?? []).filter((s) => s.token && s.session.loggedIn);
  const run = useMutation({
    mutationFn: () =>
      mkm().troubleshoot.diagnose({
        input,
        ...(profileId ? { profileId } : {}),
        ...(slotId ? { slotId: Number(slotId) } : {}),
      }),
  });
  const tooLong = input.length > MAX_CHARS;

  return (
    <div className="stack ts">
      <form
        className="card"
        aria-label="Troubleshoot a payload"
        onSubmit={(e) => {
          e.preventDefault();
          if (!tooLong) run.mutate();
        }}
      >
        <div className="field">
          <label htmlFor={ids.input}>Paste anything</label>
          <span className="muted small" id={`${ids.input}-help`}>
            A base64 or hex ciphertext, a CSE field, a whole request body, a key-rolling envelope, or a public
            key PEM. Do not paste private keys or card data in clear: if you do, the diagnosis says so and
            keeps nothing.
          </span>
          <textarea
            id={ids.input}
            className="ts-input mono"
            aria-describedby={`${ids.input}-help`}
            value={input}
            spellCheck={false}
            autoComplete="off"
            rows={10}
            onChange={(e) => setInput(e.target.value)}
          />
          {tooLong && (
            <span className="notice notice-warning">Over 256 KiB: paste one payload at a time.</span>
          )}
        </div>
        <div className="toolbar">
          <div className="field">
            <label htmlFor={ids.profile}>Gateway profile</label>
            <select id={ids.profile} value={profileId} onChange={(e) => setProfileId(e.target.value)}>
              <option value="">
                {(profiles.data?.length ?? 0) === 1 ? 'The only profile' : 'None (compare with all)'}
              </option>
              {(profiles.data ?? []).map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name} ({p.baseUrl})
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor={ids.slot}>Token</label>
            <select id={ids.slot} value={slotId} onChange={(e) => setSlotId(e.target.value)}>
              <option value="">
                {loggedIn.length ? 'The logged-in token' : 'None logged in (token keys not tried)'}
              </option>
              {loggedIn.map((s) => (
                <option key={s.slotId} value={String(s.slotId)}>
                  {s.token!.label} (slot {s.slotId})
                </option>
              ))}
            </select>
          </div>
          <div className="button-row push-right">
            <button
              type="button"
              onClick={() => {
                setInput('');
                run.reset();
              }}
              disabled={!input && !run.data}
            >
              Clear
            </button>
            <button type="submit" className="primary" disabled={!input.trim() || tooLong || run.isPending}>
              {run.isPending ? 'Diagnosing…' : 'Diagnose'}
            </button>
          </div>
        </div>
      </form>
      {run.error && <ErrorNotice error={run.error} onRetry={() => run.mutate()} />}
      {run.data && <Result d={run.data} />}
    </div>
  );
}
