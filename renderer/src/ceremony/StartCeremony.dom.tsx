import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import {
  CEREMONY_KEY_PURPOSES,
  COMPONENT_KEY_TYPES,
  type CeremonyTemplate,
} from '../../../shared/ceremony/script.std';
import type { CeremonyReview } from '../../../shared/contract/ceremony.std';
import { mkm } from '../api.dom';
import { tokenLabel, useTokens } from '../tokens/TokenContext.dom';
import { ErrorNotice, Loading } from '../ui/bits.dom';
import {
  EMPTY_PARAMS,
  paramsFromForm,
  PURPOSE_NAMES,
  ROLE_NAMES,
  signingKeys,
  TEMPLATE_FIELDS,
  type ParamsForm,
} from './ceremonyModel.dom';
import { HashAloud } from './HashAloud.dom';
import { backupRecordOf } from './shareField.dom'; // M-of-N shares

const FIELD_LABELS: Record<keyof Omit<ParamsForm, 'template'>, string> = {
  keyType: 'Key type',
  components: 'Components',
  label: 'Label',
  purpose: 'Purpose',
  keyId: 'Key id (hex)',
  kbpkId: 'KBPK id (hex)',
  shares: 'Shares',
  threshold: 'Threshold',
  backup: 'Backup record (.kek-backup.json)', // M-of-N shares
  usage: 'Key usage (TR-31)',
  modeOfUse: 'Mode of use',
  exportability: 'Exportability',
  kbpkType: 'KBPK type (if the token does not tell)',
};

/**
 * A new ceremony: a template and its parameters, the token and the key its transcript is signed
 * with, then the script printed for review with its hash (hex and words), and only then Start.
 */
export function StartCeremony({ onStarted }: { onStarted: (id: string) => void }) {
  const queryClient = useQueryClient();
  const { slots, openLogin, activeSlot } = useTokens();
  const [form, setForm] = useState<ParamsForm>(EMPTY_PARAMS);
  const [slotPick, setSlotPick] = useState<number | null>(null);
  const [signingKeyId, setSigningKeyId] = useState('');
  const [review, setReview] = useState<CeremonyReview | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  const templates = useQuery({
    queryKey: ['ceremony', 'templates'],
    queryFn: () => mkm().ceremony.templates(),
  });
  const loggedIn = (slots.data ?? []).filter((s) => s.session.loggedIn);
  const slotId = slotPick ?? loggedIn[0]?.slotId ?? null;
  const keys = useQuery({
    queryKey: ['keys', 'list', slotId, 'private'],
    queryFn: () => mkm().keys.list({ slotId: slotId!, class: 'private' }),
    enabled: slotId !== null,
  });
  const signers = signingKeys(keys.data ?? []);
  const signer = signers.find((k) => k.id === signingKeyId) ?? signers[0] ?? null;

  const reviewer = useMutation({
    mutationFn: async () => {
      const parsed = paramsFromForm(form);
      if (!parsed.ok) {
        setProblem(parsed.message);
        return null;
      }
      setProblem(null);
      return mkm().ceremony.review(parsed.params);
    },
    onSuccess: (r) => setReview(r),
  });
  const starter = useMutation({
    mutationFn: () =>
      mkm().ceremony.start({ params: review!.script.params, slotId: slotId!, signingKeyId: signer!.id }),
    onSuccess: (view) => {
      void queryClient.invalidateQueries({ queryKey: ['ceremony', 'list'] });
      setReview(null);
      onStarted(view.id);
    },
  });

  // Any change makes the reviewed script stale: it is reviewed again before it can start.
  const change = (patch: Partial<ParamsForm>) => {
    setForm((f) => ({ ...f, ...patch }));
    setReview(null);
    starter.reset();
  };

  return (
    <section className="card" aria-labelledby="ceremony-new-title">
      <h2 id="ceremony-new-title" className="card-title">
        New ceremony
      </h2>
      {templates.error && <ErrorNotice error={templates.error} onRetry={() => void templates.refetch()} />}
      <form
        className="cer-params"
        onSubmit={(e) => {
          e.preventDefault();
          reviewer.mutate();
        }}
      >
        <div className="field">
          <label htmlFor="cer-template">Template</label>
          <select
            id="cer-template"
            value={form.template}
            onChange={(e) => change({ template: e.target.value as CeremonyTemplate })}
            aria-describedby="cer-template-what"
          >
            {(templates.data ?? [{ template: form.template, description: '' }]).map((t) => (
              <option key={t.template} value={t.template}>
                {t.template}
              </option>
            ))}
          </select>
          <p id="cer-template-what" className="muted small">
            {templates.data?.find((t) => t.template === form.template)?.description}
          </p>
        </div>
        <div className="cer-grid">
          {TEMPLATE_FIELDS[form.template].map((field) => (
            <div className="field" key={field}>
              <label htmlFor={`cer-${field}`}>{FIELD_LABELS[field]}</label>
              {field === 'keyType' ? (
                <select
                  id="cer-keyType"
                  value={form.keyType}
                  onChange={(e) => change({ keyType: e.target.value as ParamsForm['keyType'] })}
                >
                  {COMPONENT_KEY_TYPES.map((t) => (
                    <option key={t} value={t}>
                      {t}
                    </option>
                  ))}
                </select>
              ) : field === 'purpose' ? (
                <select
                  id="cer-purpose"
                  value={form.purpose}
                  onChange={(e) => change({ purpose: e.target.value as ParamsForm['purpose'] })}
                >
                  {CEREMONY_KEY_PURPOSES.map((p) => (
                    <option key={p} value={p}>
                      {PURPOSE_NAMES[p]}
                    </option>
                  ))}
                </select>
              ) : field === 'backup' ? (
                // M-of-N shares: the public record, loaded from its file or pasted; counts follow it.
                <BackupRecordField value={form.backup} onChange={change} />
              ) : (
                <input
                  id={`cer-${field}`}
                  value={form[field]}
                  inputMode={['components', 'shares', 'threshold'].includes(field) ? 'numeric' : 'text'}
                  spellCheck={false}
                  autoComplete="off"
                  onChange={(e) => change({ [field]: e.target.value })}
                />
              )}
            </div>
          ))}
        </div>
        <TokenAndSigner
          loggedIn={loggedIn.map((s) => ({ slotId: s.slotId, label: tokenLabel(s) }))}
          slotId={slotId}
          onSlot={(id) => {
            setSlotPick(id);
            setSigningKeyId('');
            setReview(null);
          }}
          signers={signers.map((k) => ({ id: k.id, label: k.label || k.id }))}
          signerId={signer?.id ?? ''}
          onSigner={setSigningKeyId}
          loadingKeys={keys.isPending && slotId !== null}
          onLogin={activeSlot ? () => openLogin(activeSlot.slotId) : null}
        />
        {keys.error && <ErrorNotice error={keys.error} />}
        {problem && (
          <p role="alert" className="notice notice-error">
            <span>{problem}</span>
          </p>
        )}
        {reviewer.error && <ErrorNotice error={reviewer.error} />}
        <div className="button-row">
          <button type="submit" disabled={reviewer.isPending}>
            Review the script
          </button>
        </div>
      </form>
      {review && (
        <ScriptReview
          review={review}
          canStart={slotId !== null && signer !== null}
          starting={starter.isPending}
          onStart={() => starter.mutate()}
        />
      )}
      {starter.error && <ErrorNotice error={starter.error} />}
    </section>
  );
}

function TokenAndSigner(props: {
  loggedIn: { slotId: number; label: string }[];
  slotId: number | null;
  onSlot: (slotId: number) => void;
  signers: { id: string; label: string }[];
  signerId: string;
  onSigner: (id: string) => void;
  loadingKeys: boolean;
  onLogin: (() => void) | null;
}) {
  if (props.loggedIn.length === 0) {
    return (
      <div className="notice notice-info" role="status">
        <span>
          Log in to the token the ceremony runs on: its transcript is signed there by one of its signing keys.
        </span>
        {props.onLogin && (
          <button type="button" className="primary push-right" onClick={props.onLogin}>
            Log in…
          </button>
        )}
      </div>
    );
  }
  return (
    <div className="cer-grid">
      <div className="field">
        <label htmlFor="cer-slot">Token</label>
        <select
          id="cer-slot"
          value={props.slotId ?? ''}
          onChange={(e) => props.onSlot(Number(e.target.value))}
        >
          {props.loggedIn.map((s) => (
            <option key={s.slotId} value={s.slotId}>
              {s.label}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="cer-signer">Transcript signing key</label>
        {props.loadingKeys ? (
          <Loading />
        ) : props.signers.length === 0 ? (
          <p className="empty" id="cer-signer">
            This token has no RSA signing key. Generate one on the Keys screen (purpose: Signing).
          </p>
        ) : (
          <select id="cer-signer" value={props.signerId} onChange={(e) => props.onSigner(e.target.value)}>
            {props.signers.map((k) => (
              <option key={k.id} value={k.id}>
                {k.label}
              </option>
            ))}
          </select>
        )}
      </div>
    </div>
  );
}

function ScriptReview({
  review,
  canStart,
  starting,
  onStart,
}: {
  review: CeremonyReview;
  canStart: boolean;
  starting: boolean;
  onStart: () => void;
}) {
  const { script, scriptHash } = review;
  return (
    <section className="cer-review" aria-label="Script for review">
      <h3>{script.title}</h3>
      <p className="muted small">
        {script.custodians} custodian{script.custodians === 1 ? '' : 's'}, an administrator and a witness.
        Print or read it aloud; the hash below is recorded when it starts.
      </p>
      <ol className="cer-steps">
        {script.steps.map((s) => (
          <li key={s.id}>
            <span>{s.title}</span>{' '}
            <span className="muted small">
              — {s.roles.map((r) => ROLE_NAMES[r]).join(' or ')}
              {s.dualControl ? ', confirmed by a second person' : ''}
            </span>
          </li>
        ))}
      </ol>
      <HashAloud label="Script hash" hex={scriptHash} testId="script-hash" />
      <div className="button-row">
        <button type="button" onClick={() => window.print()}>
          Print…
        </button>
        <button type="button" className="primary" disabled={!canStart || starting} onClick={onStart}>
          {starting ? 'Starting…' : 'Start the ceremony'}
        </button>
      </div>
    </section>
  );
}

// M-of-N shares
function BackupRecordField({
  value,
  onChange,
}: {
  value: string;
  onChange: (patch: Partial<ParamsForm>) => void;
}) {
  const take = (text: string) => {
    const record = backupRecordOf(text);
    onChange(
      record
        ? { backup: text, shares: String(record.backup.count), threshold: String(record.backup.threshold) }
        : { backup: text },
    );
  };
  const record = backupRecordOf(value);
  return (
    <>
      <input
        type="file"
        accept=".json,application/json"
        aria-label="Load the backup record file"
        onChange={(e) => {
          const file = e.currentTarget.files?.[0];
          if (file) void file.text().then(take);
        }}
      />
      <textarea
        id="cer-backup"
        className="mono small"
        rows={3}
        value={value}
        spellCheck={false}
        onChange={(e) => take(e.target.value)}
      />
      <p className="muted small" data-testid="backup-record-status">
        {value.trim() === ''
          ? 'No backup record yet.'
          : record
            ? `Backup ${record.backup.backupId.slice(0, 8)}…: ${record.backup.threshold} of ${record.backup.count} shares, ${record.key.keyType}, key check value ${record.key.kcvs[0]?.kcv.toUpperCase() ?? ''}.`
            : 'This is not a backup record mkm wrote.'}
      </p>
    </>
  );
}
